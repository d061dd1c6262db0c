-- Start service of a cluster test node: an `echo` service registered as
-- .echo and as cluster name "echo", then the cluster port of the node named
-- by config `cluster_self`; a `caller` (cluster name "caller") lets a test
-- make this node call others; the snax service `snaxcounter` (cluster name
-- "snaxcounter"). Prints "READY <port>" once it listens.
local skynet = require "skynet"
local cluster = require "skynet.cluster"
local snax = require "skynet.snax"
require "skynet.manager"

skynet.start(function()
  local echo = skynet.newservice("echo")
  skynet.name(".echo", echo)
  cluster.register("echo", echo)
  cluster.register("caller", skynet.newservice("caller"))
  cluster.register("snaxcounter", snax.uniqueservice("snaxcounter").handle)
  local _, port = cluster.open(skynet.getenv "cluster_self")
  print("READY " .. tostring(port))
end)
