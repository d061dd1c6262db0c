-- Redis round trips through skynet.db.redis (socketchannel), as a start
-- service: runs unchanged on skylet and on skynet. Config keys:
-- redis_port, redis_n (requests per case). Prints "case ops_per_s" lines,
-- then stops the node.
local skynet = require "skynet"
require "skynet.manager"
local redis = require "skynet.db.redis"

local port = tonumber(skynet.getenv "redis_port")
local n = tonumber(skynet.getenv "redis_n" or 20000)

local function rate(name, count, f)
  local t0 = skynet.hpc()
  f()
  local seconds = (skynet.hpc() - t0) / 1e9
  print(string.format("%s %.0f", name, count / seconds))
end

skynet.start(function()
  local db = redis.connect { host = "127.0.0.1", port = port }
  db:set("bench:key", "xxx")
  -- one request at a time (redis-benchmark -c 1 -P 1)
  rate("ping", n, function() for _ = 1, n do db:ping() end end)
  rate("set", n, function() for _ = 1, n do db:set("bench:key", "xxx") end end)
  rate("get", n, function() for _ = 1, n do db:get("bench:key") end end)
  -- 16 commands per write (redis-benchmark -c 1 -P 16)
  local ops = {}
  for i = 1, 16 do
    ops[i] = { "set", "bench:key", "xxx" }
  end
  rate("set_pipeline16", n, function() for _ = 1, n // 16 do db:pipeline(ops) end end)
  local gets = {}
  for i = 1, 16 do
    gets[i] = { "get", "bench:key" }
  end
  rate("get_pipeline16", n, function() for _ = 1, n // 16 do db:pipeline(gets, {}) end end)
  -- 16 coroutines sharing the connection: socketchannel keeps 16 in flight
  rate("get_16_coroutines", n, function()
    local me, done = coroutine.running(), 0
    for _ = 1, 16 do
      skynet.fork(function()
        for _ = 1, n // 16 do db:get("bench:key") end
        done = done + 1
        if done == 16 then skynet.wakeup(me) end
      end)
    end
    skynet.wait(me)
  end)
  db:disconnect()
  skynet.abort()
end)
