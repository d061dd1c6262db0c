-- sprotoloader: share a schema between the services of a node by slot (0..15),
-- with skynet's API. The node keeps the schema bundle's bytes; load builds
-- this service's own schema object from them.
local parser = require "sprotoparser"
local core = require "sproto.core"
local sproto = require "sproto"

local loader = {}

--- register(filename, index): parse a schema file and save it in slot index.
function loader.register(filename, index)
	local f = assert(io.open(filename), "Can't open sproto file")
	local data = f:read "a"
	f:close()
	loader.save(parser.parse(data, filename), index)
end

--- save(bin, index): save a schema bundle in slot index (default 0).
function loader.save(bin, index)
	local sp, why = core.newproto(bin)
	if not sp then
		error(why, 2)
	end
	core.saveproto(sp, index)
end

--- load(index): the schema in slot index, as a sproto object.
function loader.load(index)
	return sproto.sharenew(core.loadproto(index))
end

return loader
