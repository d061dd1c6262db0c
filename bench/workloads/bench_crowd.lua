-- bench_flood's one-way messages, with `idle` idle services launched first:
-- does the cost of a message grow with the number of services present?
local skynet = require "skynet"
require "skynet.manager"
local common = require "common"

skynet.start(function()
  local idle = common.num("idle", 10000)
  local n = common.num("flood", 500000)
  local crowd = {}
  local s0 = skynet.hpc()
  for i = 1, idle do crowd[i] = skynet.newservice("idle") end
  local spawn_secs = common.secs(s0)
  local done, waiting = false, nil
  skynet.dispatch("lua", function()
    done = true
    if waiting then skynet.wakeup(waiting) end
  end)
  local sink = skynet.newservice("sink", n, skynet.self())
  local t0 = skynet.hpc()
  for i = 1, n do
    skynet.send(sink, "lua", "move", { id = i, x = 1.5, y = -2, tag = "unit" })
  end
  if not done then
    waiting = coroutine.running()
    skynet.wait(waiting)
  end
  local secs = common.secs(t0)
  common.report("crowd", {
    idle = idle, messages = n, secs = secs, spawn_secs = spawn_secs,
    msgs_per_s = math.floor(n / secs),
  })
  skynet.abort()
end)
