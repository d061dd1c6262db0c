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
    call = "call address ... : call to service with lua protocol",
    trace = "trace address [proto] [on|off]",
    killtask = "killtask address threadname : threadname listed by task",
    uniqtask = "uniqtask address : show service unique task detail",
    log = "launch a new lua service with log",
    logon = "logon address",
    logoff = "logoff address",
    signal = "signal address sig",
    snax = "lanuch a new snax service",
    dbgcmd = "run address debug command",
    cmem = "Show C memory info",
    jmem = "Show jemalloc mem stats",
    dumpheap = "dump heap profilling",
    profactive = "profactive [on|off] : active/deactive jemalloc heap profilling",
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

function COMMAND.dbgcmd(address, cmd, ...)
  if cmd == nil then
    error("dbgcmd needs an address and a debug command", 0)
  end
  return skynet.call(address_of(address), "debug", cmd, ...)
end

function COMMAND.killtask(address, threadname)
  return COMMAND.dbgcmd(address, "KILLTASK", threadname)
end

function COMMAND.uniqtask(address)
  return COMMAND.dbgcmd(address, "UNIQTASK")
end

local function toboolean(word)
  if word == "on" then
    return true
  elseif word == "off" then
    return false
  end
  return word
end

-- trace ADDR [proto] [on|off]: skynet.traceproto in that service.
function COMMAND.trace(address, proto, flag)
  address = address_of(address)
  if flag == nil then
    proto = toboolean(proto)
  else
    flag = toboolean(flag)
  end
  skynet.call(address, "debug", "TRACELOG", proto, flag)
end

-- call ADDR args: the rest of the line is Lua values (`"incr", 2`), with no
-- access to anything but literals.
function COMMAND.call(line)
  local word, rest = line:match("^%S+%s+(%S+)%s*(.*)$")
  if word == nil then
    error("call needs an address", 0)
  end
  local address = address_of(word)
  local f, err = load("return " .. rest, "=(debug console)", "t", {})
  if not f then
    error("Invalid arguments: " .. tostring(err), 0)
  end
  local args = table.pack(pcall(f))
  if not args[1] then
    error(tostring(args[2]), 0)
  end
  return table.pack(skynet.call(address, "lua", table.unpack(args, 2, args.n)))
end

-- log NAME ARGS: start a service with its messages logged (logon) from the first.
function COMMAND.log(name, ...)
  if name == nil then
    error("log needs a service name", 0)
  end
  local ok, address = pcall(skynet.call, ".launcher", "lua", "LOGLAUNCH", "snlua", name, ...)
  if ok and address then
    return { [skynet.address(address)] = concat({ name, ... }, " ") }
  end
  return "Failed"
end

local command = require "skylet.core".command

-- logon/logoff ADDR: every message the service gets goes to
-- logpath/XXXXXXXX.log (as skynet's).
function COMMAND.logon(address)
  command("LOGON", address_of(address))
end

function COMMAND.logoff(address)
  command("LOGOFF", address_of(address))
end

-- signal ADDR [sig]: 0 interrupts what the service runs; 1 logs its memory.
function COMMAND.signal(address, sig)
  command("SIGNAL", address_of(address), tonumber(sig) or 0)
end

function COMMAND.snax(...)
  local ok, snax = pcall(require, "skynet.snax")
  if not ok then
    error("snax is not available in this node (no skynet.snax)", 0)
  end
  local started, s = pcall(snax.newservice, ...)
  if started then
    return { [skynet.address(s.handle)] = concat({ ... }, " ") }
  end
  return "Failed"
end

-- cmem: the Lua heap of every service (skylet's services allocate nothing
-- else), its total, and the number of services.
function COMMAND.cmem()
  local info = { command("MEMORY") }
  local tmp, total, block = {}, 0, 0
  for i = 1, #info, 2 do
    tmp[skynet.address(info[i])] = info[i + 1]
    total = total + info[i + 1]
    block = block + 1
  end
  tmp.total = total
  tmp.block = block
  return tmp
end

function COMMAND.jmem()
  error("jmem: skylet does not use jemalloc (cmem shows each service's memory)", 0)
end

function COMMAND.dumpheap()
  error("dumpheap: skylet does not use jemalloc, there is no heap profile to dump", 0)
end

function COMMAND.profactive(flag)
  return "heap profilling is deactive"
end

-- Commands that print as they go take the print function first; LINE ones
-- get the whole command line.
local PRINTING = { inject = true }
local LINE = { call = true }

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
  elseif LINE[name] then
    ok, result = pcall(cmd, line)
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
