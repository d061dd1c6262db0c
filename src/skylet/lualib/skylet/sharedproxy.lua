-- Read-only proxies over a table the node shares by name (core command
-- SHARED): sharedata and datasheet. A proxy materializes its node (that
-- table's plain values, and proxies for its subtables) the first time it is
-- read, so a VM holds only the parts of a shared table it touches.
--
-- A sheet follows the node's latest version. When it moves on (refresh, or
-- a node read that finds a newer version), every proxy of the sheet forgets
-- its data and finds its place again by its key from its parent: a proxy a
-- service kept (local c = t.c) goes on showing t.c of the new version, or
-- an empty table if the update removed it.
local command = require "skylet.core".command
local unpack = require "skynet".unpack
local setmetatable, type, next, error, rawequal = setmetatable, type, next, error, rawequal

local M = {}

local state = setmetatable({}, { __mode = "k" }) -- proxy -> its state
local EMPTY = setmetatable({}, { __newindex = function() error("shared data is read-only", 2) end })

local meta = {}

local function new_proxy(sheet, parent, key, id)
  local p = setmetatable({}, meta)
  state[p] = { sheet = sheet, parent = parent, key = key, id = id, kids = {} }
  sheet.proxies[p] = true
  return p
end

-- Moves the sheet to `version`: every proxy forgets what it materialized.
local function move(sheet, version)
  sheet.version = version
  for p in next, sheet.proxies do
    local s = state[p]
    s.data = nil
    if s.parent then
      s.id = nil
    end
  end
end

local load

-- The node's bytes; or nil, true if the sheet had to move to a newer version.
local function fetch(sheet, id)
  local version, bytes = command("SHARED", "node", sheet.key, sheet.version, id)
  if version == nil then
    return nil -- deleted
  end
  if bytes then
    return bytes
  end
  move(sheet, version)
  return nil, true
end

function load(p)
  local s = state[p]
  local data = s.data
  if data then
    return data
  end
  local sheet = s.sheet
  if s.parent then
    load(s.parent) -- sets s.id if the parent still has a table at s.key
    if s.data then
      return s.data
    end
  end
  if not s.id then
    return EMPTY
  end
  local bytes, moved = fetch(sheet, s.id)
  if moved then
    return load(p)
  end
  if bytes == nil then
    return EMPTY
  end
  local plain, children = unpack(bytes)
  local kids = s.kids
  for key, id in next, children do
    local kid = kids[key]
    if kid == nil then
      kid = new_proxy(sheet, p, key, id)
      kids[key] = kid
    else
      state[kid].id = id
    end
    plain[key] = kid
  end
  for key, kid in next, kids do
    if children[key] == nil then
      kids[key] = nil -- no longer a table here: a kept proxy reads as empty
      state[kid].id = nil
    end
  end
  s.data = plain
  return plain
end

meta.__index = function(p, k)
  return load(p)[k]
end
meta.__newindex = function()
  error("shared data is read-only", 2)
end
meta.__len = function(p)
  return #load(p)
end
meta.__pairs = function(p)
  return next, load(p), nil
end

-- The sheet of `key` (the node's name for it), or nil if the node has none.
function M.open(key)
  local version = command("SHARED", "version", key)
  if version == nil then
    return nil
  end
  local sheet = { key = key, version = version, proxies = setmetatable({}, { __mode = "k" }) }
  sheet.root = new_proxy(sheet, nil, nil, 1)
  return sheet
end

-- Follow the node's latest version (after an update was announced).
function M.refresh(sheet)
  local version = command("SHARED", "version", sheet.key)
  if version and version ~= sheet.version then
    move(sheet, version)
  end
  return version
end

-- A plain deep copy of the data under a proxy (sharedata.deepcopy).
function M.copy(p)
  local out = {}
  for k, v in next, load(p) do
    if state[v] then
      v = M.copy(v)
    end
    out[k] = v
  end
  return out
end

M.is_proxy = function(v) return state[v] ~= nil end

return M
