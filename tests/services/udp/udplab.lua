-- UDP and DNS test bench: each command does one thing with skynet.socket /
-- skynet.dns and answers what came of it; datagrams received are kept as
-- records the test collects with "received".
local skynet = require "skynet"
local socket = require "skynet.socket"
local dns = require "skynet.dns"

local received, waiting = {}, nil
local sockets = {}

local function record(tag)
  return function(data, from)
    local ip, port = socket.udp_address(from)
    received[#received + 1] = { tag, data, ip, port }
    if waiting and #received >= waiting.n then
      local w = waiting
      waiting = nil
      skynet.wakeup(w.co)
    end
  end
end

local CMD = {}

-- A server that answers "OK <data>" to the sender.
function CMD.echo_server(host, port, listen)
  local id
  local function answer(data, from)
    record("server")(data, from)
    socket.sendto(id, from, "OK " .. data)
  end
  if listen then
    id = socket.udp_listen(host, port, answer)
  else
    id = socket.udp(answer, host, port)
  end
  sockets[#sockets + 1] = id
  return id
end

-- An unbound client: udp_connect, then socket.write each message.
function CMD.connect_and_write(host, port, ...)
  local id = socket.udp(record("client"))
  socket.udp_connect(id, host, port)
  for _, m in ipairs { ... } do
    socket.write(id, m)
  end
  return id
end

function CMD.dial_and_write(host, port, ...)
  local id = socket.udp_dial(host, port, record("client"))
  for _, m in ipairs { ... } do
    socket.write(id, m)
  end
  return id
end

function CMD.sendto(id, addr, data)
  return socket.sendto(id, addr, data)
end

-- Waits until n datagrams were received in all; returns them.
function CMD.received(n)
  if #received < n then
    waiting = { n = n, co = coroutine.running() }
    skynet.wait(waiting.co)
  end
  local r = received
  received = {}
  return r
end

function CMD.close(id)
  socket.close(id)
  return true
end

function CMD.exit()
  skynet.exit()
end

function CMD.netstat()
  local r = {}
  for _, s in ipairs(socket.netstat()) do
    r[#r + 1] = { s.id, s.type }
  end
  return r
end

function CMD.address(blob)
  return socket.udp_address(blob)
end

-- pcall(socket[name], ...): ok, then what it answered or raised
function CMD.try(name, ...)
  return pcall(socket[name], ...)
end

function CMD.resolve(name)
  return pcall(socket.resolve, name)
end

function CMD.dns_server(host, port)
  dns.server(host, port)
  return true
end

function CMD.dns(name, ipv6)
  return pcall(dns.resolve, name, ipv6)
end

function CMD.dns_flush()
  dns.flush()
  return true
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
