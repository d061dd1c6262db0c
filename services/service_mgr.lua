-- Unique services (skynet.uniqueservice / queryservice): one instance per
-- name, launched on first use; queries wait until it exists.
local skynet = require "skynet"
require "skynet.manager"

local cmd = {}
local NORET = {}
local service = {}  -- name -> address, or a list of waiting responses while booting

local function request(name, func, ...)
  local ok, handle = pcall(func, ...)
  local waiting = service[name]
  assert(type(waiting) == "table")
  if ok then
    service[name] = handle
  else
    service[name] = tostring(handle)
  end
  for _, response in ipairs(waiting) do
    response(ok, handle)
  end
  if ok then
    return handle
  end
  error(tostring(handle), 0)
end

local function waitfor(name, func, ...)
  local s = service[name]
  if type(s) == "number" then
    return s
  elseif type(s) == "string" then
    error(s, 0)
  end
  if s == nil then
    s = {}
    service[name] = s
  end
  if func and not s.launching then
    s.launching = true
    return request(name, func, ...)
  end
  -- Booting, or queried before anyone launched it: answer when it exists.
  s[#s + 1] = skynet.response()
  return NORET
end

-- A snax service is known as "snaxd.NAME".
function cmd.LAUNCH(name, ...)
  if name == "snaxd" then
    local snax = require "skynet.snax"
    local subname = ...
    return waitfor("snaxd." .. subname, snax.rawnewservice, subname, select(2, ...))
  end
  return waitfor(name, skynet.newservice, name, ...)
end

function cmd.QUERY(name, subname)
  if name == "snaxd" then
    return waitfor("snaxd." .. subname)
  end
  return waitfor(name)
end

function cmd.GLAUNCH(...)
  return cmd.LAUNCH(...)
end

function cmd.GQUERY(...)
  return cmd.QUERY(...)
end

function cmd.LIST()
  local result = {}
  for k, v in pairs(service) do
    if type(v) == "number" then
      result[k] = skynet.address(v)
    elseif type(v) == "string" then
      result[k] = "error: " .. v
    else
      result[k] = "booting"
    end
  end
  return result
end

skynet.start(function()
  skynet.dispatch("lua", function(session, address, command, ...)
    local f = cmd[command]
    if f == nil then
      error("service_mgr: unknown command " .. tostring(command))
    end
    local ret = f(...)
    if ret ~= NORET then
      skynet.ret(skynet.pack(ret))
    end
  end)
  skynet.register(".service")
end)
