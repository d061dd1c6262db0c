-- A player: joins the world at start, then scores a point each time it acts.
local skynet = require "skynet"

local name = ...
local world

skynet.start(function()
  world = skynet.queryservice("world")
  local online = skynet.call(world, "lua", "join", name)
  skynet.error(string.format("%s: joined, %d online", name, online))
  skynet.dispatch("lua", function(session, source, cmd, round)
    if cmd == "act" then
      local score = skynet.call(world, "lua", "score", round)
      skynet.error(string.format("%s: round %d, score %d", name, round, score))
    end
  end)
end)
