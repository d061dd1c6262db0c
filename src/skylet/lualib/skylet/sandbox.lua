-- The last seal the boot chunk puts on a VM before service code runs.
--
-- Lua's debug library sees through every closure: the upvalues and locals of
-- skylet's own loader functions hold the binary loader (forged bytecode
-- crashes the process), and a userdata's metatable (lupa's, for the node's
-- entry points; io's, for files) put on another userdata makes C code read
-- memory of the wrong shape. So, for service code:
--
-- * the functions the boot chunk seals (and the binary loader, the boot
--   chunk, and the functions below) are opaque: they show no upvalues
--   (getupvalue and upvalueid answer nil), theirs cannot be replaced or
--   joined, no local of a frame of theirs can be read or set, and
--   debug.getinfo never hands them out as `func`;
-- * no userdata metatable can be read (`getmetatable` answers the string
--   "protected"), and no metatable can be put on a userdata;
-- * user values of userdata cannot be replaced.
--
-- Everything else works as in Lua, on the service's own functions and on
-- skynet.lua's: hotfix and inject rebind upvalues of service code with
-- debug.upvaluejoin and read skynet.lua's internals through debug.getupvalue.
return function(sealed, raw_load, boot)
  local debug = debug
  local getinfo, getlocal, setlocal = debug.getinfo, debug.getlocal, debug.setlocal
  local getupvalue, setupvalue = debug.getupvalue, debug.setupvalue
  local upvalueid, upvaluejoin = debug.upvalueid, debug.upvaluejoin
  local raw_getmetatable, raw_setmetatable = debug.getmetatable, debug.setmetatable
  local type, error, ipairs = type, error, ipairs
  local running = coroutine.running

  local PROTECTED = "protected"
  -- Weak keys: a sealed function nothing else holds (the boot chunk, once
  -- it has returned) is out of everyone's reach already, and its code can go.
  local opaque = setmetatable({}, { __mode = "k" })
  for i = 1, #sealed do
    opaque[sealed[i]] = true
  end
  opaque[raw_load] = true
  opaque[boot] = true
  opaque[getinfo] = true
  opaque[getlocal] = true
  opaque[setlocal] = true
  opaque[getupvalue] = true
  opaque[setupvalue] = true
  opaque[upvalueid] = true
  opaque[upvaluejoin] = true
  opaque[raw_getmetatable] = true
  opaque[raw_setmetatable] = true
  local raw_setuservalue = debug.setuservalue
  opaque[raw_setuservalue] = true

  local function refuse(what)
    error(what .. " is not allowed on skylet's own functions", 3)
  end

  local function check_function(f, what)
    if opaque[f] then
      error(what .. " is not allowed on skylet's own functions", 3)
    end
  end

  -- Levels: in a wrapper called by service code, level 1 is the wrapper and
  -- level L of the service's count is L + 1. A thread argument that is the
  -- running coroutine is dropped, so that it counts the same way. No
  -- wrapper tail-calls, so the frames are where this says.
  local function other_thread(a)
    return type(a) == "thread" and a ~= running()
  end

  local function wrap_getinfo(a, b, c)
    local info
    if type(a) == "thread" and not other_thread(a) then
      a, b, c = b, c, nil
    end
    if type(a) == "thread" then
      info = getinfo(a, b, c or "flnSrtu")
    elseif type(a) == "number" then
      info = getinfo(a + 1, b or "flnSrtu")
    else
      info = getinfo(a, b or "flnSrtu")
    end
    if info and info.func ~= nil and opaque[info.func] then
      info.func = nil
    end
    return info
  end

  local function frame_is_opaque(thread, level)
    local info
    if thread == nil then
      info = getinfo(level, "f")
    else
      info = getinfo(thread, level, "f")
    end
    return info ~= nil and opaque[info.func] == true
  end

  -- A level as Lua's own functions read it: a string may be one ("3").
  local function as_level(a)
    if type(a) == "string" then
      return tonumber(a) or a
    end
    return a
  end

  -- getlocal/setlocal: ([thread,] level, n [, value]); getlocal(f, n) on a
  -- function value only names parameters, reading no live value.
  local function wrap_getlocal(a, b, c)
    if type(a) == "thread" and not other_thread(a) then
      a, b, c = b, c, nil
    end
    if type(a) == "thread" then
      b = as_level(b)
      if type(b) == "number" then
        if frame_is_opaque(a, b) then
          refuse "debug.getlocal"
        end
      end
      local name, value = getlocal(a, b, c)
      return name, value
    end
    a = as_level(a)
    if type(a) == "number" then
      -- frame_is_opaque adds a frame of its own: the service's level a is a + 2 there
      if frame_is_opaque(nil, a + 2) then
        refuse "debug.getlocal"
      end
      local name, value = getlocal(a + 1, b)
      return name, value
    end
    local name = getlocal(a, b)
    return name
  end

  local function wrap_setlocal(a, b, c, d)
    if type(a) == "thread" and not other_thread(a) then
      a, b, c, d = b, c, d, nil
    end
    if type(a) == "thread" then
      b = as_level(b)
      if type(b) == "number" then
        if frame_is_opaque(a, b) then
          refuse "debug.setlocal"
        end
      end
      local name = setlocal(a, b, c, d)
      return name
    end
    a = as_level(a)
    if type(a) == "number" and frame_is_opaque(nil, a + 2) then
      refuse "debug.setlocal"
    end
    local name = setlocal(type(a) == "number" and a + 1 or a, b, c)
    return name
  end

  -- Reading answers as for a function without upvalues (walkers such as
  -- hotfix's skip it); changing raises.
  local function wrap_getupvalue(f, n)
    if opaque[f] then
      return nil
    end
    local name, value = getupvalue(f, n)
    return name, value
  end
  local function wrap_setupvalue(f, n, v)
    check_function(f, "debug.setupvalue")
    local name = setupvalue(f, n, v)
    return name
  end
  local function wrap_upvalueid(f, n)
    if opaque[f] then
      return nil
    end
    local id = upvalueid(f, n)
    return id
  end
  local function wrap_upvaluejoin(f1, n1, f2, n2)
    check_function(f1, "debug.upvaluejoin")
    check_function(f2, "debug.upvaluejoin")
    upvaluejoin(f1, n1, f2, n2)
  end
  for _, f in ipairs { refuse, check_function, other_thread, as_level, frame_is_opaque, wrap_getinfo,
    wrap_getlocal, wrap_setlocal, wrap_getupvalue, wrap_setupvalue, wrap_upvalueid,
    wrap_upvaluejoin } do
    opaque[f] = true
  end

  -- Metatables of userdata: lupa's (the node's entry points) and io's get a
  -- __metatable field, so plain getmetatable answers "protected" too.
  local protected_mt = {}
  local function protect(value)
    local mt = raw_getmetatable(value)
    if mt ~= nil then
      protected_mt[mt] = true
      mt.__metatable = PROTECTED
    end
  end
  protect(io.stdout)
  local core = package.loaded["skylet.core"]
  protect(core.send)

  local function wrap_getmetatable(value)
    if type(value) == "userdata" then
      return raw_getmetatable(value) ~= nil and PROTECTED or nil
    end
    return raw_getmetatable(value)
  end
  local function wrap_setmetatable(value, mt)
    local kind = type(value)
    if kind == "userdata" or kind == "function" then
      -- Functions share one metatable, skylet's own C entry points included.
      error("debug.setmetatable: a " .. kind .. "'s metatable cannot be changed", 2)
    end
    if mt ~= nil and (type(mt) ~= "table" or protected_mt[mt]) then
      error("debug.setmetatable: the metatable must be nil or a table of the service's", 2)
    end
    return raw_setmetatable(value, mt)
  end
  local function wrap_setuservalue()
    error("debug.setuservalue is not available in a service", 2)
  end
  opaque[wrap_getmetatable] = true
  opaque[wrap_setmetatable] = true
  opaque[wrap_setuservalue] = true

  debug.getinfo = wrap_getinfo
  debug.getlocal = wrap_getlocal
  debug.setlocal = wrap_setlocal
  debug.getupvalue = wrap_getupvalue
  debug.setupvalue = wrap_setupvalue
  debug.upvalueid = wrap_upvalueid
  debug.upvaluejoin = wrap_upvaluejoin
  debug.getmetatable = wrap_getmetatable
  debug.setmetatable = wrap_setmetatable
  debug.setuservalue = wrap_setuservalue
end
