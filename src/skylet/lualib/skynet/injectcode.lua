-- skynet.injectcode(source, co, level, ext): run `source` as if written
-- inside a live function: it sees that frame's locals, the function's
-- upvalues and the frame's varargs (...); the locals it assigns are written
-- back to the frame, the upvalues it assigns are the function's own.
-- co defaults to the running coroutine and level 0 is then the caller of
-- injectcode; for another coroutine, level is a stack level of it (1: its
-- innermost function). `ext` adds names (e.g. functions) the code can use.
-- Returns true and what the code returned, or false and the error.
local getinfo, getlocal, setlocal = debug.getinfo, debug.getlocal, debug.setlocal
local getupvalue, setupvalue, upvaluejoin = debug.getupvalue, debug.setupvalue, debug.upvaluejoin

local TEMPLATE = [[
local %s
return function(...)
%s
end, function()
return {%s}
end
]]

local function write_back(co, frame, get_locals, ok, ...)
  if not ok then
    return false, (...)
  end
  for index, value in pairs(get_locals()) do
    setlocal(co, frame, index, value)
  end
  return true, ...
end

return function(source, co, level, ext)
  local here = coroutine.running()
  co = co or here
  level = level or 0
  -- In this function's own coroutine, level 1 is this function.
  local frame = co == here and level + 2 or level
  local info = getinfo(co, frame, "f")
  if info == nil then
    return false, "Invalid level"
  end
  local f = info.func

  local names, local_slots, local_value, upvalue_index = {}, {}, {}, {}
  for name in pairs(ext or {}) do
    names[#names + 1] = name
  end
  local i = 1
  while true do
    local name, value = getlocal(co, frame, i)
    if name == nil then
      break
    end
    if name:byte() ~= 40 then -- "(temporary)" and the like
      names[#names + 1] = name
      local_slots[#local_slots + 1] = ("[%d]=%s,"):format(i, name)
      local_value[name] = value
    end
    i = i + 1
  end
  i = 1
  while true do
    local name = getupvalue(f, i)
    if name == nil then
      break
    end
    upvalue_index[name] = i
    names[#names + 1] = name
    i = i + 1
  end

  local declared = #names > 0 and table.concat(names, ",") or "_"
  local loader, err = load(TEMPLATE:format(declared, source, table.concat(local_slots)), "=(debug)", "t")
  if loader == nil then
    return false, err
  end
  local run, get_locals = loader()
  i = 1
  while true do
    local name = getupvalue(run, i)
    if name == nil then
      break
    end
    if ext and ext[name] ~= nil then
      setupvalue(run, i, ext[name])
    end
    if local_value[name] ~= nil then
      setupvalue(run, i, local_value[name])
    end
    if upvalue_index[name] then
      upvaluejoin(run, i, f, upvalue_index[name])
    end
    i = i + 1
  end

  local varargs, n = {}, 0
  while true do
    local name, value = getlocal(co, frame, -(n + 1))
    if name == nil then
      break
    end
    n = n + 1
    varargs[n] = value
  end
  return write_back(co, frame, get_locals, pcall(run, table.unpack(varargs, 1, n)))
end
