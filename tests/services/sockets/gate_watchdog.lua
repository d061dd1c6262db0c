-- A watchdog for gate tests: one gate_agent per connection (mode "agent"),
-- or packets kept by the watchdog itself (mode "accept"). Every socket event
-- it hears from the gate is recorded for the test ("event").
local skynet = require "skynet"
local socket = require "skynet.socket"

local mode = ...
local gate
local agents = {}
local events, waiting = {}, {}

local function record(...)
  local event = table.pack(...)
  local w = table.remove(waiting, 1)
  if w then
    w(true, table.unpack(event, 1, event.n))
  else
    events[#events + 1] = event
  end
end

local function close_agent(fd)
  local a = agents[fd]
  agents[fd] = nil
  if a then
    skynet.call(gate, "lua", "kick", fd)
    skynet.send(a, "lua", "disconnect")
  end
end

local SOCKET = {}

function SOCKET.open(fd, addr)
  record("open", fd)
  if mode == "agent" then
    local a = skynet.newservice("gate_agent")
    agents[fd] = a
    skynet.call(a, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self() })
  else
    skynet.call(gate, "lua", "accept", fd)
  end
end

function SOCKET.close(fd)
  record("close", fd)
  close_agent(fd)
end

function SOCKET.error(fd, msg)
  record("error", fd, msg)
  close_agent(fd)
end

function SOCKET.warning(fd, size)
  record("warning", fd, size)
end

function SOCKET.data(fd, msg)
  record("data", fd, msg)
  socket.write(fd, string.pack(">s2", "watchdog:" .. msg))
end

local CMD = {}

function CMD.start(conf)
  return skynet.call(gate, "lua", "open", conf)
end

function CMD.close(fd)
  close_agent(fd)
end

function CMD.kick(fd)
  skynet.call(gate, "lua", "kick", fd)
end

function CMD.stop()
  skynet.call(gate, "lua", "close")
end

function CMD.agents()
  local n = 0
  for _ in pairs(agents) do
    n = n + 1
  end
  return n
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, subcmd, ...)
    if cmd == "socket" then
      SOCKET[subcmd](...)
    elseif cmd == "event" then
      local e = table.remove(events, 1)
      if e then
        skynet.retpack(table.unpack(e, 1, e.n))
      else
        waiting[#waiting + 1] = skynet.response()
      end
    else
      local f = assert(CMD[cmd], "unknown command")
      skynet.retpack(f(subcmd, ...))
    end
  end)
  gate = skynet.newservice("gate")
end)
