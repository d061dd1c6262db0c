-- skynet.require: require for service coroutines, as skynet's
-- lualib/skynet/require.lua. The boot chunk's `require` hands a module not
-- loaded yet, required from a coroutine (not the main chunk), to M.require:
--   1. the module's main function runs as Lua's require would;
--   2. then the functions it registered with skynet.init run, at once (in
--      the main chunk they wait for skynet.start instead);
--   3. a coroutine requiring a module another coroutine is still loading
--      (the module's code may wait, e.g. in skynet.call) waits for it.
local core = require "skylet.core"

local plain_require = core.require
local loaded = package.loaded
local running = coroutine.running

local M = {}
local loading = {} -- module name -> { co = loader, waiting coroutines... }
local context = {} -- coroutine -> skynet.init list of the module it loads

local function find_loader(name)
  for _, searcher in ipairs(package.searchers) do
    local loader, extra = searcher(name)
    if type(loader) == "function" then
      return loader, extra
    end
  end
end

function M.require(name)
  local m = loaded[name]
  if m ~= nil then
    return m
  end
  local co, main = running()
  if main then
    return plain_require(name)
  end
  local skynet = plain_require "skynet"
  local queue = loading[name]
  if queue then
    assert(queue.co ~= co, "circular dependency")
    queue[#queue + 1] = co
    skynet.wait(co)
    m = loaded[name]
    if m == nil then
      error(string.format("require %s failed", name))
    end
    return m
  end
  local loader, extra = find_loader(name)
  if loader == nil then
    return plain_require(name) -- Lua's "module not found" message
  end
  queue = { co = co }
  loading[name] = queue
  local outer = context[co]
  local inits = {}
  context[co] = inits
  local ok, err = xpcall(function()
    local value = loader(name, extra)
    for _, f in ipairs(inits) do
      f()
    end
    if value == nil then
      value = loaded[name] == nil and true or loaded[name]
    end
    loaded[name] = value
  end, debug.traceback)
  context[co] = outer
  loading[name] = nil
  for i = 1, #queue do
    skynet.wakeup(queue[i])
  end
  if not ok then
    error(err, 0)
  end
  return loaded[name]
end

-- skynet.init outside the main chunk: the module being required in this
-- coroutine runs f once its main function has returned.
function M.init(f)
  assert(type(f) == "function")
  local list = context[running()]
  if list == nil then
    error("skynet.init must be called by the main chunk or by a module being required", 2)
  end
  list[#list + 1] = f
end

return M
