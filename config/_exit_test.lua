include "demo.lua"
demo_exit = true
