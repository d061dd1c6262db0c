-- An idle service: it only answers the debug protocol, as every service does.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, source)
    skynet.retpack(true)
  end)
end)
