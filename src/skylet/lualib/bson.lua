-- bson: skynet's BSON module (API of skynet's lua-bson.c), written in Lua
-- from the BSON spec (bsonspec.org). All integers are little-endian.
--
-- bson.encode(table) / bson.encode_order(k1, v1, k2, v2, ...) return a
-- document object: doc:decode() -> table, tostring(doc) -> its bytes, #doc,
-- and after doc:makeindex(), doc.key = value rewrites a fixed-size field in
-- place. bson.decode(doc or bytes) -> table.
--
-- Lua values map as skynet's: integers -> int32 or int64 by size, floats ->
-- double, tables -> array (a sequence, or __len) or document (keys must be
-- strings; __pairs is honoured), document objects -> embedded documents.
-- BSON's other types are Lua strings that begin with "\0" and the type byte,
-- built by bson.binary, objectid, date, timestamp, regex, int64, and the
-- constants null, minkey, maxkey; bson.type(v) tells them apart.
local string_pack, string_unpack, char, byte, sub, concat =
  string.pack, string.unpack, string.char, string.byte, string.sub, table.concat
local type, tostring, error, pairs, next, rawlen, getmetatable, setmetatable =
  type, tostring, error, pairs, next, rawlen, getmetatable, setmetatable
local math_type, utf8_len = math.type, utf8.len

local T_DOUBLE, T_STRING, T_DOCUMENT, T_ARRAY, T_BINARY = 1, 2, 3, 4, 5
local T_OBJECTID, T_BOOLEAN, T_DATE, T_NULL, T_REGEX = 7, 8, 9, 10, 11
local T_DBPOINTER, T_JSCODE, T_SYMBOL, T_CODEWS = 12, 13, 14, 15
local T_INT32, T_TIMESTAMP, T_INT64, T_MINKEY, T_MAXKEY = 16, 17, 18, 255, 127
local MAX_DEPTH = 128

local bson = {}
bson.null = "\0" .. char(T_NULL)
bson.minkey = "\0" .. char(T_MINKEY)
bson.maxkey = "\0" .. char(T_MAXKEY)

----- document objects

local BYTES = setmetatable({}, { __mode = "k" }) -- document -> its bytes
local INDEX = setmetatable({}, { __mode = "k" }) -- document -> makeindex's table
local document_meta = {}
local methods = {}

local function new_document(bytes)
  local doc = setmetatable({}, document_meta)
  BYTES[doc] = bytes
  return doc
end

local function is_document(v)
  return BYTES[v] ~= nil
end

document_meta.__index = methods
document_meta.__tostring = function(doc)
  return BYTES[doc]
end
document_meta.__len = function(doc)
  return #BYTES[doc]
end
document_meta.__name = "bson"

----- encoding

local function check_utf8(s)
  if not utf8_len(s) then
    error("Invalid utf8 string", 0)
  end
end

local function cstring(s)
  check_utf8(s)
  if s:find("\0", 1, true) then
    error("Invalid key or regex (contains \\0): " .. s:gsub("%z", "\\0"), 0)
  end
  return s .. "\0"
end

local encode_table

local function int32(v)
  return string_pack("<i4", v)
end

