-- Runs away wherever a test tells it to: in a handler, in coroutines the
-- service creates itself, in dispatch code outside any coroutine. Also
-- reports which hook is installed, and churns coroutines for stress tests.
local skynet = require "skynet"

local hook_at_top = tostring((debug.gethook()))

-- Loops for seconds (a JMP back each turn, like `while true do end`), and
-- returns if nothing interrupted it, so that a broken watchdog fails a test
-- instead of hanging it.
local function spin()
  local n = 0
  while n < 3e8 do n = n + 1 end
  return "not interrupted"
end

local CMD = {}

function CMD.echo(...) return ... end

function CMD.loop() return spin() end

function CMD.wrap() return coroutine.wrap(spin)() end

function CMD.create()
  local co = coroutine.create(spin)
  return assert(coroutine.resume(co))
end

-- A coroutine inside a coroutine inside the handler.
function CMD.nested()
  return coroutine.wrap(function()
    return assert(coroutine.resume(coroutine.create(spin)))
  end)()
end

-- The loop keeps resuming a coroutine that yields at once: the interrupt
-- may land in either, and must not get lost in between.
function CMD.pingpong()
  local co = coroutine.wrap(function() while true do coroutine.yield() end end)
  for _ = 1, 1e7 do co() end
  return "not interrupted"
end

function CMD.hooks()
  local in_coroutine = coroutine.wrap(function() return tostring((debug.gethook())) end)()
  local co = coroutine.create(function() coroutine.yield(tostring((debug.gethook()))) end)
  local _, in_created = coroutine.resume(co)
  return hook_at_top, tostring((debug.gethook())), in_coroutine, in_created
end

-- n rounds of coroutine life: create, resume to death, wrap, let them die.
function CMD.churn(n)
  for i = 1, n do
    local co = coroutine.create(function(a)
      local sum = a
      for j = 1, 5 do sum = sum + coroutine.yield(j) end
      return sum
    end)
    local _, v = coroutine.resume(co, i)
    while coroutine.status(co) ~= "dead" do _, v = coroutine.resume(co, v) end
    local w = coroutine.wrap(function(x) return coroutine.yield(x) end)
    w(i)
    w(i)
    if i % 50 == 0 then collectgarbage() end
  end
  return n
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = CMD[cmd]
    if not f then error("loopy: unknown command " .. tostring(cmd)) end
    skynet.ret(skynet.pack(f(...)))
  end)
  -- "client" messages are unpacked in the dispatch code, outside coroutines.
  skynet.register_protocol {
    name = "client",
    id = skynet.PTYPE_CLIENT,
    unpack = function(msg)
      if msg == "loop" then return spin() end
      return msg
    end,
    dispatch = function(session, source, msg) skynet.ret(msg) end,
  }
end)
