-- Adds a debug command of its own.
local skynet = require "skynet"
local debug = require "skynet.debug"

debug.reg_debugcmd("HELLO", function(who)
  skynet.ret(skynet.pack("hello " .. who))
end)

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "park" then
      skynet.sleep(1000)
    end
    skynet.ret(skynet.pack(true))
  end)
end)
