-- Node "db" of the two-node cluster example: run it first, from the
-- repository root: `skylet run config/cluster/db.lua`.
thread = 1
start = "db_main"
luaservice = "./config/cluster/service/?.lua"
cluster = "./config/cluster/clustername.lua"
