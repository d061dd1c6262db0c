-- clusterproxy: a local address standing for a service on another node
-- (skynet's service/clusterproxy.lua), made by cluster.proxy(node, name).
-- A send to it is a cluster push, a call a cluster call. "lua" and "snax"
-- messages are forwarded as they are (skynet.forward_type maps both to a
-- "system" dispatch that does not unpack them); the remote service gets
-- them as "lua" (a snax service answers those after snax.enablecluster()).
local skynet = require "skynet"
require "skynet.manager" -- skynet.forward_type

local node, address = ...
address = tonumber(address) or address

skynet.register_protocol {
  name = "system",
  id = skynet.PTYPE_SYSTEM,
  unpack = function(...) return ... end,
}

local forward_map = {
  [skynet.PTYPE_SNAX] = skynet.PTYPE_SYSTEM,
  [skynet.PTYPE_LUA] = skynet.PTYPE_SYSTEM,
  [skynet.PTYPE_RESPONSE] = skynet.PTYPE_RESPONSE,
}

skynet.forward_type(forward_map, function()
  local clusterd = skynet.uniqueservice("clusterd")
  local sender = skynet.call(clusterd, "lua", "sender", node)
  skynet.dispatch("system", function(session, _, msg)
    if session == 0 then
      skynet.send(sender, "lua", "push", address, msg)
    else
      skynet.ret(skynet.rawcall(sender, "lua", skynet.pack("req", address, msg)))
    end
  end)
end)
