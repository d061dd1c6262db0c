-- Answers "wait" only after `ticks`; "hold" waits on a call it never finishes.
local skynet = require "skynet"
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, arg)
    if cmd == "wait" then
      skynet.sleep(arg)
      skynet.ret(skynet.pack("waited"))
    elseif cmd == "deferred" then
      local reply = skynet.response()
      skynet.timeout(arg, function() reply(true, "later") end)
    elseif cmd == "forget" then
      return -- never answers
    elseif cmd == "exit_later" then
      skynet.timeout(arg, function() skynet.exit() end)
      skynet.ret(skynet.pack(true))
    end
  end)
end)
