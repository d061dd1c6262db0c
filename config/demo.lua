-- A small demo node: `skylet run config/demo.lua` from the repository root.
-- skynet's config format: `key = value` lines and `include "file"`; a dollar sign before a name substitutes an environment variable.
thread = 1
harbor = 0
start = "main"
luaservice = "./config/demo/?.lua"
lua_path = "./config/demo/?.lua"
-- Keys of your own are readable with skynet.getenv.
demo_players = 3
