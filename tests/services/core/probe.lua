-- A test service that does what it is told; tests drive it with node.call.
local skynet = require "skynet"
require "skynet.manager"

local name = ...
local received = {}
local CMD = {}

function CMD.echo(...) return ... end
function CMD.count(...) return select("#", ...) end
function CMD.types(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[i] = math.type(v) or type(v)
  end
  return table.concat(out, ",")
end
function CMD.call(addr, ...) return skynet.call(addr, "lua", ...) end
function CMD.pcall(addr, ...)
  local ok, err = pcall(skynet.call, addr, "lua", ...)
  return ok, err
end
function CMD.send(addr, ...) return skynet.send(addr, "lua", ...) end
function CMD.record(x) received[#received + 1] = x end
function CMD.received() return received end
function CMD.raise(msg) error(msg) end
function CMD.exit() skynet.exit() end
function CMD.sleep(ticks) skynet.sleep(ticks) return skynet.now() end
function CMD.now() return skynet.now() end
function CMD.getenv(k) return skynet.getenv(k) end
function CMD.setenv(k, v) skynet.setenv(k, v) return true end
function CMD.newservice(svc, ...) return skynet.newservice(svc, ...) end
function CMD.self() return skynet.self() end
function CMD.name() return name end
function CMD.loop() while true do end end
function CMD.bomb()
  local t = {}
  for i = 1, math.huge do t[i] = string.rep("x", 1024) .. i end
end
function CMD.memlimit(bytes) skynet.memlimit(bytes) return true end
function CMD.kill(addr) skynet.kill(addr) return true end
function CMD.register(n) skynet.register(n) return true end
function CMD.localname(n) return skynet.localname(n) end
function CMD.eval(code)
  -- Runs test-supplied Lua inside this service (text only, as any load).
  return assert(load(code, "=eval"))()
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = CMD[cmd]
    if not f then error("probe: unknown command " .. tostring(cmd)) end
    if session == 0 then
      f(...)
    else
      skynet.ret(skynet.pack(f(...)))
    end
  end)
  if name and name:sub(1, 1) == "." then
    skynet.register(name)
  end
end)
