-- Cluster bench client (skynet's API only). Calls node "server":
--   calls: `calls` small calls ("ping", i, "x") from `concurrency` coroutines
--   bytes: `bigcalls` calls carrying a `bigsize`-byte string each
-- Prints "BENCH calls <n> <seconds>" and "BENCH bytes <n> <seconds>", aborts.
local skynet = require "skynet"
local cluster = require "skynet.cluster"
require "skynet.manager"

local function env(key, default)
  return tonumber(skynet.getenv(key)) or default
end

local function run(total, concurrency, ...)
  local args = table.pack(...)
  local done, me = 0, coroutine.running()
  local per = total // concurrency
  for _ = 1, concurrency do
    skynet.fork(function()
      for _ = 1, per do
        cluster.call("server", "@echo", table.unpack(args, 1, args.n))
      end
      done = done + 1
      if done == concurrency then
        skynet.wakeup(me)
      end
    end)
  end
  local t0 = skynet.hpc()
  skynet.wait(me)
  return per * concurrency, (skynet.hpc() - t0) / 1e9
end

skynet.start(function()
  cluster.call("server", "@echo", "ping", 0, "warm")
  local n, secs = run(env("calls", 20000), env("concurrency", 16), "ping", 1, "x")
  print(("BENCH calls %d %.6f"):format(n, secs))
  local size = env("bigsize", 65536)
  local payload = string.rep("p", size)
  n, secs = run(env("bigcalls", 2000), env("concurrency", 16), "size", payload)
  print(("BENCH bytes %d %.6f"):format(n * size, secs))
  skynet.abort()
end)
