-- A module whose main function waits (as one calling skynet.call would).
local skynet = require "skynet"
LOADS = (LOADS or 0) + 1
skynet.sleep(10)
local M = { loaded_at = skynet.now() }
skynet.init(function() M.inited = true end)
return M
