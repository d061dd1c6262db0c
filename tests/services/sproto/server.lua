-- A sproto RPC server on TCP, framed as skynet's netpack (2-byte big-endian
-- size): answers login and move, logs bad packets and goes on.
local skynet = require "skynet"
local socket = require "skynet.socket"
local sprotoloader = require "sprotoloader"

local host
local REQUEST = {}

function REQUEST.login(args)
	return { ok = args.account == "alice", player = { id = 1, name = "Alice" } }
end

function REQUEST.move()
	return nil, "done"
end

-- dispatch(packet) -> the packed answer, or nil for a push
local function handle(packet)
	local kind, name, args, respond = host:dispatch(packet)
	assert(kind == "REQUEST", kind)
	local result, ud = REQUEST[name](args)
	if respond then
		return respond(result, ud)
	end
end

local function serve(id)
	socket.start(id)
	while true do
		local head = socket.read(id, 2)
		if not head then break end
		local packet = socket.read(id, string.unpack(">I2", head))
		if not packet then break end
		local ok, answer = pcall(handle, packet)
		if not ok then
			skynet.error("bad packet: " .. tostring(answer))
		elseif answer then
			socket.write(id, string.pack(">s2", answer))
		end
	end
	socket.close(id)
end

local CMD = {}

function CMD.dispatch(packet)
	return handle(packet)
end

skynet.start(function()
	host = sprotoloader.load(1):host "package"
	local listen_id, _, port = socket.listen("127.0.0.1", 0)
	socket.start(listen_id, function(id)
		skynet.fork(serve, id)
	end)
	CMD.port = function() return port end
	skynet.dispatch("lua", function(_, _, cmd, ...)
		skynet.retpack(CMD[cmd](...))
	end)
end)
