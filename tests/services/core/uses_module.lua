local skynet = require "skynet"
local greet = require "greet"
skynet.start(function()
  skynet.dispatch("lua", function(session, source, who)
    skynet.ret(skynet.pack(greet.hello(who)))
  end)
end)
