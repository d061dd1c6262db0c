-- sproto: schema objects and sproto RPC, with skynet's API (lualib/sproto.lua):
-- sproto.new / parse / sharenew, encode / decode, pencode / pdecode,
-- request_* / response_*, default, and host:dispatch / host:attach.
local core = require "sproto.core"

local assert, error, type, tonumber, setmetatable = assert, error, type, tonumber, setmetatable

local sproto = {}
local host = {}

local weak_mt = { __mode = "kv" }
local sproto_mt = { __index = sproto }
local host_mt = { __index = host }

local function wrap(cobj)
	return setmetatable({
		__cobj = cobj,
		__tcache = setmetatable({}, weak_mt),
		__pcache = setmetatable({}, weak_mt),
	}, sproto_mt)
end

--- sproto.new(bin): a schema object from a bundle (sprotoparser.parse's output).
function sproto.new(bin)
	local cobj, why = core.newproto(bin)
	if not cobj then
		error(why, 2)
	end
	return wrap(cobj)
end

--- sproto.sharenew(cobj): a schema object over a core one (sprotoloader.load).
sproto.sharenew = wrap

function sproto.parse(text)
	local parser = require "sprotoparser"
	return sproto.new(parser.parse(text))
end

function sproto:host(packagename)
	packagename = packagename or "package"
	return setmetatable({
		__proto = self,
		__package = assert(core.querytype(self.__cobj, packagename), "type package not found"),
		__session = {},
	}, host_mt)
end

local function querytype(self, typename)
	local v = self.__tcache[typename]
	if not v then
		v = core.querytype(self.__cobj, typename)
		if not v then
			error("type not found: " .. tostring(typename), 3)
		end
		self.__tcache[typename] = v
	end
	return v
end

function sproto:exist_type(typename)
	return self.__tcache[typename] ~= nil or core.querytype(self.__cobj, typename) ~= nil
end

function sproto:encode(typename, tbl)
	return core.encode(querytype(self, typename), tbl)
end

function sproto:decode(typename, ...)
	return core.decode(querytype(self, typename), ...)
end

function sproto:pencode(typename, tbl)
	return core.pack(core.encode(querytype(self, typename), tbl))
end

function sproto:pdecode(typename, ...)
	return core.decode(querytype(self, typename), core.unpack(...))
end

-- The protocol called `pname` (a name or a tag): { name, tag, request, response }.
local function queryproto(self, pname)
	local v = self.__pcache[pname]
	if not v then
		local tag, req, resp = core.protocol(self.__cobj, pname)
		if not tag then
			error(tostring(pname) .. " not found", 3)
		end
		local name = pname
		if tonumber(pname) then
			name, tag = tag, pname
		end
		v = { request = req, response = resp, name = name, tag = tag }
		self.__pcache[name] = v
		self.__pcache[tag] = v
	end
	return v
end
sproto.queryproto = queryproto

function sproto:exist_proto(pname)
	return self.__pcache[pname] ~= nil or core.protocol(self.__cobj, pname) ~= nil
end

function sproto:request_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.request then
		return core.encode(p.request, tbl), p.tag
	end
	return "", p.tag
end

function sproto:response_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.response then
		return core.encode(p.response, tbl)
	end
	return ""
end

function sproto:request_decode(protoname, ...)
	local p = queryproto(self, protoname)
	if p.request then
		return core.decode(p.request, ...), p.name
	end
	return nil, p.name
end

function sproto:response_decode(protoname, ...)
	local p = queryproto(self, protoname)
	if p.response then
		return core.decode(p.response, ...)
	end
end

sproto.pack = core.pack
sproto.unpack = core.unpack

--- sproto:default(typename [, "REQUEST" | "RESPONSE"]): a table of default values.
function sproto:default(typename, kind)
	if kind == nil then
		return core.default(querytype(self, typename))
	end
	local p = queryproto(self, typename)
	if kind == "REQUEST" then
		if p.request then
			return core.default(p.request)
		end
	elseif kind == "RESPONSE" then
		if p.response and p.response ~= core.CONFIRM then
			return core.default(p.response)
		end
	else
		error("Invalid type", 2)
	end
end

-- The package header of a message: { type = tag, session = n, ud = x }.
local function header(tag, session, ud)
	return { type = tag, session = session, ud = ud }
end

local function gen_response(self, response, session)
	return function(args, ud)
		local head = core.encode(self.__package, header(nil, session, ud))
		if response then
			return core.pack(head .. core.encode(response, args))
		end
		return core.pack(head)
	end
end

--- host:dispatch(msg [, sz]) -> "REQUEST", name, args, response, ud
---                           or "RESPONSE", session, args, ud
function host:dispatch(...)
	local bin = core.unpack(...)
	local head, size = core.decode(self.__package, bin)
	local content = bin:sub(size + 1)
	if head.type then
		local proto = queryproto(self.__proto, head.type)
		local result
		if proto.request then
			result = core.decode(proto.request, content)
		end
		if head.session then
			return "REQUEST", proto.name, result,
				gen_response(self, proto.response, head.session), head.ud
		end
		return "REQUEST", proto.name, result, nil, head.ud
	end
	local session = assert(head.session, "session not found")
	local response = assert(self.__session[session], "Unknown session")
	self.__session[session] = nil
	if response == true then
		return "RESPONSE", session, nil, head.ud
	end
	return "RESPONSE", session, core.decode(response, content), head.ud
end

--- host:attach(sp) -> request(name, args, session, ud): a packed request of sp's protocol.
function host:attach(sp)
	return function(name, args, session, ud)
		local proto = queryproto(sp, name)
		local head = core.encode(self.__package, header(proto.tag, session, ud))
		if session then
			self.__session[session] = proto.response or true
		end
		if proto.request then
			return core.pack(head .. core.encode(proto.request, args))
		end
		return core.pack(head)
	end
end

return sproto
