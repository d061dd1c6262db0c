-- skylet.seri: skynet's own serialization (skynet.pack as lua-seri writes it),
-- the format of values on a skynet cluster's wire. skylet's in-process
-- payloads stay msgpack; the cluster services convert at the edge.
--
-- A message is a concatenation of values. Each value starts with a type byte,
-- type | cookie << 3, little-endian fields after it:
--   0 nil; 1 boolean (cookie 0 false, 1 true);
--   2 number: cookie 0 zero, 1 uint8, 2 uint16, 4 int32, 6 int64, 8 double;
--   3 a C pointer (meaningless off its process: refused here);
--   4 short string, cookie = length (< 32);
--   5 long string: cookie 2 + uint16 length, cookie 4 + uint32 length;
--   6 table: cookie = array size (31: the size follows as a number), the
--     array items, then key/value pairs, then nil.
-- Tables nest at most 32 deep, as lua-seri allows.

local type, error, select, rawlen, rawget, next = type, error, select, rawlen, rawget, next
local mtype = math.type
local schar, sbyte, ssub, spack, sunpack = string.char, string.byte, string.sub, string.pack, string.unpack
local tconcat = table.concat
local getmetatable = debug.getmetatable or getmetatable

local MAX_DEPTH = 32
local MAX_COOKIE = 32

local M = {}

----- pack -----

local buf, nb

local function put(s)
  nb = nb + 1
  buf[nb] = s
end

local function put_integer(v)
  if v == 0 then
    put "\2"
  elseif v < -0x80000000 or v > 0x7fffffff then
    put(spack("<Bi8", 0x32, v))
  elseif v < 0 then
    put(spack("<Bi4", 0x22, v))
  elseif v < 0x100 then
    put(schar(0x0a, v))
  elseif v < 0x10000 then
    put(spack("<BI2", 0x12, v))
  else
    put(spack("<BI4", 0x22, v))
  end
end

local function put_string(s)
  local len = #s
  if len < MAX_COOKIE then
    put(schar(4 | len << 3))
  elseif len < 0x10000 then
    put(spack("<BI2", 0x15, len))
  elseif len <= 0x7fffffff then
    put(spack("<BI4", 0x25, len))
  else
    error("serialize can't pack a string of " .. len .. " bytes", 0)
  end
  if len > 0 then
    put(s)
  end
end

local pack_one

local function pack_table(t, depth)
  local mt = getmetatable(t)
  local mpairs = type(mt) == "table" and rawget(mt, "__pairs")
  if mpairs then
    put "\6"
    local f, st, k = mpairs(t)
    while true do
      local v
      k, v = f(st, k)
      if k == nil then
        break
      end
      pack_one(k, depth)
      pack_one(v, depth)
    end
    put "\0"
    return
  end
  local n = rawlen(t)
  if n >= MAX_COOKIE - 1 then
    put "\254" -- 6 | 31 << 3
    put_integer(n)
  else
    put(schar(6 | n << 3))
  end
  for i = 1, n do
    pack_one(rawget(t, i), depth)
  end
  for k, v in next, t do
    if not (mtype(k) == "integer" and k > 0 and k <= n) then
      pack_one(k, depth)
      pack_one(v, depth)
    end
  end
  put "\0"
end

function pack_one(v, depth)
  if depth > MAX_DEPTH then
    error("serialize can't pack too depth table", 0)
  end
  local t = type(v)
  if t == "nil" then
    put "\0"
  elseif t == "boolean" then
    put(v and "\9" or "\1")
  elseif t == "number" then
    if mtype(v) == "integer" then
      put_integer(v)
    else
      put(spack("<Bd", 0x42, v))
    end
  elseif t == "string" then
    put_string(v)
  elseif t == "table" then
    pack_table(v, depth + 1)
  else
    error("Unsupport type " .. t .. " to serialize", 0)
  end
end

