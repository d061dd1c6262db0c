-- The debug protocol's RUN command: run a script inside a live service.
--
-- It runs as an ordinary debug message, so in the service's own turn and
-- never while one of its handlers is running (a handler waiting in a call
-- is suspended, and sees the patched code from its next message on). The
-- script sees:
--   print  captured into the output returned to the injector;
--   _U     the upvalues reachable from the service's dispatch functions, by
--          name (following nested functions and handler tables like CMD),
--          then skynet's own (_U.proto), as in skynet;
--   _P     the same per protocol: _P.lua.CMD;
--   ...    the extra arguments given to RUN.
-- _U and its _P entries are live views: `_U.count = 0` sets the variable.
-- Values the script returns are added to the output, so `return
-- hotfix.patch{...}` reports what it did.
local upvalues = require "skylet.upvalues"

local traceback = debug.traceback
local type, tostring, select, xpcall, setmetatable, getmetatable, rawset, next =
  type, tostring, select, xpcall, setmetatable, getmetatable, rawset, next
local concat = table.concat
local running = coroutine.running

local M = {}

-- Protocol classes by id, user protocols first: "lua", then the others
-- by id, and "debug" last (it is skylet's, not the service's).
local function protocols(proto)
  local list = {}
  for key, class in next, proto do
    if type(key) == "number" and type(class) == "table" and class.name then
      list[#list + 1] = class
    end
  end
  local function rank(class)
    if class.name == "lua" then
      return -1
    elseif class.name == "debug" then
      return 1000
    end
    return class.id
  end
  table.sort(list, function(a, b) return rank(a) < rank(b) end)
  return list
end

local function build_U(export)
  local user, internal = {}, { export.dispatch }
  for _, class in next, protocols(export.proto) do
    if type(class.dispatch) == "function" then
      if class.name == "debug" then
        internal[#internal + 1] = class.dispatch
      else
        user[#user + 1] = class.dispatch
      end
    end
  end
  -- The service's own variables take their names first; skynet's internals
  -- only fill names the service does not use.
  local cells = upvalues.collect(user, { tables = true })
  upvalues.collect(internal, { tables = true, into = cells })
  return upvalues.view(cells, "_U")
end

local function build_P(export)
  local P = {}
  for _, class in next, protocols(export.proto) do
    if type(class.dispatch) == "function" and P[class.name] == nil then
      local cells = upvalues.collect({ class.dispatch }, { tables = true })
      P[class.name] = upvalues.view(cells, "_P." .. class.name)
    end
  end
  return P
end

-- The _U/_P of the inject script running in each coroutine, for
-- skylet.hotfix to resolve paths such as "_P.lua.CMD.incr".
local contexts = setmetatable({}, { __mode = "k" })

function M.context()
  return contexts[running()]
end

-- An error handler: a report object (hotfix's refusal) explains itself;
-- anything else gets its traceback.
local function explain(err)
  local mt = getmetatable(err)
  if type(err) == "table" and mt and mt.__tostring then
    return tostring(err)
  end
  -- The frames below the script (xpcall, this module, the debug
  -- dispatcher) are skylet's, not the script's.
  local text = traceback(tostring(err), 2)
  local cut = text:find("\n\t%[C%]: in function 'xpcall'")
  return cut and text:sub(1, cut - 1) or text
end

local function append_values(output, n, ...)
  for i = 1, n do
    output[#output + 1] = tostring((select(i, ...)))
  end
end

-- Returns ok, output: the captured lines joined by "\n", as skynet's RUN.
-- A script that does not compile is refused before anything runs.
function M.run(skynet, export, source, filename, ...)
  if type(source) ~= "string" then
    return false, "RUN needs the script's source text"
  end
  local chunkname = filename and ("@" .. tostring(filename)) or "=(inject)"
  local output = {}
  local finished = false

  local function capture(...)
    if finished then
      -- A function the script left behind still prints: to the node.
      return print(...)
    end
    local n = select("#", ...)
    local parts = { ... }
    for i = 1, n do
      parts[i] = tostring(parts[i])
    end
    output[#output + 1] = concat(parts, "\t", 1, n)
  end

  local context = {}
  local env = setmetatable({ print = capture }, {
    __index = function(env, key)
      -- Built on first use: a script that needs neither pays nothing.
      if key == "_U" then
        context.U = context.U or build_U(export)
        rawset(env, key, context.U)
        return context.U
      elseif key == "_P" then
        context.P = context.P or build_P(export)
        rawset(env, key, context.P)
        return context.P
      end
      return _G[key]
    end,
  })
  function context.resolve(root)
    return env[root]
  end

  if source:byte(1) == 27 then
    return false, (filename or "(inject)") .. ": inject scripts are Lua source text, not bytecode"
  end
  -- The sandbox's load: text only, whatever the caller asks for.
  local chunk, err = load(source, chunkname, "t", env)
  if not chunk then
    return false, tostring(err)
  end
  local co = running()
  contexts[co] = context
  local result = table.pack(xpcall(chunk, explain, ...))
  contexts[co] = nil
  finished = true
  if result[1] then
    append_values(output, result.n - 1, table.unpack(result, 2, result.n))
  else
    output[#output + 1] = result[2]
  end
  local text = concat(output, "\n")
  output = nil -- functions the script left behind must not keep it alive
  return result[1], text
end

return M
