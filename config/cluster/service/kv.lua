-- A key-value store: set(key, value) -> old value; get(key) -> value;
-- incr(key) -> new value; a send of "log" prints a line.
local skynet = require "skynet"

local store = {}
local CMD = {}

function CMD.set(key, value)
  local old = store[key]
  store[key] = value
  return old
end

function CMD.get(key)
  return store[key]
end

function CMD.incr(key)
  store[key] = (store[key] or 0) + 1
  return store[key]
end

function CMD.log(text)
  skynet.error("kv log:", text)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], "kv: unknown command")
    if session == 0 then
      f(...)
    else
      skynet.retpack(f(...))
    end
  end)
end)
