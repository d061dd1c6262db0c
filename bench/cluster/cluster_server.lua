-- Cluster bench server (skynet's API only: runs on skynet and skylet): an
-- echo service named "@echo", and the cluster port of node `cluster_self`.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
  local echo = skynet.newservice("cluster_echo")
  cluster.register("echo", echo)
  cluster.open(skynet.getenv "cluster_self")
  print("READY")
end)
