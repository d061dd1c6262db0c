-- The debug console's commands (skynet's service/debug_console.lua), apart
-- from the socket that carries them: console.docmd(line, print) runs one
-- command line, prints its result and skynet's "<CMD OK>" / "<CMD Error>"
-- frame, and returns whether it succeeded.
local skynet = require "skynet"
require "skynet.manager"

local format, concat, sort = string.format, table.concat, table.sort
local tostring, tonumber, type, pairs, ipairs, pcall, error =
  tostring, tonumber, type, pairs, ipairs, pcall, error

local M = {}
local COMMAND = {}
M.COMMAND = COMMAND

----- output -----

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function format_table(t)
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do
    parts[#parts + 1] = format("%s:%s", tostring(k), tostring(t[k]))
  end
  return concat(parts, "\t")
end

-- skynet's layout: one "key<TAB>value" line per entry, sorted by key;
-- a table value becomes "k:v<TAB>k:v".
local function dump_list(print, list)
  for _, k in ipairs(sorted_keys(list)) do
    local v = list[k]
    if type(v) == "table" then
      print(k, format_table(v))
    else
      print(k, tostring(v))
    end
  end
end

----- addresses -----

local function address_of(word)
  if word == nil or word == "" then
    error("need an address (:0000000a, a, or .name)", 0)
  end
  local prefix = word:sub(1, 1)
  if prefix == "." then
    local handle = skynet.localname(word)
    if handle == nil then
      error(format("no service named %s", word), 0)
    end
    return handle
  end
  local hex = prefix == ":" and word:sub(2) or word
  local handle = hex:match("^%x+$") and tonumber(hex, 16)
  if handle == nil then
    error(format("not an address: %s", word), 0)
  end
  if prefix ~= ":" then
    handle = handle | (skynet.harbor(skynet.self()) << 24)
  end
  return handle
end
M.address_of = address_of

-- The services started from the Lua file `name`, in address order, from
-- the launcher's list ("snlua name args" per address).
local function started_from(name)
  local found = {}
  for address, line in pairs(skynet.call(".launcher", "lua", "LIST")) do
    local file = tostring(line):match("^%S+%s+(%S+)")
    if file == name then
      found[#found + 1] = tonumber(address:sub(2), 16)
    end
  end
  sort(found)
  return found
end
M.started_from = started_from

----- commands -----

function COMMAND.help()
  return {
    help = "This help message",
    list = "List all the service",
    stat = "Dump all stats",
    mem = "mem : show memory status",
    gc = "gc : force every lua service do garbage collect",
    info = "info address : get service infomation",
    task = "task address : show service task detail",
    ping = "ping address",
    kill = "kill address : kill service",
    exit = "exit address : kill a lua service",
    start = "lanuch a new lua service",
    service = "List unique service",
    inject = "inject address luascript.lua / inject service_name luascript.lua : every service started from that file",
    clearcache = "clear lua code cache",
    getenv = "getenv name : skynet.getenv(name)",
    setenv = "setenv name value: skynet.setenv(name,value)",
    netstat = "netstat : show netstat",
  }
end

function COMMAND.list()
  return skynet.call(".launcher", "lua", "LIST")
end

function COMMAND.stat()
  return skynet.call(".launcher", "lua", "STAT")
end

function COMMAND.mem()
  return skynet.call(".launcher", "lua", "MEM")
end

function COMMAND.gc()
  return skynet.call(".launcher", "lua", "GC")
end

function COMMAND.service()
  return skynet.call(".service", "lua", "LIST")
end

function COMMAND.kill(address)
  return skynet.call(".launcher", "lua", "KILL", address_of(address))
end

function COMMAND.exit(address)
  skynet.send(address_of(address), "debug", "EXIT")
end

function COMMAND.info(address, ...)
  return skynet.call(address_of(address), "debug", "INFO", ...)
end

function COMMAND.task(address)
  return skynet.call(address_of(address), "debug", "TASK")
end

function COMMAND.ping(address)
  address = address_of(address)
  local t0 = skynet.hpc()
  skynet.call(address, "debug", "PING")
  return format("%.3f ms", (skynet.hpc() - t0) / 1e6)
end

function COMMAND.start(name, ...)
  if name == nil then
    error("start needs a service name", 0)
  end
  local address = skynet.newservice(name, ...)
  return { [skynet.address(address)] = concat({ name, ... }, " ") }
end

function COMMAND.getenv(key)
  if key == nil then
    error("getenv needs a name", 0)
  end
  return tostring(skynet.getenv(key))
end

function COMMAND.setenv(key, value)
  if key == nil or value == nil then
    error("setenv needs a name and a value", 0)
  end
  skynet.setenv(key, value)
end

function COMMAND.clearcache()
  require("skynet.codecache").clear()
end

function COMMAND.netstat()
  local socket = require "skynet.socket"
  if socket.netstat == nil then
    error("netstat: skynet.socket has no netstat", 0)
  end
  local list = socket.netstat()
  for _, info in ipairs(list) do
    if type(info.address) == "number" then
      info.address = skynet.address(info.address)
    end
  end
  return list
end

local function read_script(filename)
  if filename == nil then
    error("inject needs an address or service name, and a script file", 0)
  end
  local f, err = io.open(filename, "rb")
  if not f then
    error(format("can't open %s: %s", filename, tostring(err)), 0)
  end
  local source = f:read("a")
  f:close()
  return source
end

local function run_script(address, source, filename, ...)
  local ok, a, b = pcall(skynet.call, address, "debug", "RUN", source, filename, ...)
  if not ok then
    return false, tostring(a)
  end
  return a == true, tostring(b or "")
end

-- `inject ADDRESS FILE ...` as skynet; `inject NAME FILE ...` (skylet): the
-- script into every running service started from NAME, one by one.
function COMMAND.inject(print, target, filename, ...)
  local source = read_script(filename)
  local word = target or ""
  local prefix = word:sub(1, 1)
  local by_name = prefix ~= ":" and prefix ~= "." and started_from(word) or {}
  if #by_name == 0 then
    local ok, output = run_script(address_of(word), source, filename, ...)
    if not ok then
      error(output, 0)
    end
    return output ~= "" and output or nil
  end
  local failed = 0
  for _, address in ipairs(by_name) do
    local ok, output = run_script(address, source, filename, ...)
    if not ok then
      failed = failed + 1
    end
    print(format("[%s] %s", skynet.address(address), ok and "ok" or "FAILED"))
    if output ~= "" then
      print(output)
    end
  end
  local summary = format("inject %s: %d of %d service(s) started from %s accepted it",
    filename, #by_name - failed, #by_name, word)
  if failed > 0 then
    error(summary, 0)
  end
  return summary
end

-- Commands that print as they go take the print function first.
local PRINTING = { inject = true }

local function split(line)
  local words = {}
  for word in line:gmatch("%S+") do
    words[#words + 1] = word
  end
  return words
end

function M.docmd(line, print)
  local words = split(line)
  local name = words[1]
  local cmd = COMMAND[name]
  if cmd == nil then
    print(format("Invalid command %s, type help for command list", tostring(name)))
    print("<CMD Error>")
    return false
  end
  local ok, result
  if PRINTING[name] then
    ok, result = pcall(cmd, print, table.unpack(words, 2))
  else
    ok, result = pcall(cmd, table.unpack(words, 2))
  end
  if ok then
    if type(result) == "table" then
      dump_list(print, result)
    elseif result ~= nil then
      print(result)
    end
    print("<CMD OK>")
  else
    print(tostring(result))
    print("<CMD Error>")
  end
  return ok
end

return M
