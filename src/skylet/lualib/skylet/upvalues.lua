-- Finding a service's live variables by name: the upvalues reachable from a
-- set of functions. Shared by skylet.inject (_U, _P) and skylet.hotfix.
--
-- A *cell* is one upvalue variable, named by the function that holds it and
-- its index there: { fn = f, index = i, name = n, id = debug.upvalueid(f, i) }.
-- Two closures share a variable exactly when their cells have the same id.
local getupvalue, setupvalue, upvalueid = debug.getupvalue, debug.setupvalue, debug.upvalueid
local getinfo = debug.getinfo
local next, type, setmetatable, error, tostring = next, type, setmetatable, error, tostring
local format = string.format

local M = {}

local function is_lua_function(f)
  return type(f) == "function" and getinfo(f, "S").what ~= "C"
end
M.is_lua_function = is_lua_function

-- Tables whose functions are not the service's own code: loaded modules
-- (skynet, string, ...) and the globals. Walking into them would pull every
-- library's internals into the name space.
local function library_tables()
  local skip = { [_G] = true }
  for _, value in next, package.loaded do
    if type(value) == "table" then
      skip[value] = true
    end
  end
  return skip
end
M.library_tables = library_tables

-- Walks breadth-first from `seeds` (a list of functions), so the variable
-- nearest a seed wins when two different ones share a name. Options:
--   tables      also follow the functions stored in table-valued upvalues
--               (a CMD table of handlers), except library tables;
--   same_source only follow functions defined in the same file as the seed
--               they were reached from (a closure's nested local functions);
--   into        an existing result to extend: names already there are kept.
-- Returns cells (name -> cell) and, per name, the set of distinct variables
-- found at the nearest depth (name -> { [id] = cell }) so callers can tell
-- when a name is ambiguous.
function M.collect(seeds, opts)
  opts = opts or {}
  local cells = opts.into or {}
  local known = {}
  for name in next, cells do
    known[name] = true
  end
  local rivals = {}
  local depth_of = {}
  local skip = opts.tables and library_tables() or nil
  local seen = {}
  local queue, head = {}, 1
  for _, f in next, seeds do
    if is_lua_function(f) and not seen[f] then
      seen[f] = true
      queue[#queue + 1] = { f, 0, getinfo(f, "S").source }
    end
  end
  local function enqueue(f, depth, source)
    if seen[f] or not is_lua_function(f) then
      return
    end
    if opts.same_source and getinfo(f, "S").source ~= source then
      return
    end
    seen[f] = true
    queue[#queue + 1] = { f, depth, source }
  end
  local walked_tables = {}
  while queue[head] do
    local f, depth, source = queue[head][1], queue[head][2], queue[head][3]
    head = head + 1
    local i = 1
    while true do
      local name, value = getupvalue(f, i)
      if name == nil then
        break
      end
      -- "" and "(...)" are C upvalues or stripped names: not addressable.
      if name ~= "" and name:sub(1, 1) ~= "(" and not known[name] then
        local id = upvalueid(f, i)
        local cell = cells[name]
        if cell == nil then
          cells[name] = { fn = f, index = i, name = name, id = id }
          depth_of[name] = depth
          rivals[name] = { [id] = cells[name] }
        elseif depth_of[name] == depth and not rivals[name][id] then
          rivals[name][id] = { fn = f, index = i, name = name, id = id }
        end
      end
      if name ~= "_ENV" then
        if type(value) == "function" then
          enqueue(value, depth + 1, source)
        elseif skip and type(value) == "table" and not skip[value] and not walked_tables[value] then
          walked_tables[value] = true
          for _, v in next, value do
            if type(v) == "function" then
              enqueue(v, depth + 1, source)
            end
          end
        end
      end
      i = i + 1
    end
  end
  return cells, rivals
end

function M.get(cell)
  local _, value = getupvalue(cell.fn, cell.index)
  return value
end

function M.set(cell, value)
  setupvalue(cell.fn, cell.index, value)
end

-- A view is a table standing for a set of cells: reading `view.count` reads
-- the live variable, assigning `view.count = 0` changes it for every closure
-- that shares it, and pairs() lists the names.
local views = setmetatable({}, { __mode = "k" })

function M.view(cells, what)
  local view = {}
  setmetatable(view, {
    __index = function(_, name)
      local cell = cells[name]
      if cell then
        return M.get(cell)
      end
    end,
    __newindex = function(_, name, value)
      local cell = cells[name]
      if cell == nil then
        error(format("%s has no upvalue named '%s'", what, tostring(name)), 2)
      end
      M.set(cell, value)
    end,
    __pairs = function()
      local name
      return function()
        local cell
        name, cell = next(cells, name)
        if name ~= nil then
          return name, M.get(cell)
        end
      end
    end,
    __tostring = function()
      return what
    end,
  })
  views[view] = cells
  return view
end

-- The cells behind a view, or nil for any other value.
function M.cells_of(view)
  return views[view]
end

return M
