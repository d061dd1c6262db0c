-- The watchdog: owns the gate, gives each new connection an agent, and
-- retires the agent when its connection goes (skynet's examples/watchdog.lua).
local skynet = require "skynet"

local gate
local agents = {} -- fd -> agent address

local function close_agent(fd)
  local agent = agents[fd]
  agents[fd] = nil
  if agent then
    skynet.call(gate, "lua", "kick", fd)
    skynet.send(agent, "lua", "disconnect")
  end
end

local SOCKET = {}

function SOCKET.open(fd, addr)
  skynet.error(string.format("watchdog: client %d connected from %s", fd, addr))
  local agent = skynet.newservice("agent")
  agents[fd] = agent
  skynet.call(agent, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self() })
end

function SOCKET.close(fd)
  skynet.error(string.format("watchdog: client %d disconnected", fd))
  close_agent(fd)
end

function SOCKET.error(fd, msg)
  skynet.error(string.format("watchdog: client %d failed: %s", fd, msg))
  close_agent(fd)
end

function SOCKET.warning(fd, size)
  skynet.error(string.format("watchdog: %d KiB waiting to be sent to client %d", size, fd))
end

function SOCKET.data(fd, msg) end

local CMD = {}

function CMD.start(conf)
  return skynet.call(gate, "lua", "open", conf)
end

function CMD.close(fd)
  close_agent(fd)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, subcmd, ...)
    if cmd == "socket" then
      SOCKET[subcmd](...) -- events from the gate: no answer
    else
      local f = assert(CMD[cmd], "unknown command")
      skynet.ret(skynet.pack(f(subcmd, ...)))
    end
  end)
  gate = skynet.newservice("gate")
end)
