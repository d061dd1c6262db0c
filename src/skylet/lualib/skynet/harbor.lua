-- skynet.harbor on a single node (skynet's harbor = 0): global names live
-- in the node itself, there is no other harbor to link or connect to.
local skynet = require "skynet"
local command = require "skylet.core".command

local harbor = {}

function harbor.globalname(name, handle)
  command("NAME", name, handle or skynet.self())
end

-- The address of a name; a global name nobody registered yet waits for it
-- (skynet.term(name) gives up).
function harbor.queryname(name)
  if name:byte() == 46 then -- ".", a local name
    return skynet.localname(name)
  end
  local inner = require "skylet.inner"
  inner.check_callable()
  local session = inner.gen_session()
  local handle = command("QUERYNAME", name, session)
  if handle then
    return handle
  end
  return (skynet.unpack(inner.yield_call(name, session)))
end

-- Harbor 0 is this node: linking to it returns at once.
function harbor.link(id) end

function harbor.linkmaster() end

function harbor.connect(id)
  skynet.error("Can't connect to other harbor in single node mode")
end

return harbor
