-- Walks everything a service's code can reach, the way an attacker would:
-- globals, package.loaded and the searchers, every function's upvalues,
-- every value's metatable, user values, the hook, the frames and locals of
-- the running stack and of every coroutine found. Returns what it found that
-- a contained service must not reach.
local walker = {}

-- `known` maps the userdata a service may hold (its own entry points) to names.
function walker.walk(extra_roots, known)
  local seen = {}
  local queue = {}
  local functions, tables, userdata_seen = 0, 0, 0
  local named = {}        -- C function -> a path where the standard library keeps it
  local c_functions = {}  -- C function -> the first path it was reached by
  local userdata = {}     -- description -> true
  local exposed_mt = {}   -- userdata whose metatable came back as a table
  local threads = {}

  local function push(value, path)
    local kind = type(value)
    if (kind == "table" or kind == "function" or kind == "userdata" or kind == "thread")
      and not seen[value] then
      seen[value] = path
      queue[#queue + 1] = value
    end
  end

  -- The standard library's own C functions, by the names it gives them.
  for libname, lib in pairs {
    _G = _G, string = string, table = table, math = math, os = os, io = io,
    coroutine = coroutine, utf8 = utf8, debug = debug, package = package,
    ["string metatable"] = getmetatable(""),
  } do
    for k, v in pairs(lib) do
      if type(v) == "function" then named[v] = libname .. "." .. tostring(k) end
    end
  end
  for modname, mod in pairs(package.loaded) do
    if type(mod) == "table" then
      for k, v in pairs(mod) do
        if type(v) == "function" and not named[v] then named[v] = modname .. "." .. tostring(k) end
      end
    end
  end
  for i, f in ipairs(package.searchers) do named[f] = named[f] or ("searcher" .. i) end

  push(_G, "_G")
  push(package.loaded, "package.loaded")
  push(package.searchers, "package.searchers")
  push(getmetatable(""), "string metatable")
  push(debug.gethook(), "hook")
  for k, v in pairs(extra_roots or {}) do push(v, "root." .. tostring(k)) end
  for level = 1, 100 do
    local info = debug.getinfo(level, "f")
    if not info then break end
    if info.func then push(info.func, "stack" .. level) end
    for n = 1, 200 do
      local ok, name, value = pcall(debug.getlocal, level, n)
      if not ok or name == nil then break end
      push(value, "stack" .. level .. "." .. name)
    end
  end

  local head = 1
  while queue[head] do
    local value = queue[head]
    head = head + 1
    local path = seen[value]
    local kind = type(value)
    if kind == "table" then
      tables = tables + 1
      for k, v in next, value do
        push(k, path .. "[key]")
        push(v, path .. "." .. tostring(k))
      end
    elseif kind == "function" then
      functions = functions + 1
      if debug.getinfo(value, "S").what == "C" then
        c_functions[value] = path
      end
      for i = 1, 255 do
        local name, v = debug.getupvalue(value, i)
        if name == nil then break end
        push(v, path .. "^" .. (name ~= "" and name or tostring(i)))
      end
    elseif kind == "userdata" then
      userdata_seen = userdata_seen + 1
      if io.type(value) then
        userdata["file"] = true
      elseif known and known[value] then
        userdata[known[value]] = true
      elseif debug.getmetatable(value) == nil then
        -- no metatable, so no C code treats it as anything (math.random's state);
        -- lupa gives every Python object one
        userdata["plain"] = true
      else
        userdata["UNKNOWN " .. path] = true
      end
      local mt = debug.getmetatable(value)
      if type(mt) == "table" then exposed_mt[#exposed_mt + 1] = path end
      local plain = getmetatable(value)
      if type(plain) == "table" then exposed_mt[#exposed_mt + 1] = path .. " (getmetatable)" end
      for n = 1, 4 do
        local uv, present = debug.getuservalue(value, n)
        if not present then break end
        push(uv, path .. ".uservalue" .. n)
      end
    elseif kind == "thread" then
      threads[#threads + 1] = value
      for level = 0, 100 do
        local info = debug.getinfo(value, level, "f")
        if not info then break end
        if info.func then push(info.func, path .. "@" .. level) end
        for n = 1, 200 do
          local ok, name, v = pcall(debug.getlocal, value, level, n)
          if not ok or name == nil then break end
          push(v, path .. "@" .. level .. "." .. name)
        end
      end
    end
    if kind ~= "string" then
      local mt = debug.getmetatable(value)
      if type(mt) == "table" then push(mt, path .. "<mt>") end
    end
  end

  local unknown = {}
  for f, path in pairs(c_functions) do
    if not named[f] then
      -- The closures coroutine.wrap makes (their one upvalue is the coroutine).
      local _, up = debug.getupvalue(f, 1)
      if type(up) ~= "thread" then unknown[#unknown + 1] = path end
    end
  end
  table.sort(unknown)
  local kinds = {}
  for description in pairs(userdata) do kinds[#kinds + 1] = description end
  table.sort(kinds)
  return {
    functions = functions, tables = tables, userdata = userdata_seen, threads = #threads,
    unknown_c_functions = unknown, userdata_kinds = kinds, exposed_metatables = exposed_mt,
  }
end

return walker
