-- A service whose state lives in upvalues, as real services keep it: the
-- hotfix tests change its logic and check the state survives.
local skynet = require "skynet"
local rules = require "rules"

local count = 0
local step = 1
local CMD = {}

local function bump(n)
  count = rules.cap(count + n * step)
  return count
end

-- Two different variables both called `total`, reachable from CMD.both.
local add_total = (function()
  local total = 0
  return function(x) total = total + x return total end
end)()
local sub_total = (function()
  local total = 0
  return function(x) total = total - x return total end
end)()

function CMD.incr(n)
  return bump(n or 1)
end

function CMD.get()
  return count
end

function CMD.setstep(s)
  step = s
end

function CMD.both(x)
  return add_total(x), sub_total(x)
end

function CMD.global(name)
  return _G[name]
end

-- Waits in a call to the blocker, then answers with what CMD.get says then.
function CMD.slow(blocker)
  skynet.call(blocker, "lua", "hold")
  return CMD.get()
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = CMD[cmd]
    if f == nil then
      error("counter: unknown command " .. tostring(cmd))
    end
    skynet.retpack(f(...))
  end)
end)
