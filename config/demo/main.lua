-- The demo's start service: launches a world and some players, and lets them talk.
local skynet = require "skynet"

skynet.start(function()
  local world = skynet.uniqueservice("world")
  local players = {}
  for i = 1, tonumber(skynet.getenv "demo_players") do
    players[i] = skynet.newservice("player", "hero" .. i)
  end
  for round = 1, 3 do
    for _, p in ipairs(players) do
      skynet.send(p, "lua", "act", round)
    end
    skynet.sleep(10)
  end
  local online, score = skynet.call(world, "lua", "stats")
  skynet.error(string.format("demo: %d players online, total score %d", online, score))
  if skynet.getenv "demo_exit" == "true" then
    require "skynet.manager"
    skynet.abort()
  end
  skynet.error("demo: node keeps running; press Ctrl-C to stop")
end)
