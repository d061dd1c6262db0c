-- skynet.inject(skynet, source, filename, args, ...): run `source` with
--   _U  the tables among the upvalues reachable from the functions `...`
--       (following nested functions), by name; _U.proto is skynet's;
--   _P  the same per protocol, from each protocol's dispatch function;
--   print  collected into the output.
-- Returns true, output lines; or false, output lines ending with the error.
-- skynet's debug protocol used to call it for RUN; skylet's RUN is
-- skylet.inject (live _U/_P views and hotfix support), this module keeps
-- skynet's function for code that calls it directly.
local function tables_of(found, f, seen)
  local i = 1
  while true do
    local name, value = debug.getupvalue(f, i)
    if name == nil then
      return
    end
    local kind = type(value)
    if kind == "table" then
      found[name] = value
    elseif kind == "function" and not seen[value] then
      seen[value] = true
      tables_of(found, value, seen)
    end
    i = i + 1
  end
end

return function(skynet, source, filename, args, ...)
  local chunkname = filename and ("@" .. filename) or "=(load)"
  local output = {}
  local function print(...)
    local parts = table.pack(...)
    for i = 1, parts.n do
      parts[i] = tostring(parts[i])
    end
    output[#output + 1] = table.concat(parts, "\t", 1, parts.n)
  end
  local u, seen = {}, {}
  for _, f in ipairs({ ... }) do
    tables_of(u, f, seen)
  end
  local p = {}
  if u.proto then
    for _, class in pairs(u.proto) do
      local name, dispatch = class.name, class.dispatch
      if name and dispatch and not p[name] then
        local t = {}
        p[name] = t
        tables_of(t, dispatch, seen)
      end
    end
  end
  local env = setmetatable({ print = print, _U = u, _P = p }, { __index = _ENV })
  local f, err = load(source, chunkname, "t", env)
  if not f then
    return false, { err }
  end
  args = args or { n = 0 }
  local ok, why = pcall(f, table.unpack(args, 1, args.n or #args))
  if not ok then
    output[#output + 1] = tostring(why)
    return false, output
  end
  return true, output
end
