-- sprotoparser: sproto schema text -> the binary schema bundle sproto.new takes.
--
-- skynet's parser is written with lpeg, which skylet's Lua does not have; this
-- one is a small lexer and a recursive-descent parser. It accepts the schema
-- language skynet's accepts (a little more liberal about blanks: `*` and `(`
-- may be followed by spaces) and writes the same bundle bytes for the same
-- text. Errors are one line: what is wrong, the file and the line.
--
-- The bundle is itself a sproto message of this schema (positions matter:
-- sproto readers take the protocol fields by position, so the packers below
-- write every field up to the last one present, `skip` markers included):
--
--   .type { .field { name 0 : string  buildin 1 : integer  type 2 : integer
--                    tag 3 : integer  array 4 : boolean  key 5 : integer
--                    map 6 : boolean }
--           name 0 : string  fields 1 : *field }
--   .protocol { name 0 : string  tag 1 : integer  request 2 : integer
--               response 3 : integer  confirm 4 : boolean }
--   .group { type 0 : *type  protocol 1 : *protocol }
--
-- `type` of a field is the index of a user type (types sorted by full name),
-- or for a builtin its extra: the decimal precision of integer(N), 1 for binary.

local spack = string.pack
local sfmt = string.format
local concat = table.concat

local M = {}

---------------------------------------------------------------------------
-- Lexer: NAME (a word, or dotted words with no blank between: Foo.Bar),
-- NUMBER, and the punctuation . { } : * ( ). Blanks and # comments separate.
---------------------------------------------------------------------------

local PUNCT = { ["."] = true, ["{"] = true, ["}"] = true, [":"] = true,
	["*"] = true, ["("] = true, [")"] = true }

local function tokenize(text, file)
	local tokens = {}
	local n = 0
	local pos, line = 1, 1
	local len = #text
	while pos <= len do
		local c = text:sub(pos, pos)
		if c == "\n" then
			line = line + 1
			pos = pos + 1
		elseif c == " " or c == "\t" or c == "\r" then
			pos = pos + 1
		elseif c == "#" then
			local e = text:find("\n", pos, true)
			pos = e or len + 1
		else
			local kind, value, e
			local s1, e1 = text:find("^[%a_][%w_]*", pos)
			if s1 then
				-- dotted names: word(.word)*
				while true do
					local s2, e2 = text:find("^%.[%a_][%w_]*", e1 + 1)
					if not s2 then break end
					e1 = e2
				end
				kind, value, e = "name", text:sub(pos, e1), e1
			else
				s1, e1 = text:find("^%d+", pos)
				if s1 then
					if text:find("^[%a_]", e1 + 1) then
						error(sfmt("syntax error at [%s] line (%d): bad number '%s'",
							file, line, text:match("^[%w_]+", pos)), 0)
					end
					kind, value, e = "number", math.tointeger(tonumber(text:sub(pos, e1))), e1
					if not value then
						error(sfmt("syntax error at [%s] line (%d): number too large", file, line), 0)
					end
				elseif PUNCT[c] then
					kind, value, e = c, c, pos
				else
					error(sfmt("syntax error at [%s] line (%d): unexpected character %q",
						file, line, c), 0)
				end
			end
			n = n + 1
			tokens[n] = { kind = kind, value = value, line = line }
			pos = e + 1
		end
	end
	tokens[n + 1] = { kind = "eof", value = "end of file", line = line }
	return tokens
end

---------------------------------------------------------------------------
-- Parser. It fills
--   types[fullname] = { name = fullname, line = N, fields = { field... } }
--     field = { name, tag, typename, array, key, decimal, line }
--   protocols[name] = { name, tag, request, response, confirm, line }
---------------------------------------------------------------------------

local Parser = {}
Parser.__index = Parser

function Parser:fail(line, fmt, ...)
	error(sfmt("%s at [%s] line (%d)", sfmt(fmt, ...), self.file, line), 0)
