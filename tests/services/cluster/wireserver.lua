-- A cluster node for the raw wire tests: `echo` registered as "@echo" and as
-- .echo, the cluster listening on 127.0.0.1:0. Answers the port and echo's
-- address.
local skynet = require "skynet"
local cluster = require "skynet.cluster"
require "skynet.manager"

local port, echo

skynet.start(function()
  echo = skynet.newservice("echo")
  skynet.name(".echo", echo)
  cluster.register("echo", echo)
  cluster.reload { self = "127.0.0.1:0" } -- port 0: the OS picks one
  _, port = cluster.open "self"
  skynet.dispatch("lua", function()
    skynet.retpack(port, echo)
  end)
end)
