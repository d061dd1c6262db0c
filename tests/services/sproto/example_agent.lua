-- The agent of skynet's example server: the client's packets arrive as
-- "client" messages that host:dispatch unpacks (msg, sz); answers and
-- pushes go back through the socket, framed with a 2-byte size.
local skynet = require "skynet"
local socket = require "skynet.socket"
local sprotoloader = require "sprotoloader"

local host, push, client_fd
local store = {}

local REQUEST = {}

function REQUEST.handshake()
	return { msg = "Welcome to skylet" }
end

function REQUEST.set(args)
	store[args.what] = args.value
end

function REQUEST.get(args)
	return { result = store[args.what] }
end

local function send(packet)
	socket.write(client_fd, string.pack(">s2", packet))
end

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = function(msg, sz)
		return host:dispatch(msg, sz)
	end,
	dispatch = function(fd, _, kind, name, args, respond)
		skynet.ignoreret() -- the session is the fd
		assert(fd == client_fd and kind == "REQUEST")
		local result = REQUEST[name](args)
		if respond then
			send(respond(result))
		end
	end,
}

local CMD = {}

function CMD.start(conf)
	client_fd = conf.client
	host = sprotoloader.load(3):host "package"
	push = host:attach(sprotoloader.load(4))
	send(push "heartbeat")
	skynet.call(conf.gate, "lua", "forward", client_fd)
end

function CMD.disconnect()
	skynet.exit()
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		skynet.retpack(CMD[cmd](...))
	end)
end)
