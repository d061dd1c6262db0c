-- A start function that runs out of memory in its own locals.
local skynet = require "skynet"
skynet.memlimit(1024 * 1024)
skynet.start(function()
  local hoard = {}
  while true do hoard[#hoard + 1] = {} end
end)
