-- A Lua service that calls Python services for the tests.
local skynet = require "skynet"
require "skynet.manager"

local CMD = {}

function CMD.newservice(name, ...) return skynet.newservice(name, ...) end
function CMD.uniqueservice(name, ...) return skynet.uniqueservice(name, ...) end
function CMD.call(addr, ...) return skynet.call(addr, "lua", ...) end
function CMD.pcall(addr, ...) return pcall(skynet.call, addr, "lua", ...) end
function CMD.send(addr, ...) skynet.send(addr, "lua", ...) return true end
function CMD.sendmany(addr, n, cmd)
  for i = 1, n do skynet.send(addr, "lua", cmd, i) end
  return true
end
function CMD.echo(...) return ... end
function CMD.types(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[i] = math.type(v) or type(v)
  end
  return table.concat(out, ",")
end
function CMD.rettypes(addr, ...) return CMD.types(skynet.call(addr, "lua", ...)) end
function CMD.count(addr, ...) return select("#", skynet.call(addr, "lua", ...)) end
function CMD.kill(addr) skynet.kill(addr) return true end
function CMD.sleep(ticks) skynet.sleep(ticks) return skynet.now() end
function CMD.nested(addr)
  local t = skynet.call(addr, "lua", "echo", { a = 1, list = { 1, 2, { deep = true } } }, "\xff\x00bin")
  return t.a, #t.list, t.list[3].deep
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], "caller: unknown command")
    skynet.ret(skynet.pack(f(...)))
  end)
end)
