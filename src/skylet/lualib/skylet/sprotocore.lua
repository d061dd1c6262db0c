-- skylet.sprotocore: sproto's core functions in pure Lua (newproto,
-- querytype, protocol, encode, decode, pack, unpack, default), on sproto's
-- published wire format. skylet/_lua/_lsproto.c is its C twin: the same bytes and
-- the same errors; `sproto.core` picks one.
--
-- Wire format, in short (all integers little-endian):
--   message = u16 fn, fn u16 field slots, then the data part.
--   slot odd  n: skip (n - 1) / 2 + 1 tags;
--   slot 0     : the next tag's value is the next data block (u32 size, bytes);
--   slot even n: the next tag's value is n / 2 - 1 (integers 0..0x7ffe, booleans).
--   Integers that do not fit a slot: a 4-byte block if they fit int32, else 8.
--   Doubles: an 8-byte block. Strings: their bytes. Structs: a nested message.
--   Arrays: one block; integers/doubles as a width byte (4 or 8) then values;
--   booleans one byte each; strings and structs each as a sized block.
-- Schema objects here are Lua tables; skynet code only passes them back in.

local spack, sunpack = string.pack, string.unpack
local sbyte, schar, ssub, srep = string.byte, string.char, string.sub, string.rep
local sfmt = string.format
local concat, tunpack = table.concat, table.unpack
local mtointeger, mfloor, mceil = math.tointeger, math.floor, math.ceil
local type, tonumber, pairs, select, error = type, tonumber, pairs, select, error

local INTEGER, BOOLEAN, STRING, DOUBLE, STRUCT = 0, 1, 2, 3, 4
local DEEPLEVEL = 64

local core = {}

---------------------------------------------------------------------------
-- Reading a schema bundle (what sprotoparser.parse writes)
---------------------------------------------------------------------------

local function bad_bundle(why)
	error("invalid sproto schema bundle: " .. why, 0)
end

