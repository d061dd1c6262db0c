-- A service in the middle of ordinary work (a forked coroutine asleep, a
-- call in flight, a socket listening) that walks everything it can reach.
local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"
local queue = require "skynet.queue"
local walker = require "walker"

local CMD = {}
local cs = queue()

function CMD.walk()
  local core = require "skylet.core"
  return walker.walk({ core = core, cs = cs, debugger = skynet.debug }, { [core.send] = "core.send" })
end

skynet.start(function()
  local id = socket.listen("127.0.0.1", 0)
  socket.start(id, function() end)
  skynet.fork(function() skynet.sleep(100000) end)
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
  -- the rarer API and the debug protocol, loaded as a long-lived service has them
  skynet.now()
  pcall(skynet.response)
end)
