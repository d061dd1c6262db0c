-- Calls a service n times in a row and answers the seconds it took.
local skynet = require "skynet"

local CMD = {}

function CMD.run(target, n)
  local call = skynet.call
  local t0 = skynet.hpc()
  for i = 1, n do
    call(target, "lua", "ping", i)
  end
  return (skynet.hpc() - t0) / 1e9
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
