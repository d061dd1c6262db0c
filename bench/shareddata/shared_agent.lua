-- An agent for bench_shared: holds the shared config (or nothing) and
-- touches all of it or one record; answers "mem" (Lua KB after a full GC).
local skynet = require "skynet"

local lib, touch = ...
HELD = nil -- global: the agent keeps what it holds

local function walk(t, depth)
  local n = 0
  for _, v in pairs(t) do
    n = n + 1
    if type(v) == "table" and depth < 8 then
      n = n + walk(v, depth + 1)
    end
  end
  return n
end

local function hold()
  if lib == "sharetable" then
    HELD = require("skynet.sharetable").query("config")
  elseif lib == "sharedata" then
    HELD = require("skynet.sharedata").query("config")
  elseif lib == "datasheet" then
    HELD = require("skynet.datasheet").query("config")
  else
    return
  end
  if touch == "all" then
    assert(walk(HELD, 1) > 0)
  else
    assert(HELD.items[17].attrs.hp == 17)
  end
end

skynet.start(function()
  hold()
  skynet.dispatch("lua", function(_, _, cmd)
    assert(cmd == "mem")
    collectgarbage()
    collectgarbage()
    skynet.ret(skynet.pack(collectgarbage("count")))
  end)
end)
