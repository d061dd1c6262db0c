-- A monitor (skynet.monitor): hears of every exit as a client message.
local skynet = require "skynet"

local exited = {}

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = function() end,
  dispatch = function(_, source)
    exited[#exited + 1] = source
  end,
}

skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.ret(skynet.pack(exited))
  end)
end)
