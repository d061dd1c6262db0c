-- Launches `spawn` services that each require a ~1,000-line module (written
-- by bench/spawn.py); reports launch time and memory per service, with the
-- same figures as the shared bench_spawn.
local skynet = require "skynet"
require "skynet.manager"
local common = require "common"

skynet.start(function()
  local warm = common.num("spawn_warm", 20)
  local n = common.num("spawn", 500)
  local list = {}
  for i = 1, warm do list[i] = skynet.newservice("heavy") end
  collectgarbage()
  skynet.sleep(20)
  local rss0 = common.rss_kb()
  local t0 = skynet.hpc()
  for _ = 1, n do list[#list + 1] = skynet.newservice("heavy") end
  local secs = common.secs(t0)
  skynet.sleep(20)
  local rss1 = common.rss_kb()
  common.report("module", {
    services = n, secs = secs,
    us_per_service = secs * 1e6 / n,
    rss_kb_per_service = (rss1 - rss0) / n,
    lua_kb_per_service = skynet.call(list[#list], "lua", "mem"),
  })
  skynet.abort()
end)
