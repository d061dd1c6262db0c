-- The watchdog of skynet's example server, on skylet's gate: an
-- example_agent per connection.
local skynet = require "skynet"

local gate
local agents = {}

local SOCKET = {}

function SOCKET.open(fd, addr)
	local agent = skynet.newservice("example_agent")
	agents[fd] = agent
	skynet.call(agent, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self() })
end

local function close_agent(fd)
	local agent = agents[fd]
	agents[fd] = nil
	if agent then
		skynet.call(gate, "lua", "kick", fd)
		skynet.send(agent, "lua", "disconnect")
	end
end

SOCKET.close = close_agent

function SOCKET.error(fd)
	close_agent(fd)
end

function SOCKET.warning() end

function SOCKET.data() end

local CMD = {}

function CMD.start(conf)
	return skynet.call(gate, "lua", "open", conf)
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, subcmd, ...)
		if cmd == "socket" then
			SOCKET[subcmd](...)
		else
			skynet.retpack(CMD[cmd](subcmd, ...))
		end
	end)
	gate = skynet.newservice("gate")
end)
