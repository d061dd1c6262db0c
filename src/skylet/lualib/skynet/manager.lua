-- skynet.manager: launching raw services, killing, naming, aborting.
local skynet = require "skynet"
local command = require "skylet.core".command

function skynet.launch(...)
  local line = table.concat({ ... }, " ")
  local addr, err = command("LAUNCH", line)
  if addr == nil then
    skynet.error("launch failed: " .. tostring(err))
  end
  return addr, err
end

function skynet.kill(name)
  local addr = name
  if type(name) == "string" then
    addr = skynet.localname(name)
  end
  if addr then
    command("KILL", addr)
    skynet.send(".launcher", "lua", "REMOVE", addr, true)
  end
end

function skynet.abort()
  command("ABORT")
end

-- A name without a leading "." is global (skynet's harbor = 0: one node).
local function check_name(name)
  assert(type(name) == "string" and name ~= "", "a name is a non-empty string")
  assert(name:sub(1, 1) ~= ":", "a name can't start with ':'")
end

function skynet.register(name)
  check_name(name)
  command("REG", name)
end

function skynet.name(name, handle)
  check_name(name)
  command("NAME", name, handle)
end

local dispatch_message = skynet.dispatch_message

-- skynet.forward_type(map, start): messages of type t are dispatched as type
-- map[t] (a gate's client messages as lua, say); others as they are.
function skynet.forward_type(map, start_func)
  command("CALLBACK", function(ptype, session, source, msg)
    return dispatch_message(map[ptype] or ptype, session, source, msg)
  end)
  skynet.timeout(0, function()
    skynet.init_service(start_func)
  end)
end

-- skynet.filter(f, start): every message goes through
-- f(type, msg, sz, session, source) (skynet's order), which returns it,
-- changed or not, in the same order.
function skynet.filter(f, start_func)
  command("CALLBACK", function(ptype, session, source, msg)
    local t, m, _, s, src = f(ptype, msg, msg and #msg or 0, session, source)
    return dispatch_message(t, s, src, m)
  end)
  skynet.timeout(0, function()
    skynet.init_service(start_func)
  end)
end

-- skynet.monitor(name [, query]): a unique service (launched, or only
-- queried) that hears of every service exit: a client message from it.
function skynet.monitor(service, query)
  local monitor
  if query then
    monitor = skynet.queryservice(true, service)
  else
    monitor = skynet.uniqueservice(true, service)
  end
  assert(monitor, "Monitor launch failed")
  command("MONITOR", monitor)
  return monitor
end

return skynet
