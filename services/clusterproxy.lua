-- clusterproxy: a local address standing for a service on another node
-- (skynet's service/clusterproxy.lua), made by cluster.proxy(node, name).
-- A send to it is a cluster push, a call a cluster call; "lua" messages
-- only (skynet also forwards snax, which skylet does not have).
local skynet = require "skynet"

local node, address = ...
address = tonumber(address) or address

skynet.start(function()
  local clusterd = skynet.uniqueservice("clusterd")
  local sender = skynet.call(clusterd, "lua", "sender", node)
  skynet.dispatch("lua", function(session, _, ...)
    local msg = skynet.pack(...)
    if session == 0 then
      skynet.send(sender, "lua", "push", address, msg)
    else
      skynet.ret(skynet.rawcall(sender, "lua", skynet.pack("req", address, msg)))
    end
  end)
end)
