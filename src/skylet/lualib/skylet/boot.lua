-- The first chunk every service VM runs. The node compiled it and hands it
-- the service's two core entry points; it seals the VM (no binary chunks,
-- no C modules, no way back into Python), installs `require` over the node's
-- code cache, then runs the service file with its arguments.
local send, raw_command, handle, service_name, args_line, codec_path, watchdog_path, sproto_path,
  sandbox_path, lua_path, preload, native_path, codeshare_path = ...

-- As skynet's snlua does, the collector rests while the service loads (up to
-- the end of its main chunk): nearly everything loading allocates stays, and
-- a cycle cut off midway leaves garbage behind in a service that then sits
-- idle. At the memory limit Lua still collects (an emergency collection)
-- before it fails.
collectgarbage("stop")
collectgarbage("generational") -- as skynet's snlua: most garbage dies young

local raw_load = load
local select, error, type, tostring = select, error, type, tostring
local concat = table.concat

-- Chunks the node compiled share their instructions and line info with
-- every other VM (skylet/_lua/_lcodeshare.c): this VM keeps its own copy of
-- the rest of each prototype. Opened before any other chunk loads: it wraps
-- the VM's allocator.
local share_code
if codeshare_path then
  local ok, share = pcall(package.loadlib(codeshare_path, "luaopen_skylet_codeshare"))
  share_code = ok and share or nil
  if share_code then -- this chunk's functions, not the running chunk itself
    share_code(debug.getinfo(1, "f").func, true)
  end
end

-- The node's command entry never raises into Lua (a Python exception would
-- reach Lua as a Python object): it answers true and the results, or false
-- and a one-line message, which becomes a Lua error here.
local function checked(ok, ...)
  if ok then
    return ...
  end
  error((...), 3)
end

local native_callback -- the native message path's (below), if it runs
local function command(name, ...)
  if name == "CALLBACK" and native_callback then
    checked(raw_command(name, ...))
    return native_callback((...))
  end
  return checked(raw_command(name, ...))
end

-- Only chunks the node compiled itself load as binary; everything a service
-- hands to load/loadfile/dofile is text.
function load(chunk, chunkname, _, ...)
  if select("#", ...) > 0 then
    return raw_load(chunk, chunkname, "t", ...)
  end
  return raw_load(chunk, chunkname, "t")
end

function loadfile(filename, _, ...)
  local f, err = io.open(filename, "rb")
  if not f then return nil, err end
  local code = f:read("a")
  f:close()
  return load(code, "@" .. filename, "t", ...)
end

function dofile(filename)
  local f = assert(loadfile(filename))
  return f()
end

function print(...)
  local n = select("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring(parts[i]) end
  command("PRINT", concat(parts, "\t", 1, n))
end

os.exit = function()
  error("os.exit is not available in a service; use skynet.abort()", 2)
end

-- lupa's bridge to Python and the registry that holds it are not for services.
_G.python = nil
package.loaded.python = nil
debug.getregistry = nil
-- The node's C modules, the only native code a VM loads: the msgpack codec
-- (skylet/_lua/_lmsgpack.c; without it skynet.lua falls back to skylet.msgpack),
-- the sproto core (skylet/_lua/_lsproto.c; without it sproto.core uses
-- skylet.sprotocore) and the watchdog (skylet/_lua/_lwatchdog.c; without it,
-- the Lua hook below).
--
-- The codec opens now (skynet.lua packs with it). The rest open on first
-- require, through package.preload: the same library's skynet.pack codec for
-- the cluster (skylet.serialize picks it) and netpack's cutter (skynet.netpack
-- picks it), and the sproto core; most services use none of them, and each
-- would cost every VM a table of functions.
local c_openers = {}
local function open_c_module(name)
  return c_openers[name]()
end
if codec_path then
  local ok, codec = pcall(package.loadlib(codec_path, "luaopen_skylet_cmsgpack"))
  package.loaded["skylet.cmsgpack"] = ok and codec or nil
  c_openers["skylet.cseri"] = package.loadlib(codec_path, "luaopen_skylet_cseri")
  c_openers["skylet.cnetpack"] = package.loadlib(codec_path, "luaopen_skylet_cnetpack")
end
if sproto_path then
  c_openers["skylet.csproto"] = package.loadlib(sproto_path, "luaopen_skylet_csproto")
end
for name in pairs(c_openers) do
  package.preload[name] = open_c_module
end
local watchdog
if watchdog_path then
  local ok, module = pcall(package.loadlib(watchdog_path, "luaopen_skylet_watchdog"))
  watchdog = ok and module or nil
