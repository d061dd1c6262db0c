-- Read-only proxies over a table the node shares by name (core command
-- SHARED): sharedata and datasheet. A proxy materializes its node (the
-- table's plain values and the node ids of its subtables) the first time
-- it is read, and makes proxies for subtables only as they are read, so a
-- VM holds only the parts of a shared table it touches.
--
-- A sheet follows the node's latest version. Each proxy remembers the
-- version it materialized; once the sheet has moved on (refresh after an
-- update, or a node read that met a newer version) a proxy re-reads itself
-- on its next use, finding its node again by its key from its parent: a
-- proxy a service kept (local c = t.c) goes on showing t.c of the new
-- version, or an empty table if the update removed it.
local command = require "skylet.core".command
local unpack = require "skynet".unpack
local setmetatable, next, error, rawget, rawset = setmetatable, next, error, rawget, rawset

local M = {}

-- A proxy's own fields, under keys no user key can equal (a proxy is read
-- through __index, __pairs and __len only, so they never show). Few of them,
-- and none when not needed (no CHILDREN, LEN or KIDS on a leaf): a VM that
-- walks a big table holds one proxy per subtable. The sheet is reached
-- through the metatable, one per sheet.
local PARENT, KEY, VERSION, DATA, CHILDREN, LEN, KIDS = {}, {}, {}, {}, {}, {}, {}
local NONE = {}
local metas = setmetatable({}, { __mode = "k" }) -- metatable of a proxy -> its sheet

local function fetch(sheet, id)
  while true do
    local version, bytes = command("SHARED", "node", sheet.key, sheet.version, id)
    if version == nil then
      return nil -- deleted
    end
    if bytes then
      return bytes
    end
    if id ~= 1 then
      return nil, version -- our id is stale: re-find it from the root
    end
    sheet.version = version
  end
end

-- Makes p's fields current; returns false if p's table is gone.
local function load(p, sheet)
  if rawget(p, VERSION) == sheet.version then
    return rawget(p, DATA) ~= NONE
  end
  local id = 1
  local parent = rawget(p, PARENT)
  if parent then
    id = load(parent, sheet) and (rawget(parent, CHILDREN) or NONE)[rawget(p, KEY)]
  end
  local bytes, moved
  if id then
    bytes, moved = fetch(sheet, id)
    if moved then
      sheet.version = moved
      return load(p, sheet)
    end
  end
  rawset(p, VERSION, sheet.version)
  if bytes == nil then
    rawset(p, DATA, NONE)
    rawset(p, CHILDREN, nil)
    rawset(p, LEN, nil)
    return false
  end
  local data, children, len = unpack(bytes)
  rawset(p, DATA, data)
  rawset(p, CHILDREN, children)
  rawset(p, LEN, len)
  return true
end

local function kid(p, key, meta)
  local kids = rawget(p, KIDS)
  if kids == nil then
    kids = {}
    rawset(p, KIDS, kids)
  end
  local k = kids[key]
  if k == nil then
    k = setmetatable({ [PARENT] = p, [KEY] = key }, meta)
    kids[key] = k
  end
  return k
end

local function read_only()
  error("shared data is read-only", 2)
end

local function make_meta(sheet)
  local meta = { __newindex = read_only }

  function meta.__index(p, key)
    load(p, sheet)
    local v = rawget(p, DATA)[key]
    if v == nil then
      local children = rawget(p, CHILDREN)
      if children and children[key] then
        return kid(p, key, meta)
      end
    end
    return v
  end

  function meta.__len(p)
    load(p, sheet)
    return rawget(p, LEN) or #rawget(p, DATA)
  end

  -- Plain values first, then subtables (their keys never overlap).
  local function iterate(p, key)
    local data, children = rawget(p, DATA), rawget(p, CHILDREN) or NONE
    local v
    if key == nil or children[key] == nil then
      key, v = next(data, key)
      if key ~= nil then
        return key, v
      end
    end
    key = next(children, key)
    if key ~= nil then
      return key, kid(p, key, meta)
    end
  end

  function meta.__pairs(p)
    load(p, sheet)
    return iterate, p, nil
  end

  metas[meta] = sheet
  return meta
end

-- The sheet of `key` (the node's name for it), or nil if the node has none.
function M.open(key)
  local version = command("SHARED", "version", key)
  if version == nil then
    return nil
  end
  local sheet = { key = key, version = version }
  sheet.root = setmetatable({}, make_meta(sheet))
  return sheet
end

-- Follow the node's latest version (after an update was announced).
function M.refresh(sheet)
  local version = command("SHARED", "version", sheet.key)
  if version then
    sheet.version = version
  end
  return version
end

-- A plain deep copy of the data under a proxy (sharedata.deepcopy).
function M.copy(p)
  local out = {}
  for k, v in pairs(p) do
    if metas[getmetatable(v)] then
      v = M.copy(v)
    end
    out[k] = v
  end
  return out
end

return M
