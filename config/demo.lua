-- A small game server: `skylet run config/demo.lua` from the repository root.
-- skynet's config format: `key = value` lines and `include "file"`; a dollar sign before a name substitutes an environment variable.
thread = 1
harbor = 0
start = "main"
luaservice = "./config/demo/?.lua"
lua_path = "./config/demo/?.lua"
pyservice = "./config/demo/?.py"      -- Python services (the leaderboard)
-- Keys of your own are readable with skynet.getenv.
demo_host = "127.0.0.1" -- where the gate listens
demo_port = 8888        -- 0: let the OS pick a free port
demo_players = 3        -- scripted bots that play over TCP at start
