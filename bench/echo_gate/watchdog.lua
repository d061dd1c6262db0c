-- Bench watchdog: the gate, and an echo agent per connection.
local skynet = require "skynet"

local gate
local agents = {}

local SOCKET = {}

function SOCKET.open(fd)
  local agent = skynet.newservice("echo_agent")
  agents[fd] = agent
  skynet.call(agent, "lua", "start", gate, fd)
end

local function gone(fd)
  local agent = agents[fd]
  agents[fd] = nil
  if agent then
    skynet.call(gate, "lua", "kick", fd)
    skynet.send(agent, "lua", "exit")
  end
end

SOCKET.close = gone
SOCKET.error = gone
function SOCKET.warning() end
function SOCKET.data() end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, subcmd, ...)
    if cmd == "socket" then
      SOCKET[subcmd](...)
    else
      assert(cmd == "start")
      skynet.retpack(skynet.call(gate, "lua", "open", subcmd))
    end
  end)
  gate = skynet.newservice("gate")
end)
