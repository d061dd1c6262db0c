-- Puts the test schemas in the node's sproto slots, as skynet's
-- examples/protoloader.lua does: slot 1 from a file, slot 2 from text,
-- slots 3 and 4 the c2s and s2c schemas of skynet's examples.
local skynet = require "skynet"
local sprotoparser = require "sprotoparser"
local sprotoloader = require "sprotoloader"

skynet.start(function()
	sprotoloader.register(SERVICE_PATH .. "game.sproto", 1)
	sprotoloader.save(sprotoparser.parse [[
.package {
	type 0 : integer
	session 1 : integer
}

heartbeat 1 {}
]], 2)
	sprotoloader.register(SERVICE_PATH .. "c2s.sproto", 3)
	sprotoloader.register(SERVICE_PATH .. "s2c.sproto", 4)
end)
