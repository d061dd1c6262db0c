-- skynet.sharedata: a read-only table shared by name across services.
--   sharedata.new(name, value, ...)     value: a table, Lua code, or "@file"
--   sharedata.update(name, value, ...)  every service's proxies see the new data
--   sharedata.delete(name)
--   sharedata.query(name)               a read-only proxy (pairs, #, ipairs work;
--                                       next() on it does not, as in skynet)
--   sharedata.deepcopy(name, k1, ...)   a plain copy of (a part of) it
-- The node keeps the table; a proxy materializes only the subtables this
-- service reads (skylet.sharedproxy). sharedatad builds tables and tells
-- the proxies' watchers about updates.
local skynet = require "skynet"
local proxy = require "skylet.sharedproxy"

local PREFIX = "sharedata\0"
local sharedata = {}
local sheets = {} -- name -> sheet of this service
local daemon

local function sharedatad()
  if daemon == nil then
    daemon = skynet.uniqueservice("sharedatad")
  end
  return daemon
end

local function watch(name, sheet)
  local version = sheet.version
  while true do
    version = skynet.call(sharedatad(), "lua", "watch", PREFIX .. name, version)
    if version == nil then
      break -- deleted
    end
    version = proxy.refresh(sheet) or version
  end
  if sheets[name] == sheet then
    sheets[name] = nil
  end
end

function sharedata.query(name)
  local sheet = sheets[name]
  if sheet then
    return sheet.root
  end
  sheet = proxy.open(PREFIX .. name)
  if sheet == nil then
    error(("sharedata %s does not exist"):format(name), 2)
  end
  sheets[name] = sheet
  skynet.fork(watch, name, sheet)
  return sheet.root
end

function sharedata.new(name, value, ...)
  skynet.call(sharedatad(), "lua", "new", PREFIX .. name, name, value, ...)
end

function sharedata.update(name, value, ...)
  skynet.call(sharedatad(), "lua", "put", PREFIX .. name, name, value, ...)
end

function sharedata.delete(name)
  skynet.call(sharedatad(), "lua", "delete", PREFIX .. name)
end

function sharedata.flush()
  collectgarbage()
end

function sharedata.deepcopy(name, ...)
  local node = sharedata.query(name)
  for i = 1, select("#", ...) do
    node = node[select(i, ...)]
    if type(node) ~= "table" then
      return node
    end
  end
  return proxy.copy(node)
end

return sharedata
