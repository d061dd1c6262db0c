-- skynet.datasheet: read a table that skynet.datasheet.builder publishes.
--   datasheet.query(name)  a read-only proxy that follows the builder's
--                          updates (tables kept from it follow too)
-- As sharedata, over the node's shared tables (skylet.sharedproxy).
local skynet = require "skynet"
local proxy = require "skylet.sharedproxy"

local PREFIX = "datasheet\0"
local datasheet = {}
local sheets = {}
local daemon

local function watch(name, sheet)
  local version = sheet.version
  while true do
    version = skynet.call(daemon, "lua", "watch", PREFIX .. name, version)
    if version == nil then
      break
    end
    version = proxy.refresh(sheet) or version
  end
end

function datasheet.query(name)
  local sheet = sheets[name]
  if sheet then
    return sheet.root
  end
  sheet = proxy.open(PREFIX .. name)
  if sheet == nil then
    error("create data first", 2)
  end
  sheets[name] = sheet
  daemon = daemon or skynet.uniqueservice("sharedatad")
  skynet.fork(watch, name, sheet)
  return sheet.root
end

return datasheet
