-- skynet.sharetable: tables loaded once and queried by name.
--   sharetable.loadfile(name, ...)            run a file (with ...) that returns the table
--   sharetable.loadstring(name, code, ...)    the same from a string
--   sharetable.loadtable(name, t)
--   sharetable.query(name)                    the table (nil if none)
--   sharetable.queryall({names}) / queryall() name -> table, for the names given or all
--   sharetable.update(name, ...)              tables this service queried before take
--                                             the latest version's contents
-- skynet's VMs share one copy (a patched Lua). skylet's VMs cannot share
-- Lua tables: the node keeps the table as bytes and each query decodes a
-- real Lua table in the querying VM (a copy per VM; docs/benchmarks.md has
-- what that costs). update() rewrites the tables it handed out in place, so
-- references into them see the new values (skynet swaps references instead).
local skynet = require "skynet"
local command = require "skylet.core".command

local PREFIX = "sharetable\0"
local sharetable = {}
local handed = {} -- name -> set of tables this service got (weak)
local daemon

local function sharedatad()
  daemon = daemon or skynet.uniqueservice("sharedatad")
  return daemon
end

function sharetable.loadfile(filename, ...)
  skynet.call(sharedatad(), "lua", "load", PREFIX .. filename, filename, "@" .. filename, ...)
end

function sharetable.loadstring(filename, source, ...)
  skynet.call(sharedatad(), "lua", "load", PREFIX .. filename, filename, source, ...)
end

function sharetable.loadtable(filename, tbl)
  assert(type(tbl) == "table")
  skynet.call(sharedatad(), "lua", "putbytes", PREFIX .. filename, skynet.packstring(tbl))
end

local function fetch(filename)
  local _, bytes = command("SHARED", "get", PREFIX .. filename)
  if bytes then
    return (skynet.unpack(bytes))
  end
end

local function record(filename, t)
  local set = handed[filename]
  if set == nil then
    set = setmetatable({}, { __mode = "k" })
    handed[filename] = set
  end
  set[t] = true
  return t
end

function sharetable.query(filename)
  local t = fetch(filename)
  if t then
    return record(filename, t)
  end
end

function sharetable.queryall(filenamelist)
  if filenamelist == nil then
    filenamelist = skynet.unpack(command("SHARED", "names", PREFIX))
  end
  local list = {}
  for _, filename in ipairs(filenamelist) do
    list[filename] = sharetable.query(filename)
  end
  return list
end

-- Makes `old` hold what `new` holds, keeping the identity of the subtables
-- both have at the same key.
local function overwrite(old, new)
  for k in pairs(old) do
    if new[k] == nil then
      old[k] = nil
    end
  end
  for k, v in pairs(new) do
    local was = old[k]
    if type(was) == "table" and type(v) == "table" then
      overwrite(was, v)
    else
      old[k] = v
    end
  end
end

function sharetable.update(...)
  for i = 1, select("#", ...) do
    local filename = select(i, ...)
    local set = handed[filename]
    if set and next(set) then
      local new = fetch(filename)
      if new then
        for old in pairs(set) do
          overwrite(old, new)
        end
      end
    end
  end
end

return sharetable
