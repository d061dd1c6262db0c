-- To-be-closed variables in every situation a coroutine can end in.
local skynet = require "skynet"

local function guard(name)
  return setmetatable({}, { __close = function(_, err)
    skynet.error("closed " .. name .. (err and (" by " .. tostring(err):match("[^:]+$")) or ""))
  end })
end

local CMD = {}

function CMD.raise()
  local g <close> = guard("raise")
  error("boom")
end

function CMD.wait()
  local g <close> = guard("request waiting")
  skynet.wait()
end

function CMD.exit()
  skynet.fork(function()
    local g <close> = guard("fork waiting")
    skynet.wait()
  end)
  skynet.fork(function()
    local g <close> = guard("fork sleeping")
    skynet.sleep(1000)
  end)
  skynet.fork(function()
    local g <close> = guard("fork calling")
    skynet.call(skynet.self(), "lua", "wait")
  end)
  skynet.sleep(1)
  skynet.fork(function()
    local g <close> = guard("never ran")
  end)
  local g <close> = guard("exiting")
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