end

function Parser:peek()
	return self.tokens[self.pos]
end

function Parser:next()
	local t = self.tokens[self.pos]
	self.pos = self.pos + 1
	return t
end

-- Tags and type indexes travel as (n + 1) * 2 in a 16-bit slot.
local MAXTAG = 0x7ffe

function Parser:tag(what)
	local t = self:expect("number", what)
	if t.value > MAXTAG then
		self:fail(t.line, "tag %d out of range (0..%d)", t.value, MAXTAG)
	end
	return t
end

function Parser:expect(kind, what)
	local t = self:next()
	if t.kind ~= kind then
		error(sfmt("syntax error at [%s] line (%d): expected %s near '%s'",
			self.file, t.line, what or ("'" .. kind .. "'"), t.value), 0)
	end
	return t
end

function Parser:word(what)
	local t = self:expect("name", what)
	if t.value:find(".", 1, true) then
		error(sfmt("syntax error at [%s] line (%d): expected %s near '%s'",
			self.file, t.line, what, t.value), 0)
	end
	return t
end

function Parser:define_type(fullname, line)
	if self.types[fullname] then
		self:fail(line, "redefined %s", fullname)
	end
	local t = { name = fullname, line = line, fields = {} }
	self.types[fullname] = t
	self.typelist[#self.typelist + 1] = t
	return t
end

-- `{ (field | .Nested { ... })* }`, the body of the type called `fullname`.
function Parser:struct(fullname, line)
	local t = self:define_type(fullname, line)
	local fields, names, tags = t.fields, {}, {}
	self:expect("{")
	while true do
		local tok = self:peek()
		if tok.kind == "}" then
			self:next()
			break
		elseif tok.kind == "." then
			self:next()
			local name = self:word("a type name")
			self:struct(fullname .. "." .. name.value, name.line)
		else
			local f = self:field()
			if names[f.name] then
				self:fail(f.line, "redefine %s in type %s", f.name, fullname)
			end
			if tags[f.tag] then
				self:fail(f.line, "redefine tag %d in type %s", f.tag, fullname)
			end
			names[f.name], tags[f.tag] = true, true
			fields[#fields + 1] = f
		end
	end
	table.sort(fields, function(a, b) return a.tag < b.tag end)
	return t
end

-- `name tag : [*]type [(key) | (decimal)]`
function Parser:field()
	local name = self:word("a field name or '}'")
	local tag = self:tag("a tag number")
	self:expect(":")
	local f = { name = name.value, tag = tag.value, line = name.line }
	if self:peek().kind == "*" then
		self:next()
		f.array = true
	end
	f.typename = self:expect("name", "a type name").value
	if self:peek().kind == "(" then
		local open = self:next()
		local inner = self:peek()
		local arg
		if inner.kind == "name" or inner.kind == "number" then
			self:next()
			arg = inner.value
		else
			arg = ""
		end
		self:expect(")")
		if f.typename == "integer" then
			if type(arg) ~= "number" then
				self:fail(open.line, "integer(%s) needs a number of decimal digits", arg)
			end
			f.decimal = arg
		elseif not f.array then
			self:fail(open.line, "only an array can have a key: %s (%s)", f.name, arg)
		elseif type(arg) == "number" then
			self:fail(open.line, "bad key (%d) for %s", arg, f.name)
		else
			f.key = arg
		end
	end
	return f
end

-- `name tag { (request|response) (Type | nil | { ... }) }`
function Parser:protocol()
	local name = self:word("'.' or a protocol name")
	local tag = self:tag("a protocol tag")
	local p = { name = name.value, tag = tag.value, line = name.line }
	if self.protocols[p.name] then
		self:fail(p.line, "redefined %s", p.name)
	end
	self.protocols[p.name] = p
	self.protolist[#self.protolist + 1] = p
	self:expect("{")
	local seen = {}
	while true do
		local tok = self:next()
		if tok.kind == "}" then
			break
		end
		local what = tok.value
		if tok.kind ~= "name" or (what ~= "request" and what ~= "response") then
			error(sfmt("syntax error at [%s] line (%d): expected request, response or '}' near '%s'",
				self.file, tok.line, tok.value), 0)
		end
		if seen[what] then
			self:fail(tok.line, "redefine %s in protocol %s", what, p.name)
		end
		seen[what] = true
		if self:peek().kind == "{" then
			local typename = p.name .. "." .. what
			self:struct(typename, tok.line)
			p[what] = typename
		else
			local typename = self:expect("name", "a type name or '{'").value
			if typename == "nil" then
				if what == "response" then
					p.confirm = true
				end
			else
				p[what] = typename
				p[what .. "_line"] = tok.line
			end
		end
	end
end

local function parse(text, file)
	local self = setmetatable({
		tokens = tokenize(text, file), pos = 1, file = file,
		types = {}, protocols = {},
		typelist = {}, protolist = {}, -- in the order of the text, for errors
	}, Parser)
	while true do
		local tok = self:peek()
		if tok.kind == "eof" then
			break
		elseif tok.kind == "." then
			self:next()
			local name = self:word("a type name")
			self:struct(name.value, name.line)
		else
			self:protocol()
		end
	end
	return self
end

---------------------------------------------------------------------------
-- Checks: protocol tags unique, every type name resolves.
---------------------------------------------------------------------------

local BUILTIN = { integer = 0, boolean = 1, string = 2, binary = 2, double = 3 }

-- A field's type name resolves from its own type outwards: in A.B, `T`
-- is A.B.T, then A.T, then T.
local function resolve(types, scope, name)
	if BUILTIN[name] then
		return name
	end
	while scope do
		local full = scope .. "." .. name
		if types[full] then
			return full
		end
		scope = scope:match("^(.+)%.[^.]+$")
	end
	if types[name] then
		return name
	end
end

local function check(self)
	local bytag = {}
	for _, p in ipairs(self.protolist) do
		local name = p.name
		local other = bytag[p.tag]
		if other then
			self:fail(p.line, "redefined protocol tag %d at %s", p.tag, name)
		end
		bytag[p.tag] = name
		for _, what in ipairs { "request", "response" } do
			if p[what] and not self.types[p[what]] then
				self:fail(p[what .. "_line"] or p.line, "Undefined %s type %s in protocol %s",
					what, p[what], name)
			end
		end
	end
	for _, t in ipairs(self.typelist) do
		local typename = t.name
		for _, f in ipairs(t.fields) do
			local full = resolve(self.types, typename, f.typename)
			if not full then
				self:fail(f.line, "Undefined type %s in type %s", f.typename, typename)
			end
			f.typename = full
		end
	end
end

---------------------------------------------------------------------------
-- Packing the bundle.
---------------------------------------------------------------------------

local function bytes(s)
	return spack("<s4", s)
end

-- A small value in a field slot: (v + 1) * 2.
local function value(v)
	if v < 0 or v > MAXTAG then
		error(sfmt("sprotoparser: value %d out of range (0..32766)", v), 0)
	end
	return spack("<I2", (v + 1) * 2)
end

local SKIP = "\1\0"   -- skip one tag
local DATA = "\0\0"   -- the value is in the data part

local function packfield(p, f, types, ids)
	local slots = {}
	local array = f.array
	local builtin = BUILTIN[f.typename]
	local key, map
	if f.key then
		local sub = types[f.typename]
		if not sub then
			p:fail(f.line, "Invalid map index: %s is an array of %s, not of a type", f.name, f.typename)
		end
		local keyfield
		if f.key == "" then
			-- *T(): a map of T's first field (by tag) to its second
			if #sub.fields ~= 2 then
				p:fail(f.line, "Invalid map definition: %s, must only have two fields", f.name)
			end
			map = true
			keyfield = sub.fields[1]
		else
			for _, sf in ipairs(sub.fields) do
				if sf.name == f.key then
					keyfield = sf
				end
			end
		end
		if not keyfield or not BUILTIN[keyfield.typename] then
			p:fail(f.line, "Invalid map index :%s", f.key == "" and f.name or f.key)
		end
		key = keyfield.tag
	end
	-- how many slots: name, buildin, type, tag [, array [, key [, map]]]
	local n = array and (key and (map and 7 or 6) or 5) or 4
	slots[1] = spack("<I2", n)
	slots[2] = DATA
	if builtin then
		slots[3] = value(builtin)
		local extra = f.decimal or (f.typename == "binary" and 1) or nil
		slots[4] = extra and value(extra) or SKIP
	else
		slots[3] = SKIP
		slots[4] = value(ids[f.typename])
	end
	slots[5] = value(f.tag)
	if array then
		slots[#slots + 1] = value(1)
		if key then
			slots[#slots + 1] = value(key)
			if map then
				slots[#slots + 1] = value(1)
			end
		end
	end
	slots[#slots + 1] = bytes(f.name)
	return bytes(concat(slots))
end

local function packtype(p, t, types, ids)
	if #t.fields == 0 then
		return bytes("\1\0" .. DATA .. bytes(t.name))
	end
	local fields = {}
	for i, f in ipairs(t.fields) do
		fields[i] = packfield(p, f, types, ids)
	end
	return bytes("\2\0" .. DATA .. DATA .. bytes(t.name) .. bytes(concat(fields)))
end

local function packproto(proto, ids)
	local slots = { nil, DATA, value(proto.tag) }
	if not proto.request and not proto.response and not proto.confirm then
		slots[1] = "\2\0"
	else
		slots[4] = proto.request and value(ids[proto.request]) or SKIP
		if proto.response then
			slots[1] = "\4\0"
			slots[5] = value(ids[proto.response])
		elseif proto.confirm then
			slots[1] = "\5\0"
			slots[5] = SKIP
			slots[6] = value(1)
		else
			slots[1] = "\3\0"
		end
	end
	slots[#slots + 1] = bytes(proto.name)
	return bytes(concat(slots))
end

local function pack(p)
	local names = {}
	for name in pairs(p.types) do
		names[#names + 1] = name
	end
	local protos = {}
	for _, proto in pairs(p.protocols) do
		protos[#protos + 1] = proto
	end
	if #names == 0 and #protos == 0 then
		return "\0\0"
	end
	table.sort(names)
	local ids = {}
	for i, name in ipairs(names) do
		ids[name] = i - 1
	end
	local packed = {}
	for i, name in ipairs(names) do
		packed[i] = packtype(p, p.types[name], p.types, ids)
	end
	local typepart = bytes(concat(packed))
	if #protos == 0 then
		return "\1\0" .. DATA .. typepart
	end
	table.sort(protos, function(a, b) return a.tag < b.tag end)
	packed = {}
	for i, proto in ipairs(protos) do
		packed[i] = packproto(proto, ids)
	end
	return "\2\0" .. DATA .. DATA .. typepart .. bytes(concat(packed))
end

--- parse(text [, name]) -> the schema bundle (a string) for sproto.new.
-- Raises a one-line error naming `name` (default "=text") and the line.
function M.parse(text, name)
	if type(text) ~= "string" then
		error("sprotoparser.parse: schema text must be a string, not " .. type(text), 2)
	end
	local p = parse(text, name or "=text")
	check(p)
	return pack(p)
end

--- dump(bundle): print the bytes in hex, 16 a line (as skynet's does).
function M.dump(str)
	local line = {}
	for i = 1, #str do
		line[#line + 1] = sfmt("%02X ", str:byte(i))
		if i % 8 == 0 then
			if i % 16 == 0 then
				print(concat(line))
				line = {}
			else
				line[#line + 1] = "- "
			end
		end
	end
	print(concat(line))
end

return M