-- One element: type byte, key, value, appended to out.
local function element(out, key, v, depth)
  local t = type(v)
  local k = cstring(key)
  if t == "number" then
    if math_type(v) == "integer" then
      if v >= -0x80000000 and v <= 0x7fffffff then
        out[#out + 1] = char(T_INT32) .. k .. int32(v)
      else
        out[#out + 1] = char(T_INT64) .. k .. string_pack("<i8", v)
      end
    else
      out[#out + 1] = char(T_DOUBLE) .. k .. string_pack("<d", v)
    end
  elseif t == "string" then
    if #v > 1 and byte(v, 1) == 0 then
      local subtype = byte(v, 2)
      local body = sub(v, 3)
      local value
      if subtype == T_BINARY then
        if #body < 1 then
          error("Invalid binary", 0)
        end
        value = int32(#body - 1) .. body -- body = subtype byte + data
      elseif subtype == T_OBJECTID then
        if #body ~= 12 then
          error("Invalid object id", 0)
        end
        value = body
      elseif subtype == T_JSCODE or subtype == T_DBPOINTER or subtype == T_SYMBOL or subtype == T_CODEWS then
        value = body -- kept as read
      elseif subtype == T_DATE then
        if #body ~= 4 then
          error("Invalid date", 0)
        end
        value = string_pack("<i8", string_unpack("<I4", body) * 1000)
      elseif subtype == T_TIMESTAMP then
        if #body ~= 8 then
          error("Invalid timestamp", 0)
        end
        value = body -- increment, then seconds
      elseif subtype == T_REGEX then
        local pattern, options = body:match("^(.*)%z(.-)%z$")
        if not pattern then
          error("Invalid regex", 0)
        end
        value = cstring(pattern) .. cstring(options)
      elseif subtype == T_MINKEY or subtype == T_MAXKEY or subtype == T_NULL then
        value = ""
      elseif subtype == T_INT64 then
        if #body ~= 8 then
          error("Invalid int64", 0)
        end
        value = body
      else
        error("Invalid subtype " .. subtype, 0)
      end
      out[#out + 1] = char(subtype) .. k .. value
    else
      check_utf8(v)
      out[#out + 1] = char(T_STRING) .. k .. int32(#v + 1) .. v .. "\0"
    end
  elseif t == "table" then
    local bytes = BYTES[v]
    if bytes then
      out[#out + 1] = char(T_DOCUMENT) .. k .. bytes
    else
      local kind, body = encode_table(v, depth + 1)
      out[#out + 1] = char(kind) .. k .. body
    end
  elseif t == "boolean" then
    out[#out + 1] = char(T_BOOLEAN) .. k .. (v and "\1" or "\0")
  elseif t == "nil" then
    error("Bson array has a hole (nil), Use bson.null instead", 0)
  else
    error("Invalid value type : " .. t, 0)
  end
end

local function close_document(out)
  out[#out + 1] = "\0"
  local body = concat(out)
  return int32(#body + 4) .. body
end

local function array_body(t, n, depth)
  local out = {}
  for i = 1, n do
    element(out, tostring(i - 1), t[i], depth)
  end
  return close_document(out)
end

local function dict_entry(out, k, v, depth)
  local kt = type(k)
  if kt == "string" then
    element(out, k, v, depth)
  elseif kt == "number" then
    error("Bson dictionary's key can't be number", 0)
  else
    error("Invalid key type : " .. kt, 0)
  end
end

local function dict_body(t, depth)
  local out = {}
  local mt = getmetatable(t)
  if mt and mt.__pairs then
    for k, v in pairs(t) do
      dict_entry(out, k, v, depth)
    end
  else
    for k, v in next, t do
      dict_entry(out, k, v, depth)
    end
  end
  return close_document(out)
end

-- skynet's rule: a table is an array if its first key (in next's order) is
-- 1, or an integer within its length.
local function is_array(t)
  local k = next(t)
  if math_type(k) ~= "integer" then
    return false
  end
  if k <= 1 then
    return k == 1
  end
  return k <= rawlen(t)
end

function encode_table(t, depth)
  if depth > MAX_DEPTH then
    error("Too depth while encoding bson", 0)
  end
  local mt = getmetatable(t)
  if mt and mt.__len then
    local n = #t
    if math_type(n) ~= "integer" then
      error("__len should return integer", 0)
    end
    return T_ARRAY, array_body(t, n, depth)
  elseif mt and mt.__pairs then
    return T_DOCUMENT, dict_body(t, depth)
  elseif is_array(t) then
    return T_ARRAY, array_body(t, rawlen(t), depth)
  end
  return T_DOCUMENT, dict_body(t, depth)
end

-- Errors are raised at the caller's level, with skynet's messages.
local function protected(f, ...)
  local ok, r = pcall(f, ...)
  if not ok then
    error(r, 3)
  end
  return r
end

function bson.encode(t)
  if type(t) ~= "table" then
    error("bad argument #1 to 'encode' (table expected, got " .. type(t) .. ")", 2)
  end
  return protected(function()
    return new_document(dict_body(t, 0))
  end)
end

function bson.encode_order(...)
  local n = select("#", ...)
  if n % 2 ~= 0 then
    error("Invalid ordered dict", 2)
  end
  local args = { ... }
  return protected(function()
    local out = {}
    for i = 1, n, 2 do
      local key = args[i]
      if type(key) ~= "string" and type(key) ~= "number" then
        error("Argument " .. i .. " need a string", 0)
      end
      element(out, tostring(key), args[i + 1], 0)
    end
    return new_document(close_document(out))
  end)
end

----- decoding

local function fail(why)
  error("Invalid bson block (" .. why .. ")", 0)
end

local function read_cstring(s, pos, limit)
  local z = s:find("\0", pos, true)
  if not z or z > limit then
    fail("cstring")
  end
  return sub(s, pos, z - 1), z + 1
end

local function need(pos, n, limit)
  if n < 0 or pos + n - 1 > limit then
    fail("truncated")
  end
end

local function special(kind, body)
  return "\0" .. char(kind) .. body
end

local read_document

-- The value of type kind at pos: value, next position.
local function read_value(s, kind, pos, limit)
  if kind == T_DOUBLE then
    need(pos, 8, limit)
    return string_unpack("<d", s, pos)
  elseif kind == T_STRING then
    need(pos, 4, limit)
    local n = string_unpack("<i4", s, pos)
    if n <= 0 then
      error("Invalid bson string , length = " .. n, 0)
    end
    need(pos + 4, n, limit)
    return sub(s, pos + 4, pos + 2 + n), pos + 4 + n
  elseif kind == T_DOCUMENT or kind == T_ARRAY then
    return read_document(s, pos, limit, kind == T_ARRAY)
  elseif kind == T_BINARY then
    need(pos, 5, limit)
    local n = string_unpack("<i4", s, pos)
    need(pos + 5, n, limit)
    return special(T_BINARY, sub(s, pos + 4, pos + 4 + n)), pos + 5 + n
  elseif kind == T_OBJECTID then
    need(pos, 12, limit)
    return special(T_OBJECTID, sub(s, pos, pos + 11)), pos + 12
  elseif kind == T_BOOLEAN then
    need(pos, 1, limit)
    return byte(s, pos) ~= 0, pos + 1
  elseif kind == T_DATE then
    need(pos, 8, limit)
    local ms = string_unpack("<i8", s, pos)
    local seconds = (ms // 1000 + ((ms < 0 and ms % 1000 ~= 0) and 1 or 0)) & 0xffffffff
    return special(T_DATE, string_pack("<I4", seconds)), pos + 8
  elseif kind == T_NULL or kind == T_MINKEY or kind == T_MAXKEY then
    return special(kind, ""), pos
  elseif kind == T_REGEX then
    local pattern, options
    pattern, pos = read_cstring(s, pos, limit)
    options, pos = read_cstring(s, pos, limit)
    return special(T_REGEX, pattern .. "\0" .. options .. "\0"), pos
  elseif kind == T_INT32 then
    need(pos, 4, limit)
    return string_unpack("<i4", s, pos)
  elseif kind == T_TIMESTAMP then
    need(pos, 8, limit)
    return special(T_TIMESTAMP, sub(s, pos, pos + 7)), pos + 8
  elseif kind == T_INT64 then
    need(pos, 8, limit)
    return string_unpack("<i8", s, pos)
  elseif kind == T_DBPOINTER then
    need(pos, 4, limit)
    local n = string_unpack("<i4", s, pos)
    need(pos + 4, n + 12, limit)
    return special(kind, sub(s, pos, pos + 15 + n)), pos + 16 + n
  elseif kind == T_JSCODE or kind == T_SYMBOL then
    need(pos, 4, limit)
    local n = string_unpack("<i4", s, pos)
    need(pos + 4, n, limit)
    return special(kind, sub(s, pos, pos + 3 + n)), pos + 4 + n
  elseif kind == T_CODEWS then
    need(pos, 4, limit)
    local n = string_unpack("<i4", s, pos)
    need(pos, n, limit)
    if n < 4 then
      fail("code with scope")
    end
    return special(kind, sub(s, pos, pos + n - 1)), pos + n
  end
  error("Invalid bson type : " .. kind, 0)
end

-- The document at pos (its int32 size, elements, "\0"): table, next position.
function read_document(s, pos, limit, array)
  need(pos, 5, limit)
  local size = string_unpack("<i4", s, pos)
  if size < 5 then
    fail("document size " .. size)
  end
  need(pos, size, limit)
  local last = pos + size - 1
  if byte(s, last) ~= 0 then
    error("Invalid document end", 0)
  end
  local t = {}
  local p = pos + 4
  while p < last do
    local kind = byte(s, p)
    local key
    key, p = read_cstring(s, p + 1, last - 1)
    local value
    value, p = read_value(s, kind, p, last - 1)
    if array then
      t[(tonumber(key) or -1) + 1] = value
    else
      t[key] = value
    end
  end
  if p ~= last then
    fail("element runs past its document")
  end
  return t, last + 1
end

-- bson.decode(doc) or bson.decode(bytes): the document as a table.
function bson.decode(doc)
  local s = BYTES[doc] or doc
  if type(s) ~= "string" then
    return nil
  end
  local ok, t = pcall(read_document, s, 1, #s, false)
  if not ok then
    error(t, 2)
  end
  return t
end

methods.decode = bson.decode

-- bson.decode_at(bytes, pos): the document at pos and the position after it
-- (skylet: for buffers holding several documents, as wire messages do).
function bson.decode_at(s, pos)
  local ok, t, after = pcall(read_document, s, pos or 1, #s, false)
  if not ok then
    error(t, 2)
  end
  return t, after
end

-- skylet: a document object from bytes read elsewhere (checked).
function bson.document(bytes)
  bson.decode_at(bytes, 1)
  return new_document(bytes)
end

function bson.to_lightuserdata(doc)
  return doc
end

----- in-place replacement (makeindex, then doc.key = value)

local FIXED = {
  [T_INT64] = 8,
  [T_TIMESTAMP] = 8,
  [T_DATE] = 8,
  [T_DOUBLE] = 8,
  [T_BOOLEAN] = 1,
  [T_OBJECTID] = 12,
  [T_INT32] = 4,
}

function methods.makeindex(doc)
  local s = BYTES[doc]
  local index = {}
  local last = #s
  local p = 5
  local ok, err = pcall(function()
    while p < last do
      local kind = byte(s, p)
      local key
      key, p = read_cstring(s, p + 1, last - 1)
      local at = p
      local _
      _, p = read_value(s, kind, p, last - 1)
      if FIXED[kind] then
        index[key] = { kind, at }
      end
    end
  end)
  if not ok then
    error(err, 2)
  end
  INDEX[doc] = index
  return doc
end

local function replacement(kind, v)
  if kind == T_DOUBLE then
    if type(v) ~= "number" then
      error("number expected", 0)
    end
    return string_pack("<d", v)
  elseif kind == T_BOOLEAN then
    return v and "\1" or "\0"
  elseif kind == T_INT32 or kind == T_INT64 then
    if math_type(v) ~= "integer" then
      error(tostring(v) .. " must be a " .. (kind == T_INT32 and 32 or 64) .. "bit integer", 0)
    end
    return string_pack(kind == T_INT32 and "<i4" or "<i8", kind == T_INT32 and ((v + 0x80000000) & 0xffffffff) - 0x80000000 or v)
  end
  if type(v) ~= "string" or #v < 6 or byte(v, 1) ~= 0 or byte(v, 2) ~= kind then
    error("Type mismatch, need bson type " .. kind, 0)
  end
  local body = sub(v, 3)
  if kind == T_OBJECTID then
    if #body ~= 12 then
      error("Invalid object id", 0)
    end
    return body
  elseif kind == T_DATE then
    if #body ~= 4 then
      error("Invalid date", 0)
    end
    return string_pack("<i8", string_unpack("<I4", body) * 1000)
  end
  if #body ~= 8 then
    error("Invalid timestamp", 0)
  end
  return body
end

document_meta.__newindex = function(doc, key, v)
  local index = INDEX[doc]
  if not index then
    error("call makeindex first", 2)
  end
  local entry = index[key]
  if not entry then
    error("Can't replace key : " .. tostring(key), 2)
  end
  local ok, bytes = pcall(replacement, entry[1], v)
  if not ok then
    error(bytes, 2)
  end
  local s, at = BYTES[doc], entry[2]
  BYTES[doc] = sub(s, 1, at - 1) .. bytes .. sub(s, at + #bytes)
end

----- constructors of BSON's other types

function bson.date(seconds)
  return special(T_DATE, string_pack("<I4", math.tointeger(seconds) & 0xffffffff))
end

local timestamp_inc = 0
function bson.timestamp(seconds, inc)
  if inc == nil then
    inc = timestamp_inc
    timestamp_inc = (timestamp_inc + 1) & 0xffffffff
  end
  return special(T_TIMESTAMP, string_pack("<I4I4", inc & 0xffffffff, math.tointeger(seconds) & 0xffffffff))
end

function bson.regex(pattern, options)
  return special(T_REGEX, tostring(pattern) .. "\0" .. (options or "") .. "\0")
end

function bson.binary(data, subtype)
  return special(T_BINARY, char(subtype or 0) .. data)
end

function bson.int64(v)
  return special(T_INT64, string_pack("<i8", v))
end

-- An ObjectId: the 4-byte time (big-endian), 5 random bytes per VM, and a
-- 3-byte counter (the current spec's layout); or the one of a 24-digit hex.
local oid_random = string_pack("<I4", math.random(0, 0xffffffff)) .. char(math.random(0, 255))
local oid_counter = math.random(0, 0xffffff)

function bson.objectid(hex)
  if type(hex) == "string" or type(hex) == "number" then
    hex = tostring(hex)
    if #hex ~= 24 or hex:find("[^%x]") then
      error("Invalid objectid " .. hex, 2)
    end
    return special(T_OBJECTID, (hex:gsub("%x%x", function(h)
      return char(tonumber(h, 16))
    end)))
  end
  oid_counter = (oid_counter + 1) & 0xffffff
  return special(T_OBJECTID, string_pack(">I4", os.time() & 0xffffffff) .. oid_random .. string_pack(">I3", oid_counter))
end

----- bson.type

local KIND_NAMES = {
  [T_MINKEY] = "minkey",
  [T_MAXKEY] = "maxkey",
  [T_NULL] = "nil",
}

local function typed(kind, body)
  if kind == T_BINARY then
    return "binary", sub(body, 2), byte(body, 1)
  elseif kind == T_OBJECTID then
    if #body ~= 12 then
      error("Invalid object id", 3)
    end
    return "objectid", (body:gsub(".", function(c)
      return string.format("%02x", byte(c))
    end))
  elseif kind == T_DATE then
    if #body ~= 4 then
      error("Invalid date", 3)
    end
    return "date", string_unpack("<i4", body)
  elseif kind == T_TIMESTAMP then
    if #body ~= 8 then
      error("Invalid timestamp", 3)
    end
    local inc, seconds = string_unpack("<I4I4", body)
    return "timestamp", seconds, inc
  elseif kind == T_REGEX then
    local pattern, options = body:match("^(.*)%z(.-)%z$")
    if not pattern then
      error("Invalid regex", 3)
    end
    return "regex", pattern, options
  elseif KIND_NAMES[kind] then
    return KIND_NAMES[kind]
  elseif kind == T_JSCODE or kind == T_DBPOINTER or kind == T_SYMBOL or kind == T_CODEWS then
    return "unsupported", body
  elseif kind == T_INT64 then
    if #body ~= 8 then
      error("Invalid int64", 3)
    end
    return "int64", string_unpack("<i8", body)
  end
  error("Invalid subtype " .. kind, 3)
end

function bson.type(v)
  local t = type(v)
  if t == "number" or t == "boolean" or t == "table" then
    return t, v
  elseif t == "nil" then
    return "nil"
  elseif t == "string" then
    if #v >= 2 and byte(v, 1) == 0 then
      return typed(byte(v, 2), sub(v, 3))
    end
    return "string", v
  end
  error("Invalid type " .. t, 2)
end

return bson
