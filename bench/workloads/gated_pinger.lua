-- Waits for "go", then makes `n` sequential calls to `target` and reports
-- to `reporter` (bench_pairs starts all its pairs at once this way).
local skynet = require "skynet"

local target, n, reporter = ...
target, n, reporter = tonumber(target), tonumber(n), tonumber(reporter)

skynet.start(function()
  skynet.dispatch("lua", function()
    local v = 0
    for _ = 1, n do
      v = skynet.call(target, "lua", "ping", v)
    end
    skynet.send(reporter, "lua", "done", v)
  end)
end)
