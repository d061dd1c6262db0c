-- Uses the shared schemas: loads slots, builds requests, tries bad slots.
local skynet = require "skynet"
local sprotoparser = require "sprotoparser"
local sprotoloader = require "sprotoloader"

local CMD = {}

-- which sproto core this service runs: "c" or "lua"
function CMD.core()
	require "sproto.core"
	return package.loaded["skylet.csproto"] and "c" or "lua"
end

-- The request packets skynet's client writes for the same calls.
function CMD.requests()
	local sp = sprotoloader.load(1)
	local request = sp:host("package"):attach(sp)
	return request("login", { account = "alice", token = "\1\0\2", version = 3 }, 1),
		request("move", { x = 1, y = 2, z = 3 }, 2)
end

function CMD.push()
	local host = sprotoloader.load(1):host "package"
	local push = host:attach(sprotoloader.load(2))
	return push("heartbeat")
end

function CMD.same_object()
	return sprotoloader.load(1) and sprotoloader.load(1).__cobj == sprotoloader.load(1).__cobj
end

function CMD.load(index)
	return sprotoloader.load(index):exist_proto("login")
end

function CMD.save(text, index)
	sprotoloader.save(sprotoparser.parse(text), index)
end

function CMD.save_bytes(bin, index)
	sprotoloader.save(bin, index)
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		skynet.retpack(CMD[cmd](...))
	end)
end)
