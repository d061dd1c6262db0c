-- skynet.service: a unique service made from a function, as skynet's.
-- `service.new(name, mainfunc, ...)` runs mainfunc (which calls skynet.start)
-- as the main chunk of a new service named `name`, once per node; later calls
-- return the same address. `service.query(name)` waits until it exists.
local skynet = require "skynet"
local command = require "skylet.core".command

local service = {}
local cache = {}
local provider

local function get_provider()
  provider = provider or skynet.uniqueservice("service_provider")
  return provider
end

local function check(func)
  -- The function runs in another VM: only globals travel with it.
  local i = 1
  while true do
    local name = debug.getupvalue(func, i)
    if name == nil then
      return
    end
    if name ~= "_ENV" then
      error(string.format("service.new: the main function may use globals only, not the upvalue '%s'", name), 3)
    end
    i = i + 1
  end
end

function service.new(name, mainfunc, ...)
  local address = cache[name]
  if address then
    return address
  end
  assert(type(name) == "string" and type(mainfunc) == "function",
    "service.new(name, mainfunc, ...) needs a name and a function")
  check(mainfunc)
  address = skynet.call(get_provider(), "lua", "launch", name, command("DUMPFUNC", mainfunc), ...)
  cache[name] = address
  return address
end

function service.query(name)
  local address = cache[name]
  if address then
    return address
  end
  address = skynet.call(get_provider(), "lua", "query", name)
  cache[name] = address
  return address
end

return service
