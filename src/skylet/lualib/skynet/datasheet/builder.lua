-- skynet.datasheet.builder: publish tables for skynet.datasheet.
--   builder.new(name, v)     v: a table, or what builder.compile made
--   builder.update(name, v)  readers' proxies follow the new version
--   builder.compile(v)       the table as bytes, to publish later
-- skynet ships a diff to readers on update; skylet's readers re-read
-- (lazily, only what they touch) from the node's latest version.
local skynet = require "skynet"

local PREFIX = "datasheet\0"
local builder = {}
local published = {}
local daemon

local function sharedatad()
  daemon = daemon or skynet.uniqueservice("sharedatad")
  return daemon
end

local function bytes_of(v)
  if type(v) == "string" then
    return v
  end
  assert(type(v) == "table", "datasheet needs a table")
  return skynet.packstring(v)
end

function builder.compile(v)
  return bytes_of(v)
end

function builder.new(name, v)
  assert(published[name] == nil, "datasheet " .. tostring(name) .. " exists already")
  skynet.call(sharedatad(), "lua", "putbytes", PREFIX .. name, bytes_of(v))
  published[name] = true
end

function builder.update(name, v)
  assert(published[name], "datasheet " .. tostring(name) .. " was not made here")
  skynet.call(sharedatad(), "lua", "putbytes", PREFIX .. name, bytes_of(v))
end

return builder
