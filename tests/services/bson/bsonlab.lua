-- bson test bench: encodes named values (the test builds the same ones with
-- pymongo's bson), decodes bytes the test sends into a canonical text, and
-- reports the errors of bad input.
local skynet = require "skynet"
local bson = require "bson"

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- A canonical text of a decoded value: keys sorted, BSON types named.
local function describe(v)
  local kind, a, b = bson.type(v)
  if kind == "number" then
    return (math.type(a) == "integer" and "i:" or "d:") .. string.format(math.type(a) == "integer" and "%d" or "%.17g", a)
  elseif kind == "string" then
    return "s:" .. a
  elseif kind == "boolean" then
    return "b:" .. tostring(a)
  elseif kind == "table" then
    local keys = {}
    for k in pairs(a) do
      keys[#keys + 1] = k
    end
    table.sort(keys, function(x, y)
      if type(x) == type(y) then
        return x < y
      end
      return type(x) == "number"
    end)
    local parts = {}
    for _, k in ipairs(keys) do
      parts[#parts + 1] = tostring(k) .. "=" .. describe(a[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif kind == "binary" then
    return "binary:" .. b .. ":" .. hex(a)
  elseif kind == "timestamp" then
    return "timestamp:" .. a .. ":" .. b
  elseif kind == "regex" then
    return "regex:" .. a .. ":" .. b
  elseif kind == "unsupported" then
    return "unsupported:" .. hex(a)
  elseif a ~= nil then
    return kind .. ":" .. tostring(a)
  end
  return kind
end

local sub = bson.encode_order("hello", 1, "world", 2)
local deep = {}
deep.self = deep

local VALUES = {
  int32 = function() return 1 end,
  int32_min = function() return -2147483648 end,
  int64_big = function() return 2147483648 end,
  int64_min = function() return math.mininteger end,
  double = function() return 1.5 end,
  float_2_32 = function() return 2 ^ 32 - 1 end,
  string = function() return "h\xc3\xa9llo" end,
  empty_string = function() return "" end,
  ["true"] = function() return true end,
  ["false"] = function() return false end,
  null = function() return bson.null end,
  minkey = function() return bson.minkey end,
  maxkey = function() return bson.maxkey end,
  array = function() return { 1, "two", 3.5 } end,
  empty_table = function() return {} end,
  nested = function() return { x = { y = { z = 1 } } } end,
  binary = function() return bson.binary "he\0llo" end,
  objectid = function() return bson.objectid "5f1d7c3a9b1e8a0012345678" end,
  date = function() return bson.date(1600000000) end,
  timestamp = function() return bson.timestamp(1600000000, 7) end,
  regex = function() return bson.regex("^a.*", "i") end,
  regex_no_options = function() return bson.regex "hello" end,
  int64 = function() return bson.int64(5) end,
  document_object = function() return sub end,
  len_array = function()
    return setmetatable({ n = 3 }, { __len = function(t) return t.n end, __index = function(_, i) return i * 10 end })
  end,
  -- bad values
  hole = function() return { 1, nil, 3 } end,
  func = function() return print end,
  number_key = function() return { [1.5] = 1 } end,
  bool_key = function() return { [true] = 1 } end,
  bad_utf8 = function() return "\xff\xfe" end,
  bad_key = function() return { ["a\0b"] = 1 } end,
  recursive = function() return deep end,
  bad_subtype = function() return "\0\99xyz" end,
  bad_date = function() return "\0\9abc" end,
}

local CMD = {}

-- encode_order("v", value): the hex of the one-field document
function CMD.encode(name)
  local ok, doc = pcall(bson.encode_order, "v", VALUES[name]())
  if not ok then
    return false, doc
  end
  return true, hex(tostring(doc)), #doc
end

-- bson.encode{ v = value }
function CMD.encode_table(name)
  local ok, doc = pcall(bson.encode, { v = VALUES[name]() })
  if not ok then
    return false, doc
  end
  return true, hex(tostring(doc))
end

function CMD.encode_order(...)
  local ok, doc = pcall(bson.encode_order, ...)
  if not ok then
    return false, doc
  end
  return true, hex(tostring(doc))
end

function CMD.decode(h)
  local ok, t = pcall(bson.decode, unhex(h))
  if not ok then
    return false, t
  end
  return true, describe(t)
end

function CMD.objectids(n)
  local seen, list = {}, {}
  for i = 1, n do
    local _, id = bson.type(bson.objectid())
    assert(not seen[id], "duplicate objectid")
    seen[id] = true
    list[i] = id
  end
  return list
end

-- makeindex then replace fields in place
function CMD.replace()
  local doc = bson.encode_order("i", 1, "l", 1 << 40, "d", 1.5, "b", true,
    "o", bson.objectid "000000000000000000000001", "t", bson.date(1), "s", "text")
  doc:makeindex()
  doc.i = -7
  doc.l = 1 << 50
  doc.d = 0.25
  doc.b = false
  doc.o = bson.objectid "0123456789abcdef01234567"
  doc.t = bson.date(1700000000)
  local errors = {}
  for _, case in ipairs { { "s", "x" }, { "nope", 1 }, { "i", 1.5 }, { "o", "not an id" } } do
    local ok, err = pcall(function() doc[case[1]] = case[2] end)
    errors[#errors + 1] = not ok and err or "no error"
  end
  local fresh = bson.encode { a = 1 }
  local ok, err = pcall(function() fresh.a = 2 end)
  errors[#errors + 1] = not ok and err or "no error"
  return hex(tostring(doc)), errors
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