-- Walks the message at s[pos..last]: calls visit(tag, value, dpos, dsize)
-- for every present field (value is nil for a data block at dpos of dsize
-- bytes). Returns the position after the message.
local function walk(s, pos, last, visit)
	if last - pos + 1 < 2 then bad_bundle("truncated") end
	local fn = sunpack("<I2", s, pos)
	local dpos = pos + 2 + fn * 2
	if dpos - 1 > last then bad_bundle("truncated") end
	local tag = -1
	for i = 0, fn - 1 do
		local v = sunpack("<I2", s, pos + 2 + i * 2)
		tag = tag + 1
		if v & 1 == 1 then
			tag = tag + v // 2
		elseif v == 0 then
			if dpos + 3 > last then bad_bundle("truncated") end
			local sz = sunpack("<I4", s, dpos)
			if dpos + 3 + sz > last then bad_bundle("truncated") end
			visit(tag, nil, dpos + 4, sz)
			dpos = dpos + 4 + sz
		else
			visit(tag, v // 2 - 1)
		end
	end
	return dpos
end

-- The sized elements of an array block.
local function each_element(s, pos, size, visit)
	local last = pos + size - 1
	while pos <= last do
		if pos + 3 > last then bad_bundle("truncated array") end
		local sz = sunpack("<I4", s, pos)
		if pos + 3 + sz > last then bad_bundle("truncated array") end
		visit(pos + 4, sz)
		pos = pos + 4 + sz
	end
end

local function read_field(s, pos, size, types)
	local f = { kind = -1, tag = -1 }
	local subindex
	walk(s, pos, pos + size - 1, function(tag, v, dpos, dsize)
		if tag == 0 then
			if v then bad_bundle("field name is not a string") end
			f.name = ssub(s, dpos, dpos + dsize - 1)
			return
		end
		if not v then bad_bundle("field attribute is not a number") end
		if tag == 1 then
			if v >= STRUCT then bad_bundle("bad builtin type") end
			f.kind = v
		elseif tag == 2 then
			if f.kind == INTEGER then
				if v > 18 then bad_bundle("decimal precision too large") end
				f.decimal = 10 ^ v // 1 | 0
			elseif f.kind == STRING then
				-- 1: binary; a string either way
			else
				if f.kind >= 0 then bad_bundle("field type given twice") end
				if v >= types.n then bad_bundle("bad type index") end
				f.kind = STRUCT
				subindex = v
			end
		elseif tag == 3 then
			f.tag = v
		elseif tag == 4 then
			f.array = v ~= 0
		elseif tag == 5 then
			f.key = v
		elseif tag == 6 then
			f.map = v ~= 0
		else
			bad_bundle("unknown field attribute")
		end
	end)
	if f.tag < 0 or f.kind < 0 or not f.name then
		bad_bundle("incomplete field")
	end
	f.st = subindex and types[subindex + 1]
	return f
end

local function read_type(s, pos, size, types, t)
	local fields = {}
	walk(s, pos, pos + size - 1, function(tag, v, dpos, dsize)
		if v then bad_bundle("type attribute is not a block") end
		if tag == 0 then
			t.name = ssub(s, dpos, dpos + dsize - 1)
		elseif tag == 1 then
			each_element(s, dpos, dsize, function(epos, esize)
				fields[#fields + 1] = read_field(s, epos, esize, types)
			end)
		else
			bad_bundle("unknown type attribute")
		end
	end)
	if not t.name then bad_bundle("type without a name") end
	local bytag, last = {}, -1
	for _, f in ipairs(fields) do
		if f.tag <= last then bad_bundle("field tags out of order") end
		last = f.tag
		bytag[f.tag] = f
	end
	t.fields, t.bytag = fields, bytag
end

-- Links keyed arrays to their key field once every type is read.
local function link_keys(t)
	for _, f in ipairs(t.fields) do
		if f.key then
			local st = f.st
			if not st or not st.bytag[f.key] then
				bad_bundle("bad key")
			end
			f.keyname = st.bytag[f.key].name
			if f.map then
				if #st.fields < 2 then bad_bundle("map of less than two fields") end
				f.kname, f.vname = st.fields[1].name, st.fields[2].name
			end
		end
	end
end

local CONFIRM = setmetatable({}, { __name = "sproto response nil" })

local function read_protocol(s, pos, size, types)
	local p = { tag = -1 }
	walk(s, pos, pos + size - 1, function(tag, v, dpos, dsize)
		if tag == 0 then
			if v then bad_bundle("protocol name is not a string") end
			p.name = ssub(s, dpos, dpos + dsize - 1)
			return
		end
		if not v then bad_bundle("protocol attribute is not a number") end
		if tag == 1 then
			p.tag = v
		elseif tag == 2 or tag == 3 then
			if v >= types.n then bad_bundle("bad type index") end
			p[tag == 2 and "request" or "response"] = types[v + 1]
		elseif tag == 4 then
			p.confirm = v ~= 0
		else
			bad_bundle("unknown protocol attribute")
		end
	end)
	if not p.name or p.tag < 0 then bad_bundle("incomplete protocol") end
	if not p.response and p.confirm then
		p.response = CONFIRM
	end
	return p
end

local function new_sproto(bin)
	local sp = { types = {}, protocols = {}, protobytag = {} }
	local blocks = {}
	walk(bin, 1, #bin, function(tag, v, dpos, dsize)
		if v or tag > 1 then bad_bundle("not a schema group") end
		blocks[tag] = { dpos, dsize }
	end)
	local types = { n = 0 }
	if blocks[0] then
		each_element(bin, blocks[0][1], blocks[0][2], function(epos, esize)
			types.n = types.n + 1
			types[types.n] = { pos = epos, size = esize }
		end)
		for i = 1, types.n do
			local t = types[i]
			local epos, esize = t.pos, t.size
			t.pos, t.size = nil, nil
			read_type(bin, epos, esize, types, t)
			sp.types[t.name] = t
		end
		for i = 1, types.n do
			link_keys(types[i])
		end
	end
	if blocks[1] then
		each_element(bin, blocks[1][1], blocks[1][2], function(epos, esize)
			local p = read_protocol(bin, epos, esize, types)
			sp.protocols[p.name] = p
			sp.protobytag[p.tag] = p
		end)
	end
	return sp
end

--- newproto(bin) -> a schema object, or nil and why if bin is not a bundle.
function core.newproto(bin)
	if type(bin) ~= "string" then
		error("bad argument #1 to 'newproto' (string expected, got " .. type(bin) .. ")", 0)
	end
	local ok, sp = pcall(new_sproto, bin)
	if ok then
		return sp
	end
	return nil, sp
end

function core.deleteproto() end

function core.querytype(sp, name)
	return sp.types[name]
end

--- protocol(sp, name | tag) -> tag | name, request type, response type
-- (response is core.CONFIRM for `response nil`); nothing if unknown.
function core.protocol(sp, key)
	local p
	if type(key) == "number" then
		p = sp.protobytag[key]
		if not p then return end
		return p.name, p.request, p.response
	end
	if type(key) ~= "string" then
		error("bad argument #2 to 'protocol' (Should be number or string)", 0)
	end
	p = sp.protocols[key]
	if not p then return end
	return p.tag, p.request, p.response
end

core.CONFIRM = CONFIRM

---------------------------------------------------------------------------
-- Encoding
---------------------------------------------------------------------------

local function encode_error(st, f, index, what, v)
	error(sfmt("%s.%s[%d] is not %s (Is a %s)", st.name, f.name, index, what, type(v)), 0)
end

-- Lua value -> integer as sproto's C binding reads it (a decimal field
-- takes any number and rounds half away from zero).
local function to_integer(st, f, v, index)
	local d = f.decimal
	if d then
		local x = (tonumber(v) or 0) * d
		local r
		if x >= 0 then
			r = mfloor(x)
			if x - r >= 0.5 then r = r + 1 end
		else
			r = mceil(x)
			if r - x >= 0.5 then r = r - 1 end
		end
		local i = mtointeger(r)
		if not i then
			error(sfmt("%s.%s[%d] is out of range", st.name, f.name, index), 0)
		end
		return i
	end
	local i = mtointeger(v)
	if not i and type(v) == "string" then
		i = mtointeger(tonumber(v))
	end
	if not i then
		encode_error(st, f, index, "an integer", v)
	end
	return i
end

local encode_struct

-- Two-byte slot formats, cached by count.
local SLOTFMT = setmetatable({}, { __index = function(t, n)
	local fmt = "<I2" .. srep("I2", n)
	t[n] = fmt
	return fmt
end })

local function encode_element(st, f, v, index, depth)
	local kind = f.kind
	if kind == STRING then
		if type(v) ~= "string" then encode_error(st, f, index, "a string", v) end
		return spack("<s4", v)
	end
	local tv = type(v)
	if tv ~= "table" and tv ~= "userdata" then
		encode_error(st, f, index, "a table", v)
	end
	return spack("<s4", encode_struct(f.st, v, depth + 1))
end

local function array_of(st, f, v)
	local tv = type(v)
	if tv ~= "table" then
		local mt = getmetatable(v)
		if type(mt) ~= "table" or not mt.__pairs then
			error(sfmt("%s.%s(%d) should be a table or an userdata with metamethods (Is a %s)",
				st.name, f.name, 1, tv), 0)
		end
	end
	return v
end

local function encode_array(st, f, arr, depth)
	arr = array_of(st, f, arr)
	local kind = f.kind
	local parts, n = {}, 0
	if kind == INTEGER or kind == DOUBLE then
		local wide = kind == DOUBLE
		local values = {}
		local i = 1
		while true do
			local v = arr[i]
			if v == nil then break end
			if kind == DOUBLE then
				values[i] = tonumber(v) or 0.0
			else
				local iv = to_integer(st, f, v, i)
				if iv < -0x80000000 or iv > 0x7fffffff then wide = true end
				values[i] = iv
			end
			i = i + 1
		end
		n = i - 1
		if n == 0 then
			return "\0\0\0\0"
		end
		local fmt = kind == DOUBLE and "d" or (wide and "i8" or "i4")
		local width = wide and 8 or 4
		return spack("<I4B" .. srep(fmt, n), 1 + n * width, width, tunpack(values, 1, n))
	elseif kind == BOOLEAN then
		local i = 1
		while true do
			local v = arr[i]
			if v == nil then break end
			if type(v) ~= "boolean" then encode_error(st, f, i, "a boolean", v) end
			parts[i] = v and "\1" or "\0"
			i = i + 1
		end
		return spack("<s4", concat(parts))
	elseif f.key then
		-- a keyed array is a Lua map: the values, in pairs order
		if f.map then
			local kname, vname = f.kname, f.vname
			for k, v in pairs(arr) do
				n = n + 1
				parts[n] = encode_element(st, f, { [kname] = k, [vname] = v }, n, depth)
			end
		else
			for _, v in pairs(arr) do
				n = n + 1
				parts[n] = encode_element(st, f, v, n, depth)
			end
		end
	else
		local i = 1
		while true do
			local v = arr[i]
			if v == nil then break end
			parts[i] = encode_element(st, f, v, i, depth)
			i = i + 1
		end
	end
	return spack("<s4", concat(parts))
end

encode_struct = function(st, t, depth)
	local fields = st.fields
	local nfields = #fields
	if nfields > 0 and depth >= DEEPLEVEL then
		error("The table is too deep", 0)
	end
	local slots, ns = {}, 0
	local data, nd = {}, 0
	local lasttag = -1
	for i = 1, nfields do
		local f = fields[i]
		local v = t[f.name]
		if v ~= nil then
			local slot = 0
			if f.array then
				nd = nd + 1
				data[nd] = encode_array(st, f, v, depth)
			else
				local kind = f.kind
				if kind == INTEGER then
					local iv = to_integer(st, f, v, 0)
					if iv >= 0 and iv < 0x7fff then
						slot = (iv + 1) * 2
					elseif iv >= -0x80000000 and iv <= 0x7fffffff then
						nd = nd + 1
						data[nd] = spack("<I4i4", 4, iv)
					else
						nd = nd + 1
						data[nd] = spack("<I4i8", 8, iv)
					end
				elseif kind == STRING then
					if type(v) ~= "string" then encode_error(st, f, 0, "a string", v) end
					nd = nd + 1
					data[nd] = spack("<s4", v)
				elseif kind == BOOLEAN then
					if type(v) ~= "boolean" then encode_error(st, f, 0, "a boolean", v) end
					slot = v and 4 or 2
				elseif kind == DOUBLE then
					nd = nd + 1
					data[nd] = spack("<I4d", 8, tonumber(v) or 0.0)
				else
					nd = nd + 1
					data[nd] = encode_element(st, f, v, 0, depth)
				end
			end
			local skip = f.tag - lasttag - 1
			if skip > 0 then
				skip = (skip - 1) * 2 + 1
				if skip > 0xffff then
					error(sfmt("%s.%s: tag gap too large", st.name, f.name), 0)
				end
				ns = ns + 1
				slots[ns] = skip
			end
			ns = ns + 1
			slots[ns] = slot
			lasttag = f.tag
		end
	end
	return spack(SLOTFMT[ns], ns, tunpack(slots, 1, ns)) .. concat(data, "", 1, nd)
end

--- encode(st, tbl) -> the message (st == core.CONFIRM: tbl must be nil, "").
function core.encode(st, tbl)
	if st == CONFIRM then
		if tbl ~= nil then
			error("bad argument #2 to 'encode' (nil expected, got " .. type(tbl) .. ")", 0)
		end
		return ""
	end
	local tt = type(tbl)
	if tt ~= "table" and tt ~= "userdata" then
		error(sfmt("sproto encode %s: expected a table, got %s", st.name, tt), 0)
	end
	return encode_struct(st, tbl, 0)
end

---------------------------------------------------------------------------
-- Decoding
---------------------------------------------------------------------------

local function decode_error(st, why)
	error(sfmt("decode error: %s (%s)", why, st.name), 0)
end

local function bits_to_double(i)
	return (sunpack("<d", spack("<i8", i)))
end

local decode_struct

local function decode_array(st, f, s, pos, size, depth)
	local arr = {}
	if size == 0 then
		return arr
	end
	local kind = f.kind
	local last = pos + size - 1
	if kind == INTEGER or kind == DOUBLE then
		size = size - 1
		if size == 0 then
			return arr
		end
		local width = sbyte(s, pos)
		local fmt
		if width == 4 then
			fmt = "<i4"
		elseif width == 8 then
			fmt = "<i8"
		else
			decode_error(st, "bad integer width in " .. f.name)
		end
		if size % width ~= 0 then
			decode_error(st, "bad array size of " .. f.name)
		end
		local d = f.decimal
		local p = pos + 1
		for i = 1, size // width do
			local v = sunpack(fmt, s, p)
			p = p + width
			if kind == DOUBLE then
				v = bits_to_double(v)
			elseif d then
				v = v / d
			end
			arr[i] = v
		end
	elseif kind == BOOLEAN then
		for i = 1, size do
			arr[i] = sbyte(s, pos + i - 1) ~= 0
		end
	else
		local i = 0
		local sub = f.st
		local keyname, kname, vname = f.keyname, f.kname, f.vname
		while pos <= last do
			if pos + 3 > last then decode_error(st, "truncated array " .. f.name) end
			local sz = sunpack("<I4", s, pos)
			local e = pos + 3 + sz
			if e > last then decode_error(st, "truncated array " .. f.name) end
			i = i + 1
			if kind == STRING then
				arr[i] = ssub(s, pos + 4, e)
			else
				local elem = {}
				if decode_struct(sub, s, pos + 4, e, elem, depth + 1) ~= e + 1 then
					decode_error(sub, "struct size mismatch")
				end
				if kname then
					local k, v = elem[kname], elem[vname]
					if k == nil then error(sfmt("Can't find key field in [%s]", f.name), 0) end
					if v == nil then error(sfmt("Can't find value field in [%s]", f.name), 0) end
					arr[k] = v
				elseif keyname then
					local k = elem[keyname]
					if k == nil then
						error(sfmt("Can't find main index (tag=%d) in [%s]", f.key, f.name), 0)
					end
					arr[k] = elem
				else
					arr[i] = elem
				end
			end
			pos = e + 1
		end
	end
	return arr
end

-- Decodes the message at s[pos..last] into `result`; returns the position
-- after the bytes it used.
decode_struct = function(st, s, pos, last, result, depth)
	if last - pos + 1 < 2 then decode_error(st, "truncated header") end
	local fn = sunpack("<I2", s, pos)
	local fpos = pos + 2
	local dpos = fpos + fn * 2
	if dpos - 1 > last then decode_error(st, "truncated header") end
	if fn > 0 and depth >= DEEPLEVEL then
		error("The table is too deep", 0)
	end
	local bytag = st.bytag
	local tag = -1
	for i = 0, fn - 1 do
		local slot = sunpack("<I2", s, fpos + i * 2)
		tag = tag + 1
		if slot & 1 == 1 then
			tag = tag + slot // 2
		else
			local value = slot // 2 - 1
			local cur, sz = dpos, 0
			if value < 0 then
				if dpos + 3 > last then decode_error(st, "truncated data") end
				sz = sunpack("<I4", s, dpos)
				if dpos + 3 + sz > last then decode_error(st, "truncated data") end
				dpos = dpos + 4 + sz
			end
			local f = bytag[tag]
			if f then
				local kind = f.kind
				local v
				if value >= 0 then
					if f.array or (kind ~= INTEGER and kind ~= BOOLEAN) then
						decode_error(st, "bad value of " .. f.name)
					end
					if kind == BOOLEAN then
						v = value ~= 0
					elseif f.decimal then
						v = value / f.decimal
					else
						v = value
					end
				elseif f.array then
					v = decode_array(st, f, s, cur + 4, sz, depth)
				elseif kind == INTEGER or kind == DOUBLE then
					if sz == 4 then
						v = sunpack("<i4", s, cur + 4)
					elseif sz == 8 then
						v = sunpack("<i8", s, cur + 4)
					else
						decode_error(st, "bad integer size of " .. f.name)
					end
					if kind == DOUBLE then
						v = bits_to_double(v)
					elseif f.decimal then
						v = v / f.decimal
					end
				elseif kind == STRING then
					v = ssub(s, cur + 4, cur + 3 + sz)
				elseif kind == STRUCT then
					v = {}
					if decode_struct(f.st, s, cur + 4, cur + 3 + sz, v, depth + 1) ~= cur + 4 + sz then
						decode_error(f.st, "struct size mismatch")
					end
				else
					decode_error(st, "bad value of " .. f.name)
				end
				result[f.name] = v
			end
		end
	end
	return dpos
end

--- decode(st, blob [, sz] [, result]) -> result table, bytes used.
-- The result goes into the last argument if it is a table.
function core.decode(st, blob, ...)
	if st == nil or st == CONFIRM then
		return
	end
	if type(blob) ~= "string" then
		error("bad argument #2 to 'decode' (Need a string, got " .. type(blob) .. ")", 0)
	end
	local n = select("#", ...)
	local result = n > 0 and select(n, ...) or nil
	if type(result) ~= "table" then
		result = {}
	end
	local used = decode_struct(st, blob, 1, #blob, result, 0)
	return result, used - 1
end

---------------------------------------------------------------------------
-- Default values
---------------------------------------------------------------------------

local function default_value(f, in_array)
	local kind = f.kind
	if kind == INTEGER then
		return f.decimal and 0.0 or 0
	elseif kind == DOUBLE then
		return 0.0
	elseif kind == BOOLEAN then
		return false
	elseif kind == STRING then
		return ""
	elseif in_array then
		return f.st.name
	end
	return { __type = f.st.name }
end

function core.default(st)
	if type(st) ~= "table" or not st.fields then
		error("bad argument #1 to 'default' (Need a sproto_type object)", 0)
	end
	local t = {}
	for _, f in ipairs(st.fields) do
		if f.array then
			t[f.name] = { __array = default_value(f, true) }
		else
			t[f.name] = default_value(f, false)
		end
	end
	return t
end

---------------------------------------------------------------------------
-- 0-packing: each 8-byte word becomes a bitmap byte of its non-zero bytes
-- followed by them; a run of words with at least 6 non-zero bytes (starting
-- with a full one) is copied as 0xff, words - 1, then the raw words.
---------------------------------------------------------------------------

local ZERO8 = srep("\0", 8)

function core.pack(s)
	if type(s) ~= "string" then
		error("bad argument #1 to 'pack' (Need a string, got " .. type(s) .. ")", 0)
	end
	local len = #s
	if len % 8 ~= 0 then
		s = s .. ssub(ZERO8, 1, 8 - len % 8)
		len = #s
	end
	local out, no = {}, 0
	local run_start, run_n = 0, 0
	local word = {}
	for i = 1, len, 8 do
		local b1, b2, b3, b4, b5, b6, b7, b8 = sbyte(s, i, i + 7)
		local header, nz = 0, 0
		if b1 ~= 0 then header = 1; nz = 1; word[nz] = b1 end
		if b2 ~= 0 then header = header | 2; nz = nz + 1; word[nz] = b2 end
		if b3 ~= 0 then header = header | 4; nz = nz + 1; word[nz] = b3 end
		if b4 ~= 0 then header = header | 8; nz = nz + 1; word[nz] = b4 end
		if b5 ~= 0 then header = header | 16; nz = nz + 1; word[nz] = b5 end
		if b6 ~= 0 then header = header | 32; nz = nz + 1; word[nz] = b6 end
		if b7 ~= 0 then header = header | 64; nz = nz + 1; word[nz] = b7 end
		if b8 ~= 0 then header = header | 128; nz = nz + 1; word[nz] = b8 end
		if run_n > 0 and nz >= 6 then
			run_n = run_n + 1
			if run_n == 256 then
				no = no + 1
				out[no] = "\xff\xff" .. ssub(s, run_start, run_start + 256 * 8 - 1)
				run_n = 0
			end
		elseif nz == 8 then
			run_start, run_n = i, 1
		else
			if run_n > 0 then
				no = no + 1
				out[no] = schar(0xff, run_n - 1) .. ssub(s, run_start, run_start + run_n * 8 - 1)
				run_n = 0
			end
			no = no + 1
			out[no] = schar(header, tunpack(word, 1, nz))
		end
	end
	if run_n > 0 then
		no = no + 1
		out[no] = schar(0xff, run_n - 1) .. ssub(s, run_start, run_start + run_n * 8 - 1)
	end
	return concat(out, "", 1, no)
end

function core.unpack(s, sz)
	if type(s) ~= "string" then
		error("bad argument #1 to 'unpack' (Need a string, got " .. type(s) .. ")", 0)
	end
	local len = #s
	local out, no = {}, 0
	local pos = 1
	while pos <= len do
		local header = sbyte(s, pos)
		pos = pos + 1
		if header == 0xff then
			if pos > len then error("Invalid unpack stream", 0) end
			local n = (sbyte(s, pos) + 1) * 8
			if len - pos < n then error("Invalid unpack stream", 0) end
			no = no + 1
			out[no] = ssub(s, pos + 1, pos + n)
			pos = pos + 1 + n
		elseif header == 0 then
			no = no + 1
			out[no] = ZERO8
		else
			local w = {}
			for bit = 0, 7 do
				if (header >> bit) & 1 == 1 then
					if pos > len then error("Invalid unpack stream", 0) end
					w[bit + 1] = ssub(s, pos, pos)
					pos = pos + 1
				else
					w[bit + 1] = "\0"
				end
			end
			no = no + 1
			out[no] = concat(w)
		end
	end
	return concat(out, "", 1, no)
end

return core
