-- A snax service for tests/test_lib_snax.py.
local skynet = require "skynet"
local snax = require "skynet.snax"

local count = 0
local label = "?"
local log = {}

function init(name, start)
  label = name
  count = tonumber(start) or 0
end

function accept.add(n)
  count = count + n
end

function response.get()
  return label, count
end

function response.slow(ticks)
  skynet.sleep(ticks)
  return count
end

function response.fail()
  error("counter failed on purpose")
end

function accept.quit(...)
  snax.exit(...)
end

function exit(...)
  log[#log + 1] = table.concat({ ... }, ",")
  skynet.error("counter exits", ...)
end
