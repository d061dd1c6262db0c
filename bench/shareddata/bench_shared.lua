-- What an agent holding a large shared config table costs, for
-- sharetable, sharedata and datasheet. Runs unchanged on skynet and skylet.
-- Config keys: shared_lib (sharetable|sharedata|datasheet), agents,
-- records, touch (all: the agent walks the whole table; one: one record).
-- Launches `agents` agents that hold nothing, then `agents` that query the
-- table and touch it; reports the difference per agent.
local skynet = require "skynet"
require "skynet.manager"

local function num(key, default)
  return tonumber(skynet.getenv(key) or default)
end

local function rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return -1 end
  local status = f:read("a")
  f:close()
  return tonumber(status:match("VmRSS:%s*(%d+) kB")) or -1
end

local function config(records)
  local items = {}
  for i = 1, records do
    items[i] = {
      id = 1000 + i,
      name = "item_" .. i,
      price = i * 13 % 997,
      weight = i * 0.25,
      attrs = { hp = i % 100, mp = i % 50, speed = i % 7 },
      tags = { "tag" .. (i % 10), "tier" .. (i % 5) },
    }
  end
  return { version = 1, items = items }
end

local function launch(n, ...)
  local list = {}
  for i = 1, n do
    list[i] = skynet.newservice("shared_agent", ...)
  end
  return list
end

local function settle(list)
  local lua = 0
  for _, a in ipairs(list) do
    lua = lua + skynet.call(a, "lua", "mem")
  end
  skynet.sleep(20)
  return lua / #list
end

skynet.start(function()
  local lib = skynet.getenv("shared_lib") or "sharetable"
  local agents = num("agents", 50)
  local records = num("records", 5000)
  local touch = skynet.getenv("touch") or "all"
  local before_build = collectgarbage("count")
  local data = config(records)
  local table_kb = collectgarbage("count") - before_build
  if lib == "sharetable" then
    require("skynet.sharetable").loadtable("config", data)
  elseif lib == "sharedata" then
    require("skynet.sharedata").new("config", data)
  else
    require("skynet.datasheet.builder").new("config", data)
  end
  data = nil
  collectgarbage()
  launch(5, "idle", touch) -- warm up (daemons, caches)
  collectgarbage()
  skynet.sleep(20)
  local rss0 = rss_kb()
  local idle = launch(agents, "idle", touch)
  local idle_lua = settle(idle)
  local rss1 = rss_kb()
  local holders = launch(agents, lib, touch)
  local holder_lua = settle(holders)
  local rss2 = rss_kb()
  print(string.format(
    "BENCH shared lib=%s touch=%s records=%d agents=%d table_kb=%.0f rss_kb_per_agent=%.1f lua_kb_per_agent=%.1f idle_lua_kb=%.1f",
    lib, touch, records, agents, table_kb, (rss2 - rss1) / agents - (rss1 - rss0) / agents,
    holder_lua - idle_lua, idle_lua))
  skynet.abort()
end)
