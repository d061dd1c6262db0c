-- The shared world: players join through their agents, score, and talk to
-- everybody; anyone can ask for the totals.
local skynet = require "skynet"
require "skynet.manager"
local util = require "util"

local players = {} -- agent address -> { name =, score = }
local total = 0    -- every point scored, including by players who left
local leaderboard  -- a Python service (config/demo/leaderboard.py)
local CMD = {}

function CMD.join(agent, name)
  players[agent] = { name = name, score = 0 }
  skynet.error(string.format("world: %s joined", name))
  return util.count(players)
end

function CMD.leave(agent)
  local p = players[agent]
  if p then
    players[agent] = nil
    skynet.error(string.format("world: %s left with %d points", p.name, p.score))
  end
end

function CMD.score(agent, points)
  local p = assert(players[agent], "not joined")
  p.score = p.score + points
  total = total + points
  skynet.send(leaderboard, "lua", "record", p.name, p.score)
  return p.score
end

function CMD.say(agent, text)
  local p = assert(players[agent], "not joined")
  local heard = 0
  for other in pairs(players) do
    skynet.send(other, "lua", "push", p.name .. " says: " .. text)
    heard = heard + 1
  end
  return heard
end

function CMD.stats()
  return util.count(players), total
end

skynet.start(function()
  leaderboard = skynet.uniqueservice("leaderboard")
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    if cmd == "leave" then
      return f(source, ...)
    end
    skynet.ret(skynet.pack(f(source, ...)))
  end)
  skynet.register(".world")
end)
