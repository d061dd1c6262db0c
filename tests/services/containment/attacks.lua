-- A hostile start service: tries every known route to a binary loader, a
-- host metatable or a Python object, and does the harmful thing with what it
-- finds (load forged bytecode, call a userdata under a foreign metatable).
-- If the node is contained, each attempt is refused and it prints
-- "ATTACK <name> refused"; if one gets through the process may well crash,
-- which is what the test checks for (the exit status).
local skynet = require "skynet"
require "skynet.manager"
local core = require "skylet.core"

local results = {}
local function report(name, refused, detail)
  results[#results + 1] = string.format("ATTACK %s %s %s", name, refused and "refused" or "SUCCEEDED",
    tostring(detail or ""):gsub("\n", " "))
end

-- Bytecode of a harmless function: a loader that takes it in binary mode
-- would take forged bytecode just as well.
local bytecode = string.dump(function() return "binary code ran" end)

-- Does `f` load binary chunks? Only C functions are tried (Lua's loader is
-- one; calling Lua functions blindly would run the service's own code).
local function loads_binary(f)
  if type(f) ~= "function" then
    return false
  end
  local info = debug.getinfo(f, "S")
  if info.what ~= "C" then
    return false
  end
  local ok, chunk = pcall(f, bytecode, "=forged", "b")
  if ok and type(chunk) == "function" then
    return true
  end
  ok, chunk = pcall(f, bytecode, "=forged", "bt")
  return ok and type(chunk) == "function"
end

-- 1. The global loaders in binary mode.
for _, name in ipairs { "load", "loadfile", "dofile" } do
  report("global-" .. name .. "-binary", not loads_binary(_G[name]))
end

-- 2. Upvalues of every function the boot chunk installed, and of their upvalues.
local function upvalue_loaders(root, label)
  local found, seen, queue = {}, {}, { root }
  while #queue > 0 do
    local f = table.remove(queue)
    if type(f) == "function" and not seen[f] then
      seen[f] = true
      for i = 1, 60 do
        local ok, name, value = pcall(debug.getupvalue, f, i)
        if not ok or name == nil then break end
        if type(value) == "function" then
          if loads_binary(value) then found[#found + 1] = label .. "." .. tostring(name) end
          queue[#queue + 1] = value
        end
      end
    end
  end
  return found
end
local roots = {
  load = load, loadfile = loadfile, dofile = dofile, print = print, require = require,
  os_exit = os.exit, co_create = coroutine.create, co_wrap = coroutine.wrap,
  co_resume = coroutine.resume, getupvalue = debug.getupvalue, getinfo = debug.getinfo,
  getlocal = debug.getlocal, getmetatable = debug.getmetatable, command = core.command,
  skynet_send = skynet.send, dispatch = skynet.dispatch_message,
}
for i, searcher in ipairs(package.searchers) do roots["searcher" .. i] = searcher end
for label, f in pairs(roots) do
  local found = upvalue_loaders(f, label)
  report("upvalues-of-" .. label, #found == 0, table.concat(found, ","))
end

-- 3. A call hook sees each function as it is called: catch the loader the
-- module searcher calls.
local captured = {}
debug.sethook(function()
  local info = debug.getinfo(2, "f")
  if info and info.func then captured[#captured + 1] = info.func end
end, "c")
package.loaded["containment_victim"] = nil
pcall(require, "containment_victim")
debug.sethook()
local hooked = 0
for _, f in ipairs(captured) do
  if loads_binary(f) then hooked = hooked + 1 end
end
report("call-hook-captures-loader", hooked == 0, #captured .. " functions seen")

-- 4. The boot chunk's locals, from the service's top level (it runs inside boot).
local locals_read, locals_refused = 0, 0
for level = 1, 30 do
  for n = 1, 30 do
    local ok, name, value = pcall(debug.getlocal, level, n)
    if not ok then locals_refused = locals_refused + 1 break end
    if name == nil then break end
    locals_read = locals_read + 1
    if loads_binary(value) then
      report("boot-local-" .. tostring(name), false)
    end
  end
end
report("getlocal-of-boot-frames", locals_refused > 0, locals_refused .. " frames refused")

-- 4b. The same with levels written as strings (Lua's own getlocal reads "3" as 3).
local first_refused, string_refused = nil, 0
for level = 1, 30 do
  for n = 1, 30 do
    local ok, name, value = pcall(debug.getlocal, tostring(level), n)
    if not ok then
      if tostring(name):find("not allowed", 1, true) then
        string_refused = string_refused + 1
        first_refused = first_refused or level
      end
      break
    end
    if name == nil then break end
    if loads_binary(value) then
      report("boot-local-by-string-level-" .. tostring(name), false)
    end
  end
end
report("getlocal-of-boot-frames-by-string-level", string_refused > 0,
  string_refused .. " frames refused")
local set_ok = first_refused == nil or pcall(debug.setlocal, tostring(first_refused), 1, nil)
report("setlocal-of-boot-frame-by-string-level", not set_ok)

-- 5. Functions on the stack.
local stack_loaders = 0
for level = 1, 30 do
  local info = debug.getinfo(level, "f")
  if not info then break end
  if loads_binary(info.func) then stack_loaders = stack_loaders + 1 end
  for _, found in ipairs(upvalue_loaders(info.func, "stack")) do
    stack_loaders = stack_loaders + 1
  end
end
report("stack-functions", stack_loaders == 0)

-- 6. Joining or replacing the upvalues of skylet's own functions.
local function mine() return bytecode end
report("upvaluejoin-into-load", not pcall(debug.upvaluejoin, mine, 1, load, 1))
report("setupvalue-of-getupvalue", not pcall(debug.setupvalue, debug.getupvalue, 1, {}))
report("setupvalue-of-load", not pcall(debug.setupvalue, load, 1, print))

-- 7. Metatables of userdata.
local host_mt = debug.getmetatable(core.send)
report("debug.getmetatable-of-entry-point", type(host_mt) ~= "table", type(host_mt))
report("getmetatable-of-entry-point", type(getmetatable(core.send)) ~= "table")
report("getmetatable-of-file", type(getmetatable(io.stdout)) ~= "table")
report("debug.getmetatable-of-file", type(debug.getmetatable(io.stdout)) ~= "table")
local victim = io.tmpfile()
local ok_set = pcall(debug.setmetatable, victim, type(host_mt) == "table" and host_mt or {})
if ok_set then
  -- The crash the issue found: lupa's metatable on a file handle.
  pcall(tostring, victim)
  pcall(victim)
end
report("setmetatable-on-file", not ok_set)
local file_mt = debug.getmetatable(io.stdout)
local ok_entry = pcall(debug.setmetatable, core.send, type(file_mt) == "table" and file_mt or {})
if ok_entry then
  pcall(core.send.read, core.send)
end
report("setmetatable-on-entry-point", not ok_entry)
-- (The native scheduler's send is a C function: no host metatable to take.)
report("setmetatable-number-protected",
  host_mt == nil or not pcall(debug.setmetatable, 0, host_mt))
report("setuservalue", not pcall(debug.setuservalue, victim, {}, 1))
victim:close()

-- 8. Errors from the host are strings, never Python objects.
local ok_cmd, err_cmd = pcall(core.command, "NO_SUCH_COMMAND")
report("command-error-is-string", not ok_cmd and type(err_cmd) == "string", err_cmd)
local ok_arg, err_arg = pcall(core.command, "GETENV", {})
report("command-table-argument", not ok_arg and type(err_arg) == "string", err_arg)
local sent, why = core.send()
report("send-without-arguments", sent == false and type(why) == "string", why)
local kinds = 0
for _, value in ipairs { {}, print, true, coroutine.create(print), core.send, io.stdout } do
  local r, e = core.send(skynet.self(), 10, 0, value)
  if r == false and type(e) == "string" then kinds = kinds + 1 end
end
report("send-payload-types", kinds == 6, kinds .. " of 6 refused")

-- 9. The node's own addresses.
report("kill-host", not pcall(skynet.kill, 1))
report("kill-launcher", not pcall(skynet.kill, ".launcher"))
report("kill-service-mgr", not pcall(skynet.kill, ".service"))
report("raise-memlimit", not pcall(skynet.memlimit, 1 << 40))

skynet.start(function()
  for _, line in ipairs(results) do print(line) end
  -- The node's own services are all still there.
  local ok_list, list = pcall(skynet.call, ".launcher", "lua", "LIST")
  print("CHECK launcher answers", ok_list and type(list) == "table")
  print("CHECK service manager answers", type(skynet.localname(".service")) == "number")
  print("ATTACKS DONE")
  skynet.abort()
end)
