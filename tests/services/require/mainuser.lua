-- Requires initmod in its main chunk: the init waits for skynet.start.
local skynet = require "skynet"
local initmod = require "initmod"
local seen_at_main = table.concat(initmod.order, ",")
skynet.start(function()
  local seen_at_start = table.concat(initmod.order, ",")
  skynet.dispatch("lua", function()
    skynet.retpack(seen_at_main, seen_at_start)
  end)
end)
