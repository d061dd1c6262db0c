-- A start function that fills the service's memory and keeps it (a global
-- holds it), then fails: the launcher must still hear that it failed.
local skynet = require "skynet"
skynet.memlimit(1024 * 1024)
skynet.start(function()
  HOARD = {}
  pcall(function() while true do HOARD[#HOARD + 1] = {} end end)
  error(string.rep("failed to start ", 100))
end)
