-- Node "game" of the two-node cluster example: `skylet run
-- config/cluster/game.lua` (from the repository root) once "db" runs.
thread = 1
start = "game_main"
luaservice = "./config/cluster/service/?.lua"
cluster = "./config/cluster/clustername.lua"
cluster_call_timeout = 5 -- seconds; a call unanswered by then raises
