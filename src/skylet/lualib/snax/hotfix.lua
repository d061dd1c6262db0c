-- snax.hotfix: replace methods of a running snax service with new code.
-- The patch source defines methods as a snax file does; each must match an
-- existing method. A patch function's upvalues that are nil when it loads
-- (its `local x` declarations) and its _ENV are joined to the live upvalues
-- of the same name in the service's methods, so the new code works on the
-- service's state. If the patch defines hotfix(...), it runs with the extra
-- arguments and its results are returned. Returns pcall's results.
local snax_interface = require "snax.interface"

local getupvalue, upvalueid, upvaluejoin = debug.getupvalue, debug.upvalueid, debug.upvaluejoin

-- The patch runs in a copy of this VM's globals; upvalues holding that copy
-- are _ENV and get joined to the service's _ENV.
local patch_env = {}
for k, v in pairs(_ENV) do
  patch_env[k] = v
end

local function env_id(f)
  local i = 1
  while true do
    local name = getupvalue(f, i)
    if name == nil then
      return
    end
    if name == "_ENV" then
      return upvalueid(f, i)
    end
    i = i + 1
  end
end

-- name -> { func, index } for every upvalue reachable from f through
-- functions that share its _ENV.
local function collect(f, found, env)
  local i = 1
  while true do
    local name, value = getupvalue(f, i)
    if name == nil then
      return
    end
    local id = upvalueid(f, i)
    local seen = found[name]
    if seen then
      assert(seen.id == id, string.format("ambiguity local value %s", name))
    else
      found[name] = { func = f, index = i, id = id }
      if type(value) == "function" and env_id(value) == env then
        collect(value, found, env)
      end
    end
    i = i + 1
  end
end

local function live_upvalues(methods)
  local found = {}
  for _, method in pairs(methods) do
    local f = method[4]
    if f then
      collect(f, found, env_id(f))
    end
  end
  if not found._ENV then
    found._ENV = { func = collect, index = 1 }
  end
  return found
end

local function join(live, f)
  local i = 1
  while true do
    local name, value = getupvalue(f, i)
    if name == nil then
      return
    end
    if value == nil or value == patch_env then
      local old = live[name]
      if old then
        upvaluejoin(f, i, old.func, old.index)
      end
    elseif type(value) == "function" then
      join(live, value)
    end
    i = i + 1
  end
end

local function find(methods, group, name)
  for _, method in pairs(methods) do
    if method[2] == group and method[3] == name then
      return method
    end
  end
end

local function apply(methods, source, ...)
  local patch = snax_interface("patch", patch_env, function(_, _, G)
    return load(source, "=patch", "t", G)
  end)
  local live = live_upvalues(methods)
  for _, method in pairs(patch) do
    local group, name, f = method[2], method[3], method[4]
    if f then
      local target = assert(find(methods, group, name),
        string.format("Patch mismatch %s.%s", group, name))
      join(live, f)
      target[4] = f
    end
  end
  local hook = find(patch, "system", "hotfix")
  if hook and hook[4] then
    return hook[4](...)
  end
end

return function(methods, source, ...)
  return pcall(apply, methods, source, ...)
end
