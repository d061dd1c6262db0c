-- The gate (skynet's service/gate.lua): accepts clients and forwards their
-- packets. Lua commands:
--   open(conf)                    listen: { address=, port=, maxclient=,
--                                 maxpacket=, backlog=, watchdog= }; returns
--                                 the address and port listened on
--   close()                       stop listening
--   forward(fd [, client, agent]) send fd's packets to agent (default: the
--                                 caller) as "client" messages, session = fd,
--                                 source = client (default 0)
--   accept(fd)                    read fd, packets go to the watchdog
--   kick(fd)                      close fd
-- The watchdog (conf.watchdog, default whoever opened the gate) gets
--   "socket", "open", fd, addr / "data", fd, msg / "close", fd /
--   "error", fd, msg / "warning", fd, size_kib
-- An agent answers its client with socket.write(fd, string.pack(">s2", msg)).
local skynet = require "skynet"
local gateserver = require "snax.gateserver"

local watchdog
local connection = {} -- fd -> { fd =, ip =, agent =, client = }

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
}

local handler = {}

function handler.open(source, conf)
  watchdog = conf.watchdog or source
  return conf.address, conf.port
end

function handler.message(fd, msg, sz)
  local c = connection[fd]
  local agent = c.agent
  if agent then
    skynet.redirect(agent, c.client, "client", fd, msg, sz)
  else
    skynet.send(watchdog, "lua", "socket", "data", fd, msg)
  end
end

function handler.connect(fd, addr)
  connection[fd] = { fd = fd, ip = addr }
  skynet.send(watchdog, "lua", "socket", "open", fd, addr)
end

function handler.disconnect(fd)
  connection[fd] = nil
  skynet.send(watchdog, "lua", "socket", "close", fd)
end

function handler.error(fd, msg)
  connection[fd] = nil
  skynet.send(watchdog, "lua", "socket", "error", fd, msg)
end

function handler.warning(fd, size)
  skynet.send(watchdog, "lua", "socket", "warning", fd, size)
end

local CMD = {}

function CMD.forward(source, fd, client, address)
  local c = assert(connection[fd], "forward: no such connection")
  c.client = client or 0
  c.agent = address or source
  gateserver.openclient(fd)
end

function CMD.accept(source, fd)
  local c = assert(connection[fd], "accept: no such connection")
  c.agent, c.client = nil, nil
  gateserver.openclient(fd)
end

function CMD.kick(source, fd)
  gateserver.closeclient(fd)
end

function handler.command(cmd, source, ...)
  local f = assert(CMD[cmd], "unknown gate command")
  return f(source, ...)
end

gateserver.start(handler)
