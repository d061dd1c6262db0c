-- skynet.snax: services written as accept.*/response.* methods (snaxd).
--   local obj = snax.newservice(name, ...)  (uniqueservice, queryservice,
--                                            globalservice, queryglobal)
--   obj.post.NAME(...)       send to accept.NAME
--   obj.req.NAME(...)        call response.NAME
--   snax.kill(obj, ...) / snax.exit(...) / snax.self()
--   snax.hotfix(obj, source, ...) / snax.profile_info(obj) / snax.bind(handle, name)
local skynet = require "skynet"
local snax_interface = require "snax.interface"

local snax = {}
local typeclass = {}

-- The client reads a service's file only to number its methods; the globals
-- it sees are G (config `snax_interface_g`: a module to use as G).
local interface_g = skynet.getenv("snax_interface_g")
local G = interface_g and require(interface_g) or { require = function() end }

skynet.register_protocol {
  name = "snax",
  id = skynet.PTYPE_SNAX,
  pack = skynet.pack,
  unpack = skynet.unpack,
}

function snax.interface(name)
  local t = typeclass[name]
  if t then
    return t
  end
  t = { name = name, accept = {}, response = {}, system = {} }
  for _, method in ipairs(snax_interface(name, G)) do
    local id, group, method_name = method[1], method[2], method[3]
    t[group][method_name] = id
  end
  typeclass[name] = t
  return t
end

local object_meta = {
  __tostring = function(v)
    return string.format("[%s:%x]", v.type, v.handle)
  end,
}

local function post(handle, proto, id, ...)
  skynet.send(handle, proto, id, ...) -- nothing to return
end

local function methods(t, handle, group, verb, call)
  return setmetatable({}, { __index = function(_, k)
    local id = t[group][k]
    if not id then
      error(string.format("%s %s:%s no exist", verb, t.name, k))
    end
    return function(...)
      return call(handle, "snax", id, ...)
    end
  end })
end

local bound = setmetatable({}, { __mode = "kv" })

function snax.rawnewservice(name, ...)
  local t = snax.interface(name)
  local handle = skynet.newservice("snaxd", name)
  assert(bound[handle] == nil)
  if t.system.init then
    skynet.call(handle, "snax", t.system.init, ...)
  end
  return handle
end

function snax.bind(handle, name)
  local obj = bound[handle]
  if obj then
    assert(obj.type == name)
    return obj
  end
  local t = snax.interface(name)
  obj = setmetatable({
    post = methods(t, handle, "accept", "post", post),
    req = methods(t, handle, "response", "request", skynet.call),
    type = name,
    handle = handle,
  }, object_meta)
  bound[handle] = obj
  return obj
end

function snax.newservice(name, ...)
  return snax.bind(snax.rawnewservice(name, ...), name)
end

local function from_service_mgr(cmd, name, ...)
  return snax.bind(assert(skynet.call(".service", "lua", cmd, "snaxd", name, ...)), name)
end

function snax.uniqueservice(name, ...)
  return from_service_mgr("LAUNCH", name, ...)
end

function snax.globalservice(name, ...)
  return from_service_mgr("GLAUNCH", name, ...)
end

function snax.queryservice(name)
  return from_service_mgr("QUERY", name)
end

function snax.queryglobal(name)
  return from_service_mgr("GQUERY", name)
end

function snax.kill(obj, ...)
  local t = snax.interface(obj.type)
  skynet.call(obj.handle, "snax", t.system.exit, ...)
end

function snax.self()
  return snax.bind(skynet.self(), SERVICE_NAME)
end

function snax.exit(...)
  snax.kill(snax.self(), ...)
end

local function raise_unless(ok, ...)
  if ok then
    return ...
  end
  error(...)
end

function snax.hotfix(obj, source, ...)
  local t = snax.interface(obj.type)
  return raise_unless(skynet.call(obj.handle, "snax", t.system.hotfix, source, ...))
end

function snax.printf(fmt, ...)
  skynet.error(string.format(fmt, ...))
end

function snax.profile_info(obj)
  local t = snax.interface(obj.type)
  return skynet.call(obj.handle, "snax", t.system.profile)
end

return snax
