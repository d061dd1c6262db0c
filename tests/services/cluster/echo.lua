-- The service other nodes call in the cluster tests.
local skynet = require "skynet"

local pushed = {}
local CMD = {}

function CMD.echo(...)
  return ...
end

function CMD.whoami()
  return skynet.getenv "cluster_self"
end

function CMD.big(n)
  return string.rep("b", n)
end

function CMD.len(s)
  return #s, s:sub(1, 4), s:sub(-4)
end

function CMD.fail(why)
  error(why)
end

function CMD.push(i)
  pushed[#pushed + 1] = i
end

function CMD.pushed()
  return pushed
end

function CMD.slow(ticks)
  skynet.sleep(ticks)
  return "slept"
end

function CMD.types(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[i] = math.type(v) or type(v)
  end
  return table.concat(out, ","), select("#", ...)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = assert(CMD[cmd], "no such command")
    if session == 0 then
      f(...)
    else
      skynet.retpack(f(...))
    end
  end)
end)
