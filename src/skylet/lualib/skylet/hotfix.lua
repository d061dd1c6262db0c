-- Replacing functions in a live service without losing its state.
--
-- A function's state lives in its upvalues. A new function compiled by an
-- inject script has upvalues of its own (the script's locals), so it only
-- works once each of them is bound to the old closure's variable of the same
-- name (debug.upvaluejoin). This module works out that binding for every
-- function of a patch before changing anything, refuses the whole patch if
-- the new code needs a variable the old closure does not have (unless the
-- caller allows fresh ones), and otherwise applies it all at once.
--
--   local hotfix = require "skylet.hotfix"
--   local count                                   -- bound to the live one
--   return hotfix.patch {
--     ["_P.lua.CMD.incr"] = function(n) count = count + 2 * n return count end,
--   }
--
-- Targets: "_P.<proto>.<path>" or "_U.<path>" (inside an inject script),
-- "<module>:<path>" (a field of a module the service has loaded), or
-- { table, key, function } entries in a list. A target "_U.name" replaces
-- the local variable itself: every closure that shares it sees the new
-- function. Options (second argument):
--   fresh   = true, or a list of names: upvalues that may stay the script's own;
--   dry_run = true: return the plan (hotfix.plan does the same);
--   search  = { f, ... }: further closures whose variables may be bound.
-- Returns a report (tostring() renders it); raises it if the patch is refused.
local upvalues = require "skylet.upvalues"

local getupvalue, upvaluejoin, setupvalue, getinfo =
  debug.getupvalue, debug.upvaluejoin, debug.setupvalue, debug.getinfo
local type, tostring, next, ipairs, pcall, error, setmetatable =
  type, tostring, next, ipairs, pcall, error, setmetatable
local format, concat, sort = string.format, table.concat, table.sort

local M = {}

----- reports -----

local Report = {}
Report.__index = Report

local function names(list)
  return concat(list, ", ")
end

local function describe(target)
  if #target.refused > 0 then
    return format("  %s: REFUSED %s", target.path, concat(target.refused, "; "))
  end
  local parts = {}
  local function add(label, list)
    if #list > 0 then
      parts[#parts + 1] = label .. " " .. names(list)
    end
  end
  add("bound", target.bound)
  add("fresh", target.fresh)
  add("kept", target.kept)
  add("new local functions", target.helpers)
  if #parts == 0 then
    parts[1] = "no upvalues"
  end
  return format("  %s: %s", target.path, concat(parts, "; "))
end

function Report:__tostring()
  local n = #self.targets
  local head
  if not self.ok then
    head = format("hotfix refused, nothing changed (%d function(s))", n)
  elseif self.dry_run then
    head = format("hotfix dry run, nothing changed: %d function(s) would be replaced", n)
  else
    head = format("hotfix applied: %d function(s) replaced", n)
  end
  local lines = { head }
  for _, target in ipairs(self.targets) do
    lines[#lines + 1] = describe(target)
  end
  return concat(lines, "\n")
end

----- targets -----

local function resolve_root(path)
  local root, rest = path:match("^(_[UP])%.(.+)$")
  if root then
    local context = require("skylet.inject").context()
    if context == nil then
      error(format("hotfix target '%s': _U and _P paths only work inside an inject script", path), 0)
    end
    return context.resolve(root), root, rest
  end
  local module, field = path:match("^([%w_%.]+):(.+)$")
  if module then
    local loaded = package.loaded[module]
    if type(loaded) ~= "table" then
      error(format("hotfix target '%s': module '%s' is not loaded in this service", path, module), 0)
    end
    return loaded, module, field
  end
  error(format("hotfix target '%s': expected _P.<proto>.<path>, _U.<path> or <module>:<path>", path), 0)
end

-- A target is a place holding a function: a table field, or an upvalue
-- variable when the parent is one of inject's views.
local function locate(path)
  local parent, _, rest = resolve_root(path)
  local keys = {}
  for key in rest:gmatch("[^%.]+") do
    keys[#keys + 1] = key
  end
  for i = 1, #keys - 1 do
    parent = parent[keys[i]]
    if type(parent) ~= "table" then
      error(format("hotfix target '%s': '%s' is not a table", path, keys[i]), 0)
    end
  end
  return parent, keys[#keys]
end

local function place(parent, key)
  local cells = upvalues.cells_of(parent)
  if cells then
    local cell = cells[key]
    return {
      get = function() return cell and upvalues.get(cell) end,
      set = function(v) upvalues.set(cell, v) end,
    }
  end
  return {
    get = function() return parent[key] end,
    set = function(v) parent[key] = v end,
  }
end

-- The patch as a list of { path, parent, key, new }.
local function normalize(spec, new)
  if type(spec) == "string" then
    return { { path = spec, new = new } }
  end
  if type(spec) ~= "table" then
    error("hotfix.patch needs a target path and a function, or a table of them", 0)
  end
  local list = {}
  if spec[1] == nil then
    for path, fn in next, spec do
      if type(path) ~= "string" then
        error("hotfix.patch: a table of targets is keyed by path strings", 0)
      end
      list[#list + 1] = { path = path, new = fn }
    end
    sort(list, function(a, b) return a.path < b.path end)
  else
    for i, entry in ipairs(spec) do
      if type(entry) ~= "table" then
        error(format("hotfix.patch: entry %d is not a table", i), 0)
      elseif type(entry[1]) == "string" then
        list[#list + 1] = { path = entry[1], new = entry[2] }
      else
        list[#list + 1] = {
          path = format("%s.%s", entry.name or "[table]", tostring(entry[2])),
          parent = entry[1],
          key = entry[2],
          new = entry[3],
        }
      end
    end
  end
  if #list == 0 then
    error("hotfix.patch: nothing to patch", 0)
  end
  return list
end

----- planning -----

local function allowed_fresh(opts)
  local fresh = opts.fresh
  if fresh == true then
    return function() return true end
  end
  local set = {}
  if type(fresh) == "table" then
    for _, name in ipairs(fresh) do
      set[name] = true
    end
  elseif type(fresh) == "string" then
    set[fresh] = true
  end
  return function(name) return set[name] end
end

-- Values that are not state of the script's own even if the old closure has
-- no variable of that name: builtins and loaded modules are the very objects
-- the service already uses.
local function shared_value(value, libraries)
  if type(value) == "function" then
    return getinfo(value, "S").what == "C"
  end
  return type(value) == "table" and libraries[value] == true
end

local function where(cell)
  local info = getinfo(cell.fn, "S")
  return format("%s:%d", info.short_src, info.linedefined)
end

local function add_unique(list, seen, name)
  if not seen[name] then
    seen[name] = true
    list[#list + 1] = name
  end
end

-- Plans the binding of one new function (and the new local functions it
-- uses) to the variables of the old closure. Fills `target` lists and
-- appends actions to `actions`.
local function plan_function(fn, target, old, ctx, actions, visited)
  visited[fn] = true
  local source = getinfo(fn, "S").source
  local i = 1
  while true do
    local name, value = getupvalue(fn, i)
    if name == nil then
      break
    end
    local cell, rivals = old.cells[name], old.rivals[name]
    if name == "_ENV" then
      -- The new code lives in the service, not in the script's sandbox.
      actions[#actions + 1] = { fn = fn, index = i, cell = cell, env = cell == nil }
    elseif type(value) == "function" and value ~= old.fn and upvalues.is_lua_function(value)
      and getinfo(value, "S").source == source then
      -- A local function of the patch: new code, bound the same way.
      if not visited[value] then
        add_unique(target.helpers, target.seen, name)
        plan_function(value, target, old, ctx, actions, visited)
      end
    elseif cell then
      local count = 0
      for _ in next, rivals do
        count = count + 1
      end
      if count > 1 then
        local places = {}
        for _, rival in next, rivals do
          places[#places + 1] = where(rival)
        end
        sort(places)
        target.refused[#target.refused + 1] = format(
          "upvalue '%s' is ambiguous: different variables of that name in %s", name, names(places))
      else
        add_unique(target.bound, target.seen, name)
        actions[#actions + 1] = { fn = fn, index = i, cell = cell }
      end
    elseif shared_value(value, ctx.libraries) then
      add_unique(target.kept, target.seen, name)
    elseif ctx.fresh_ok(name) then
      add_unique(target.fresh, target.seen, name)
    else
      add_unique(target.missing, target.seen, name)
    end
    i = i + 1
  end
end

local function plan_target(entry, opts, ctx, visited)
  local target = {
    path = entry.path, bound = {}, fresh = {}, kept = {}, helpers = {}, refused = {},
    missing = {}, seen = {},
  }
  local ok, err = pcall(function()
    local parent, key = entry.parent, entry.key
    if parent == nil then
      parent, key = locate(entry.path)
    end
    target.place = place(parent, key)
  end)
  if not ok then
    target.refused[1] = tostring(err)
    return target
  end
  local old_fn, new_fn = target.place.get(), entry.new
  if not upvalues.is_lua_function(old_fn) then
    target.refused[1] = format("no Lua function there to replace (found %s)", type(old_fn))
    return target
  end
  if not upvalues.is_lua_function(new_fn) then
    target.refused[1] = format("the replacement is not a Lua function (got %s)", type(new_fn))
    return target
  end
  local seeds = { old_fn }
  for _, f in ipairs(opts.search or {}) do
    seeds[#seeds + 1] = f
  end
  local cells, rivals = upvalues.collect(seeds, { same_source = true })
  local old = { fn = old_fn, cells = cells, rivals = rivals }
  target.new, target.actions = new_fn, {}
  plan_function(new_fn, target, old, ctx, target.actions, visited)
  if #target.missing > 0 then
    local quoted = {}
    for j, name in ipairs(target.missing) do
      quoted[j] = format("%q", name)
    end
    target.refused[#target.refused + 1] = format(
      "needs upvalue(s) the old closure does not have: %s (allow with fresh = {%s})",
      names(target.missing), concat(quoted, ", "))
  end
  return target
end

----- applying -----

local function apply(targets)
  for _, target in ipairs(targets) do
    for _, action in ipairs(target.actions) do
      if action.env then
        setupvalue(action.fn, action.index, _G)
      else
        upvaluejoin(action.fn, action.index, action.cell.fn, action.cell.index)
      end
    end
  end
  -- Installing is the only step that touches the service; undo it if a
  -- table refuses the assignment (a __newindex that raises).
  local done = {}
  for _, target in ipairs(targets) do
    local old = target.place.get()
    local ok, err = pcall(target.place.set, target.new)
    if not ok then
      for j = #done, 1, -1 do
        done[j][1].place.set(done[j][2])
      end
      return false, format("%s: %s", target.path, tostring(err))
    end
    done[#done + 1] = { target, old }
  end
  return true
end

local function finish(report)
  for _, target in ipairs(report.targets) do
    target.place, target.new, target.actions, target.missing, target.seen = nil, nil, nil, nil, nil
  end
  return setmetatable(report, Report)
end

local function run(spec, new, opts)
  if type(spec) ~= "string" then
    new, opts = nil, new
  end
  opts = opts or {}
  local entries = normalize(spec, new)
  local ctx = { fresh_ok = allowed_fresh(opts), libraries = upvalues.library_tables() }
  local report = { ok = true, applied = false, dry_run = opts.dry_run == true, targets = {} }
  local visited, places = {}, {}
  for _, entry in ipairs(entries) do
    local target = plan_target(entry, opts, ctx, visited)
    local fn = target.place and target.place.get()
    if fn ~= nil then
      if places[fn] then
        target.refused[#target.refused + 1] = "the same function is patched twice"
      end
      places[fn] = true
    end
    if #target.refused > 0 then
      report.ok = false
    end
    report.targets[#report.targets + 1] = target
  end
  if report.ok and not report.dry_run then
    local ok, err = apply(report.targets)
    if not ok then
      report.ok = false
      report.targets[#report.targets + 1] = { path = "(install)", refused = { err } }
    end
    report.applied = ok
  end
  return finish(report)
end

-- Patches all targets or none; raises the report if refused.
function M.patch(spec, new, opts)
  local report = run(spec, new, opts)
  if not report.ok then
    error(report, 0)
  end
  return report
end

-- The binding plan without applying it (never raises for a refusal).
function M.plan(spec, new, opts)
  if type(spec) ~= "string" then
    new, opts = nil, new
  end
  local dry = {}
  for k, v in next, opts or {} do
    dry[k] = v
  end
  dry.dry_run = true
  if type(spec) == "string" then
    return run(spec, new, dry)
  end
  return run(spec, dry)
end

return M
