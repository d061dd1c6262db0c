-- The demo's start service: a game server (gate + watchdog + one agent per
-- connection + a shared world), then a few scripted bots that connect to it
-- over TCP like any client (examples/client.py is one you can type into).
local skynet = require "skynet"
require "skynet.manager"

local format = string.format

local function play(host, port)
  local count = tonumber(skynet.getenv "demo_players" or 3)
  local bots, done, me = {}, 0, coroutine.running()
  for i = 1, count do
    bots[i] = skynet.newservice("bot", host, port, "hero" .. i)
  end
  for i = 1, count do
    skynet.fork(function()
      skynet.call(bots[i], "lua", "play", 3)
      done = done + 1
      if done == count then
        skynet.wakeup(me)
      end
    end)
  end
  if count > 0 then
    skynet.wait(me)
  end
  local online, score = skynet.call(".world", "lua", "stats")
  skynet.error(format("demo: %d players online, total score %d", online, score))
  local best = {}
  for i, entry in ipairs(skynet.call(skynet.queryservice("leaderboard"), "lua", "top", 3)) do
    best[i] = format("%s %d", entry.name, entry.score)
  end
  skynet.error("demo: leaderboard " .. table.concat(best, ", "))
  for i = 1, count do
    skynet.call(bots[i], "lua", "quit")
  end
end

skynet.start(function()
  skynet.uniqueservice("world")
  local watchdog = skynet.newservice("watchdog")
  local host, port = skynet.call(watchdog, "lua", "start", {
    address = skynet.getenv "demo_host" or "127.0.0.1",
    port = tonumber(skynet.getenv "demo_port" or 8888),
    maxclient = 1024,
  })
  skynet.error(format("demo: game server listening on %s:%d", host, port))
  -- The scripted part runs once the start function has returned (the node
  -- has booted by then).
  skynet.fork(function()
    play(host, port)
    if skynet.getenv "demo_exit" == "true" then
      skynet.error("demo: done")
      skynet.abort()
      return
    end
    skynet.error(format("demo: still serving; try  python examples/client.py %s %d", host, port))
  end)
end)
