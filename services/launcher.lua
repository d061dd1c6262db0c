-- Launches Lua services for skynet.newservice and answers the caller once the
-- new service's start function has returned (LAUNCHOK) or failed (ERROR).
local skynet = require "skynet"
require "skynet.manager"

local services = {}  -- address -> "name args"
local instance = {}  -- address -> response to the newservice caller
local command = {}
local NORET = {}

local function list()
  local result = {}
  for addr, line in pairs(services) do
    result[skynet.address(addr)] = line
  end
  return result
end

function command.LIST()
  return list()
end

local function each_debug(cmd)
  local result = {}
  for addr, line in pairs(services) do
    local ok, value = pcall(skynet.call, addr, "debug", cmd)
    result[skynet.address(addr)] = ok and value or ("ERROR: " .. tostring(value))
  end
  return result
end

function command.STAT()
  return each_debug("STAT")
end

function command.MEM()
  local result = {}
  for addr, value in pairs(each_debug("MEM")) do
    if type(value) == "number" then
      result[addr] = string.format("%.2f Kb (%s)", value, services[tonumber(addr:sub(2), 16)] or "?")
    else
      result[addr] = value
    end
  end
  return result
end

function command.GC()
  for addr in pairs(services) do
    skynet.send(addr, "debug", "GC")
  end
  return command.MEM()
end

function command.KILL(_, handle)
  skynet.kill(handle)
  local line = services[handle]
  services[handle] = nil
  return { [skynet.address(handle)] = line }
end

function command.REMOVE(_, handle, kill)
  services[handle] = nil
  local response = instance[handle]
  if response then
    -- It is gone before its start function returned. Exiting by itself is
    -- a finished service (newservice returns nil, as in skynet); killed is not.
    if kill then
      response(false, string.format("service %s was killed before it started", skynet.address(handle)))
    else
      response(true, nil)
    end
    instance[handle] = nil
  end
  return NORET
end

local function launch_service(service, ...)
  local param = table.concat({ ... }, " ")
  local inst, err = skynet.launch(service, param)
  local response = skynet.response()
  if inst then
    services[inst] = service .. " " .. param
    instance[inst] = response
  else
    response(false, err)
  end
  return inst
end

function command.LAUNCH(_, service, ...)
  launch_service(service, ...)
  return NORET
end

-- As LAUNCH, with the new service's messages logged (console `log`).
function command.LOGLAUNCH(_, service, ...)
  local inst = launch_service(service, ...)
  if inst then
    require "skylet.core".command("LOGON", inst)
  end
  return NORET
end

function command.ERROR(address, reason)
  -- The new service's start function raised; it exits by itself.
  local response = instance[address]
  if response then
    response(false, reason)
    instance[address] = nil
  end
  services[address] = nil
  return NORET
end

function command.LAUNCHOK(address, line)
  -- A Python service says what it runs ("python NAME ARGS (module M, class C)").
  if type(line) == "string" and services[address] then
    services[address] = line
  end
  local response = instance[address]
  if response then
    response(true, address)
    instance[address] = nil
  end
  return NORET
end

skynet.dispatch("lua", function(session, address, cmd, ...)
  cmd = string.upper(cmd)
  local f = command[cmd]
  if f == nil then
    error("launcher: unknown command " .. tostring(cmd))
  end
  local ret = f(address, ...)
  if ret ~= NORET and session ~= 0 then
    skynet.ret(skynet.pack(ret))
  end
end)

skynet.start(function() end)
