-- The service the inject benchmark patches: state in upvalues, a CMD table.
local skynet = require "skynet"

local count = 0
local CMD = {}

local function bump(n)
  count = count + n
  return count
end

function CMD.incr(n)
  return bump(n or 1)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
