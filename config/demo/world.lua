-- A shared world: players join and score; everybody can ask for the totals.
local skynet = require "skynet"
local util = require "util"

local players = {}  -- address -> { name =, score = }
local CMD = {}

function CMD.join(source, name)
  players[source] = { name = name, score = 0 }
  skynet.error(string.format("world: %s joined from %s", name, skynet.address(source)))
  return util.count(players)
end

function CMD.score(source, points)
  local p = assert(players[source], "not joined")
  p.score = p.score + points
  return p.score
end

function CMD.stats()
  local total = 0
  for _, p in pairs(players) do total = total + p.score end
  return util.count(players), total
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    skynet.ret(skynet.pack(f(source, ...)))
  end)
end)
