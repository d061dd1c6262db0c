-- Node "db": a key-value store other nodes reach as "@kv", and the
-- node's cluster port (db's address in clustername.lua).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
  local kv = skynet.newservice("kv")
  cluster.register("kv", kv)
  cluster.open "db"
  skynet.error("db: ready; kv is", skynet.address(kv))
end)