end
-- The native message path (skylet/_lua/_lnative.c): a C send that queues
-- Lua-to-Lua messages itself (anything else goes on to the node's send), and
-- the dispatch function its dispatchers call.
if native_path then
  local ok, native = pcall(package.loadlib(native_path, "luaopen_skylet_native"), send)
  if not (ok and native) then
    error("the native message path did not open: " .. tostring(native), 0)
  end
  send, native_callback = native.send, native.callback
end
-- and the sandbox's debug wrappers (skylet/_lua/_lsandbox.c, in the
-- watchdog's library; without it, skylet/sandbox.lua below)
local c_sandbox = sandbox_path and package.loadlib(sandbox_path, "luaopen_skylet_sandbox")
package.loadlib = nil
package.cpath = ""

-- The node answers with the chunk and how to load it: "b" for bytecode it
-- compiled itself, "t" for source text (code cache mode OFF or EXIST).
local function lua_searcher(name)
  local path, code, mode = command("LOADMODULE", name, package.path)
  if path == nil then
    return "\n\t" .. code
  end
  if path == false then
    error(code, 0)
  end
  local f, err = raw_load(code, "@" .. path, mode)
  if not f then
    error(string.format("error loading module '%s': %s", name, err), 0)
  end
  if share_code and mode == "b" then
    share_code(f)
  end
  return f, path
end
package.searchers = { package.searchers[1], lua_searcher }
package.path = lua_path -- the node's lua_path, searched by lua_searcher

local plain_require = require
-- A start that failed out of memory may have no room left for a vararg
-- call (its stack cannot grow): this one takes none.
local function exit_failed()
  raw_command("EXIT", "failed")
end

package.loaded["skylet.core"] = {
  send = send,
  command = command,
  handle = handle,
  require = plain_require,
  exit_failed = exit_failed,
}
-- The loader functions above are sealed at the end of this chunk.
local sealed = { load, loadfile, dofile, print, lua_searcher, os.exit, checked, command, exit_failed,
  open_c_module }
for _, opener in pairs(c_openers) do
  sealed[#sealed + 1] = opener
end

-- skynet's require (skynet.require): a module first required from a
-- service coroutine runs its skynet.init functions once loaded, and other
-- coroutines requiring it meanwhile wait. The main chunk's requires are
-- Lua's own; the module loads on first use.
local loaded, running = package.loaded, coroutine.running
function require(name)
  local m = loaded[name]
  if m ~= nil then
    return m
  end
  local _, main = running()
  if main then
    return plain_require(name)
  end
  return plain_require("skynet.require").require(name)
end

-- A handler that never yields must not freeze the node: the node's monitor
-- interrupts a service whose current message runs too long.
if watchdog then
  -- The C watchdog sets a hook on the running lua_State only then; its
  -- resume and wrap (Lua's own, plus bookkeeping) tell it which state runs.
  coroutine.resume = watchdog.resume
  coroutine.wrap = watchdog.wrap
else
  -- Without it, a count hook asks the node whether the service is flagged.
  -- (Any hook slows Lua down by about half.) debug.sethook keeps the hook
  -- per coroutine, so every coroutine gets it when it is created.
  local sethook, co_create, co_resume = debug.sethook, coroutine.create, coroutine.resume
  local HOOK_COUNT = 1000000

  local hook_count = HOOK_COUNT
  local function check()
    local why, doomed = command("CHECK")
    if doomed and hook_count ~= 1 then
      -- Killed for swallowing interrupts: raise at every instruction until
      -- the message has unwound, in every coroutine it runs.
      hook_count = 1
      sethook(check, "", 1)
    end
    if why then
      error(why, 2)
    end
  end
  sethook(check, "", HOOK_COUNT)

  function coroutine.create(f)
    local co = co_create(f)
    sethook(co, check, "", hook_count)
    return co
  end
  sealed[#sealed + 1] = check
  sealed[#sealed + 1] = coroutine.create

  local function wrap_result(ok, ...)
    if not ok then
      error((...), 0)
    end
    return ...
  end

  function coroutine.wrap(f)
    local co = coroutine.create(f)
    return function(...)
      return wrap_result(co_resume(co, ...))
    end
  end
  sealed[#sealed + 1] = coroutine.wrap
end
watchdog = nil

-- The last step before service code runs: debug.* cannot look into the
-- functions above (their upvalues and locals hold the binary loader and the
-- raw hook), nor into this chunk, nor hand out a userdata's metatable.
if not (c_sandbox and c_sandbox(debug, sealed, raw_load, debug.getinfo(1, "f").func,
    io.stdout, send)) then
  require "skylet.sandbox"(sealed, raw_load, debug.getinfo(1, "f").func)
  package.loaded["skylet.sandbox"] = nil
end
sealed, c_sandbox = nil, nil

SERVICE_NAME = service_name

local path, code, mode, pattern = command("LOADSERVICE", service_name)
if not path then
  error(code, 0)
end
-- As skynet's loader: a service found as `dir/?/init.lua` gets `dir/name/`
-- first on package.path; SERVICE_PATH is the folder it was found in.
local service_dir = pattern:match("(.*/)[^/?]+$")
if service_dir then
  service_dir = service_dir:gsub("%?", function() return service_name end)
  package.path = service_dir .. "?.lua;" .. package.path
end
SERVICE_PATH = service_dir or path:match("^(.*[/\\])") or "./"
local main, err = raw_load(code, "@" .. path, mode)
if not main then
  error(string.format("error loading service '%s': %s", service_name, err), 0)
end
if share_code and mode == "b" then
  share_code(main)
end

local args, n = {}, 0
for word in args_line:gmatch("%S+") do
  n = n + 1
  args[n] = word
end
-- Config `preload`: a script run before every service, with its arguments.
if preload then
  assert(loadfile(preload))(service_name, table.unpack(args, 1, n))
end
main(table.unpack(args, 1, n))
collectgarbage("restart")
