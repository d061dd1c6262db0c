-- skynet.sharemap: a table one service writes and others read, over
-- skynet.stm.
--   sharemap.register(protofile)          the sproto schema of the types
--   local w = sharemap.writer(typename, t) w.x = 1; w:commit(); w:copy()
--   local r = sharemap.reader(typename, copy) r:update(); r.x
-- skynet encodes with sproto (schema from register). Where sproto is not
-- installed, skylet encodes with skynet.pack instead: the same behaviour
-- without a schema (register then fails).
local skynet = require "skynet"
local stm = require "skynet.stm"
local setmetatable, pairs = setmetatable, pairs

local has_sproto, sprotoloader = pcall(require, "sprotoloader")

local sharemap = {}

local codec -- :encode(typename, t) / :decode(typename, msg, sz, into)
local pack_codec = {
  encode = function(_, _, t)
    return skynet.packstring(t)
  end,
  decode = function(_, _, msg, _, into)
    local t = skynet.unpack(msg)
    if into then
      for k, v in pairs(t) do
        into[k] = v
      end
      return into
    end
    return t
  end,
}

function sharemap.register(protofile)
  if not has_sproto then
    error("sharemap.register needs sproto, which is not installed", 2)
  end
  sprotoloader.register(protofile, 0) -- slot 0: the types of sharemap
end

local function load_codec()
  if codec == nil then
    codec = has_sproto and sprotoloader.load(0) or pack_codec
  end
  return codec
end

function sharemap:commit()
  self.__obj(codec:encode(self.__typename, self.__data))
end

function sharemap:copy()
  return stm.copy(self.__obj)
end

function sharemap.writer(typename, obj)
  local c = load_codec()
  obj = obj or {}
  local ret = {
    __typename = typename,
    __obj = stm.new(c:encode(typename, obj)),
    __data = obj,
    commit = sharemap.commit,
    copy = sharemap.copy,
  }
  return setmetatable(ret, { __index = obj, __newindex = obj })
end

local function decode_into(msg, sz, self)
  local data = self.__data
  for k in pairs(data) do
    data[k] = nil
  end
  return codec:decode(self.__typename, msg, sz, data)
end

function sharemap:update()
  return self.__obj(decode_into, self)
end

function sharemap.reader(typename, stmcpy)
  local c = load_codec()
  local obj = stm.newcopy(stmcpy)
  local _, data = obj(function(msg, sz)
    return c:decode(typename, msg, sz)
  end)
  local ret = {
    __typename = typename,
    __obj = obj,
    __data = data,
    update = sharemap.update,
  }
  return setmetatable(ret, { __index = data, __newindex = error })
end

return sharemap
