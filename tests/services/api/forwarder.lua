-- skynet.forward_type: client messages are dispatched as lua.
local skynet = require "skynet"
require "skynet.manager"

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
}

skynet.forward_type({ [skynet.PTYPE_CLIENT] = skynet.PTYPE_LUA }, function()
  skynet.dispatch("lua", function(_, _, ...)
    skynet.ret(skynet.pack("as lua", ...))
  end)
end)