-- The bytes of ... (nil included: the count is kept).
function M.pack(...)
  -- A __pairs metamethod may pack too: each call has its own buffer.
  local outer, outer_n = buf, nb
  buf, nb = {}, 0
  for i = 1, select("#", ...) do
    pack_one((select(i, ...)), 0)
  end
  local out = tconcat(buf, "", 1, nb)
  buf, nb = outer, outer_n
  return out
end

----- unpack -----

local function invalid(pos, why)
  error(("Invalid serialize stream at byte %d: %s"):format(pos, why), 0)
end

local unpack_value

local function need(s, pos, n)
  if pos + n - 1 > #s then
    invalid(pos, "truncated")
  end
end

local function read_integer(s, pos, cookie)
  if cookie == 0 then
    return 0, pos
  elseif cookie == 1 then
    need(s, pos, 1)
    return sbyte(s, pos), pos + 1
  elseif cookie == 2 then
    need(s, pos, 2)
    return sunpack("<I2", s, pos)
  elseif cookie == 4 then
    need(s, pos, 4)
    return sunpack("<i4", s, pos)
  elseif cookie == 6 then
    need(s, pos, 8)
    return sunpack("<i8", s, pos)
  end
  invalid(pos - 1, "bad number width " .. cookie)
end

local function unpack_table(s, pos, cookie, depth)
  if depth > MAX_DEPTH * 4 then
    invalid(pos - 1, "tables nested too deep")
  end
  local n = cookie
  if cookie == MAX_COOKIE - 1 then
    need(s, pos, 1)
    local b = sbyte(s, pos)
    if b & 7 ~= 2 or b >> 3 == 8 then
      invalid(pos, "bad array size")
    end
    n, pos = read_integer(s, pos + 1, b >> 3)
    if n < 0 or n > #s - pos + 1 then -- each item takes at least a byte
      invalid(pos, "bad array size")
    end
  end
  local t = {}
  local v
  for i = 1, n do
    v, pos = unpack_value(s, pos, depth)
    t[i] = v
  end
  while true do
    local k
    local at = pos
    k, pos = unpack_value(s, pos, depth)
    if k == nil then
      return t, pos
    end
    if k ~= k then
      invalid(at, "NaN table key")
    end
    v, pos = unpack_value(s, pos, depth)
    t[k] = v
  end
end

function unpack_value(s, pos, depth)
  local b = sbyte(s, pos)
  if b == nil then
    invalid(pos, "truncated")
  end
  local t, cookie = b & 7, b >> 3
  pos = pos + 1
  if t == 0 then
    return nil, pos
  elseif t == 1 then
    return cookie ~= 0, pos
  elseif t == 2 then
    if cookie == 8 then
      need(s, pos, 8)
      return sunpack("<d", s, pos)
    end
    return read_integer(s, pos, cookie)
  elseif t == 4 then
    need(s, pos, cookie)
    return ssub(s, pos, pos + cookie - 1), pos + cookie
  elseif t == 5 then
    local len
    if cookie == 2 then
      need(s, pos, 2)
      len, pos = sunpack("<I2", s, pos)
    elseif cookie == 4 then
      need(s, pos, 4)
      len, pos = sunpack("<I4", s, pos)
    else
      invalid(pos - 1, "bad string length width " .. cookie)
    end
    need(s, pos, len)
    return ssub(s, pos, pos + len - 1), pos + len
  elseif t == 6 then
    return unpack_table(s, pos, cookie, depth + 1)
  elseif t == 3 then
    invalid(pos - 1, "a C pointer (userdata) cannot cross processes")
  end
  invalid(pos - 1, "unknown type " .. t)
end

-- The values of a message, in order (an empty message: none).
function M.unpack(s)
  local values, n, pos, len = {}, 0, 1, #s
  while pos <= len do
    n = n + 1
    values[n], pos = unpack_value(s, pos, 0)
  end
  return table.unpack(values, 1, n)
end

return M
