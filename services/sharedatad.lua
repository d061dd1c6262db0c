-- The daemon of skylet's shared tables (skynet.sharedata, skynet.sharetable,
-- skynet.datasheet): it runs the code that builds a table (a file or a
-- string, as skynet's daemons do), hands the table to the node (core
-- command SHARED), and answers the services waiting for a newer version.
-- Keys are "<library>\0<name>".
local skynet = require "skynet"
local command = require "skylet.core".command

local watchers = {} -- key -> list of responses waiting for a version change

local env_meta = { __index = _ENV }

-- skynet's rules: a table is the value; a string is Lua code, or "@file";
-- the code's environment collects globals unless it returns a table.
local function build(name, value, ...)
  local kind = type(value)
  if kind == "table" then
    return value
  elseif kind == "nil" then
    return {}
  elseif kind ~= "string" then
    error("Unknown data type " .. kind)
  end
  local env = setmetatable({}, env_meta)
  local f
  if value:sub(1, 1) == "@" then
    f = assert(loadfile(value:sub(2), "t", env))
  else
    f = assert(load(value, "=" .. name, "t", env))
  end
  local ret = f(...)
  setmetatable(env, nil)
  if type(ret) == "table" then
    return ret
  end
  return env
end

local function wake(key, version)
  local list = watchers[key]
  if list then
    watchers[key] = nil
    for _, response in ipairs(list) do
      response(true, version)
    end
  end
end

local CMD = {}

-- Builds and shares a table; returns its version.
function CMD.put(key, name, value, ...)
  local t = build(name, value, ...)
  local version = command("SHARED", "put", key, skynet.packstring(t))
  wake(key, version)
  return version
end

-- sharetable's rule: the code (a string, or "@file") is called with the
-- arguments and must return the table.
function CMD.load(key, name, source, ...)
  local f
  if source:sub(1, 1) == "@" then
    f = assert(loadfile(source:sub(2)))
  else
    f = assert(load(source, "=" .. name))
  end
  local t = f(...)
  if type(t) ~= "table" then
    error(("Not a table, it's a %s."):format(type(t)), 0)
  end
  local version = command("SHARED", "put", key, skynet.packstring(t))
  wake(key, version)
  return version
end

-- As put, for a name that must not exist yet.
function CMD.new(key, name, ...)
  if command("SHARED", "version", key) ~= nil then
    error(("%s exists already"):format(name), 0)
  end
  return CMD.put(key, name, ...)
end

-- Shares bytes some service packed already (sharetable.loadtable, a
-- compiled datasheet).
function CMD.putbytes(key, bytes)
  local version = command("SHARED", "put", key, bytes)
  wake(key, version)
  return version
end

function CMD.delete(key)
  command("SHARED", "delete", key)
  wake(key, nil)
end

local NORET = {}

-- Answers when the key's version is no longer `version` (nil once deleted).
function CMD.watch(key, version)
  local current = command("SHARED", "version", key)
  if current ~= version then
    return current
  end
  local list = watchers[key]
  if list == nil then
    list = {}
    watchers[key] = list
  end
  list[#list + 1] = skynet.response()
  return NORET
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = CMD[cmd]
    if f == nil then
      error("sharedatad: unknown command " .. tostring(cmd))
    end
    local ret = f(...)
    if ret ~= NORET and session ~= 0 then
      skynet.retpack(ret)
    end
  end)
end)
