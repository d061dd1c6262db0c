-- skynet.sharemap: a table one service writes and others read, over
-- skynet.stm, encoded with sproto as in skynet.
--   sharemap.register(protofile)          the sproto schema of the types
--   local w = sharemap.writer(typename, t) w.x = 1; w:commit(); w:copy()
--   local r = sharemap.reader(typename, copy) r:update(); r.x
local stm = require "skynet.stm"
local sprotoloader = require "sprotoloader"
local setmetatable, pairs = setmetatable, pairs

local sharemap = {}

local codec -- the sproto object of slot 0: :encode(typename, t) / :decode(typename, msg, sz, into)

function sharemap.register(protofile)
  sprotoloader.register(protofile, 0) -- slot 0: the types of sharemap
end

local function load_codec()
  if codec == nil then
    codec = sprotoloader.load(0)
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
