-- Holds every "hold" request until "release": keeps a caller waiting in a call.
local skynet = require "skynet"

local held = {}

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd)
    if cmd == "hold" then
      held[#held + 1] = skynet.response()
    elseif cmd == "held" then
      skynet.retpack(#held)
    elseif cmd == "release" then
      for _, response in ipairs(held) do
        response(true)
      end
      held = {}
      skynet.retpack(true)
    end
  end)
end)
