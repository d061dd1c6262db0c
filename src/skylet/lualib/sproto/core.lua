-- sproto.core: skynet's module of sproto's core functions. The C core
-- (skylet/_lua/_lsproto.c, skylet.csproto, opened on first require; config `sproto_core`)
-- when the node has it, else the pure-Lua skylet.sprotocore: the same bytes
-- and the same errors either way.
--
-- saveproto/loadproto share a schema between the services of the node by
-- slot (0..15): the node keeps the bundle's bytes (core command SPROTO) and
-- each service builds its own schema object from them, once per bundle.
local impl = package.preload["skylet.csproto"] and require "skylet.csproto"
if type(impl) ~= "table" then
  impl = require "skylet.sprotocore"
end

local core = {}
for name, fn in pairs(impl) do
	core[name] = fn
end

local MAX_GLOBALSPROTO = 16
local bundles = setmetatable({}, { __mode = "k" }) -- schema -> its bundle

function core.newproto(bin)
	local sp, why = impl.newproto(bin)
	if sp then
		bundles[sp] = bin
	end
	return sp, why
end

local function slot_index(index)
	index = index or 0
	local i = math.tointeger(index)
	if not i or i < 0 or i >= MAX_GLOBALSPROTO then
		error(string.format("Invalid global slot index %s", tostring(index)), 0)
	end
	return i
end

local function node_command(...)
	return require("skylet.core").command(...)
end

local loaded = {} -- slot -> the schema this service built from it

function core.saveproto(sp, index)
	local i = slot_index(index)
	local bin = bundles[sp]
	if not bin then
		error("bad argument #1 to 'saveproto' (Need a sproto object)", 0)
	end
	node_command("SPROTO", "save", i, bin)
	loaded[i] = sp
end

function core.loadproto(index)
	local i = slot_index(index)
	local bin = node_command("SPROTO", "load", i)
	if bin == nil then
		error(string.format("nil sproto at index %d", i), 0)
	end
	local sp = loaded[i]
	if sp and bundles[sp] == bin then
		return sp
	end
	sp = assert(core.newproto(bin))
	loaded[i] = sp
	return sp
end

return core
