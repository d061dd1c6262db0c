-- A service that misbehaves on request, for the containment tests.
local skynet = require "skynet"
require "skynet.manager"
local core = require "skylet.core"

local CMD = {}

local function value_of(kind)
  if kind == "table" then return { 1, 2, 3 } end
  if kind == "function" then return print end
  if kind == "boolean" then return true end
  if kind == "thread" then return coroutine.create(print) end
  if kind == "entry point" then return core.send end
  if kind == "file" then return io.stdout end
  error("no such kind " .. tostring(kind))
end

-- Every way to send a value of `kind` as a payload; each must raise in here.
function CMD.send_kind(target, kind)
  local value = value_of(kind)
  local errors = {}
  local function try(what, f, ...)
    local ok, err = pcall(f, ...)
    errors[#errors + 1] = what .. ": " .. (ok and "SENT" or tostring(err))
  end
  try("send", skynet.send, target, "raw", value)
  try("rawsend", skynet.rawsend, target, "lua", value)
  try("redirect", skynet.redirect, target, skynet.self(), "lua", 0, value)
  try("call", skynet.call, target, "raw", value)
  try("rawcall", skynet.rawcall, target, "lua", value)
  try("core.send", function() assert(core.send(target, 10, 0, value) ~= false, select(2, core.send(target, 10, 0, value))) end)
  return errors
end

-- The "forgot skynet.pack" mistake, and its variants.
function CMD.ret_table() skynet.ret({ 1, 2, 3 }) end
function CMD.ret_function() skynet.ret(print) end
function CMD.ret_table_caught()
  -- swallowing the error does not leave the caller waiting
  pcall(skynet.ret, { 1, 2, 3 })
end
function CMD.response_table()
  local reply = skynet.response(function(...) return ... end)
  reply(true, { 1, 2 })
end

function CMD.rawcall_table(target)
  local ok, err = pcall(skynet.rawcall, target, "lua", { 1, 2, 3 })
  return ok, err
end

-- Core commands of every shape: each answers an error string.
function CMD.bogus_commands()
  local results = {}
  local function try(...)
    local ok, err = pcall(core.command, ...)
    results[#results + 1] = (ok and "OK" or type(err)) .. " " .. tostring(err)
  end
  try()
  try(nil)
  try({})
  try(42)
  try("NO_SUCH")
  try("CALLBACK", 5)
  try("CALLBACK", nil)
  try("LAUNCH", {})
  try("KILL", {})
  try("KILL", print)
  try("NAME", ".x", "not a handle")
  try("MEMLIMIT", "lots")
  try("TIMEOUT", {}, 1)
  try("SOCKET", "send", 1, {})
  try("SOCKET", "no_such_op")
  try("LOADFUNC", 12345)
  try("LOADFUNC", {})
  try("DUMPFUNC", 5)
  try("REDIRECT", skynet.self(), skynet.self(), 999, 0, "x")
  try("STAT", {})
  try("GETENV", print)
  return results
end

-- Replace this service's dispatch with one that fails: every later message
-- escapes dispatch, and each request must still get an error answer.
function CMD.break_dispatch(how)
  if how == "heavy" then
    -- costly enough that the threaded scheduler hands it to a worker
    core.command("CALLBACK", function()
      local n = 0
      for i = 1, 300000 do n = n + i end
      error("dispatch broken on purpose after " .. n)
    end)
  elseif how == "error" then
    core.command("CALLBACK", function() error("dispatch broken on purpose") end)
  else
    core.command("CALLBACK", function() core.command("NO_SUCH_COMMAND") end)
  end
  return true
end

function CMD.kill(address) skynet.kill(address) return true end
function CMD.debug_exit(address) skynet.send(address, "debug", "EXIT") return true end
function CMD.memlimit(bytes) skynet.memlimit(bytes) return true end
function CMD.allocate(mb)
  local t = {}
  for i = 1, mb do t[i] = string.rep("x", 1024 * 1024 - 64) .. i end
  return #t
end

function CMD.swallow()
  -- A runaway whose every interrupt is caught by the pcall inside the loop.
  local caught = 0
  while true do
    pcall(function() while true do end end)
    caught = caught + 1
  end
end

function CMD.swallow_nested()
  -- The same, several pcalls deep, in a coroutine of its own.
  local co = coroutine.wrap(function()
    while true do
      pcall(pcall, function() while true do pcall(function() while true do end end) end end)
    end
  end)
  while true do pcall(co) end
end

-- Fill the VM to its memory limit and keep it full (a global holds it).
function CMD.fill()
  HOARD = {}
  pcall(function() while true do HOARD[#HOARD + 1] = {} end end)
  -- a little room back, just enough to answer this call
  for _ = 1, 40 do HOARD[#HOARD] = nil end
  collectgarbage()
  return #HOARD
end

-- While full: ask the node for strings, over and over.
function CMD.ask_while_full(n)
  local failures = 0
  for _ = 1, n do
    local ok = pcall(skynet.getenv, "long_value")
    if not ok then failures = failures + 1 end
  end
  return failures
end

function CMD.tokens()
  local a = core.command("DUMPFUNC", function() end)
  local b = core.command("DUMPFUNC", function() end)
  local ok_next = pcall(core.command, "LOADFUNC", a + 1)
  local ok_prev = pcall(core.command, "LOADFUNC", b - 1)
  return a, b, ok_next, ok_prev
end

function CMD.echo(...) return ... end

-- A protocol that sends whatever it is given, as a careless one might.
skynet.register_protocol {
  name = "raw",
  id = 200,
  pack = function(...) return ... end,
  unpack = function(...) return ... end,
}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(CMD[cmd], cmd)
    local n = select("#", ...)
    local r = table.pack(f(...))
    if r.n > 0 or cmd:sub(1, 3) ~= "ret" then
      skynet.ret(skynet.pack(table.unpack(r, 1, r.n)))
    end
  end)
end)
