-- `pairs` pinger/pong pairs make `calls` sequential skynet.call round trips
-- each. Unlike bench_pingpong, every pair is launched before the clock
-- starts and all start together, so the figure is message throughput as the
-- number of pairs grows (1 to thousands), without the launches in it.
local skynet = require "skynet"
require "skynet.manager"
local common = require "common"

skynet.start(function()
  local npairs = common.num("pairs", 16)
  local calls = common.num("calls", 1000)
  local done = 0
  local waiting
  skynet.dispatch("lua", function()
    done = done + 1
    if done == npairs and waiting then skynet.wakeup(waiting) end
  end)
  local s0 = skynet.hpc()
  local pingers = {}
  for i = 1, npairs do
    local pong = skynet.newservice("pong")
    pingers[i] = skynet.newservice("gated_pinger", pong, calls, skynet.self())
  end
  local spawn_secs = common.secs(s0)
  local t0 = skynet.hpc()
  for i = 1, npairs do skynet.send(pingers[i], "lua", "go") end
  if done < npairs then
    waiting = coroutine.running()
    skynet.wait(waiting)
  end
  local secs = common.secs(t0)
  common.report("pairs", {
    pairs = npairs, calls = calls, secs = secs, spawn_secs = spawn_secs,
    roundtrips_per_s = math.floor(npairs * calls / secs),
  })
  skynet.abort()
end)
