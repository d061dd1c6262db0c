-- skynet.socketdriver: the node's socket server, as skynet's C module of that
-- name exposes it to skynet.socket and to gates. Each call is one "SOCKET"
-- core command; socket events arrive as "socket" messages that `unpack`
-- decodes into (event, id, ud, data):
--   1 DATA     ud = 0, or the read window when the node stopped reading until
--              it gets credit back (see driver.ack); data = the bytes
--   2 CONNECT  ud = peer port, data = "ip:port"
--   3 CLOSE
--   4 ACCEPT   ud = the new connection's id, data = "ip:port"
--   5 ERROR    data = what went wrong
--   7 WARNING  ud = KiB waiting to be sent (0 once drained)
local command = require "skylet.core".command
local mp = require "skylet.msgpack"

local string_unpack, sub, concat, type, error, tonumber =
  string.unpack, string.sub, table.concat, type, error, tonumber

local driver = {}

local function address(host, port)
  if port == nil and type(host) == "string" then
    local h, p = host:match("^%[?(.-)%]?:(%d+)$")
    if h then
      return h, tonumber(p)
    end
  end
  return host, tonumber(port)
end

-- Binds and listens at once; raises on failure. Returns id, host, port (the
-- port the OS picked when asked for 0). Accepting begins with driver.start.
function driver.listen(host, port, backlog)
  host, port = address(host, port)
  if port == nil then
    error("socket.listen needs a port", 2)
  end
  local id, addr, actual = command("SOCKET", "listen", host or "", port, backlog or 0)
  if id == nil then
    error(addr, 2)
  end
  return id, addr, actual
end

-- Starts connecting; the result comes as a CONNECT or ERROR event.
function driver.connect(host, port)
  host, port = address(host, port)
  if type(host) ~= "string" or port == nil then
    error("socket.open needs a host and a port", 2)
  end
  local id, err = command("SOCKET", "connect", host, port)
  if id == nil then
    error(err, 2)
  end
  return id
end

-- Makes the caller the owner of id and starts reading (or accepting).
-- Returns true, or nil and why.
function driver.start(id)
  return command("SOCKET", "start", id)
end

function driver.pause(id)
  command("SOCKET", "pause", id)
end

function driver.abandon(id)
  command("SOCKET", "abandon", id)
end

-- Credit for reading: `consumed` bytes were used, `want` bytes need to be
-- buffered. Returns the window if the node still waits for more credit.
function driver.ack(id, consumed, want)
  return command("SOCKET", "ack", id, consumed, want or 0)
end

local function payload(data)
  if type(data) == "table" then
    return concat(data)
  end
  return data
end

function driver.send(id, data)
  return command("SOCKET", "send", id, payload(data))
end

function driver.lsend(id, data)
  return command("SOCKET", "lsend", id, payload(data))
end

-- Graceful: what is queued is still sent, then the connection closes.
function driver.close(id)
  command("SOCKET", "close", id)
end

-- At once: queued writes are dropped.
function driver.shutdown(id)
  command("SOCKET", "shutdown", id)
end

function driver.nodelay(id)
  command("SOCKET", "nodelay", id)
end

-- Bytes written to id and not yet sent.
function driver.sendbuffer(id)
  return command("SOCKET", "sendbuffer", id)
end

-- Every socket of the node: { id=, type=, address= (owner), read=, write=,
-- wbuffer=, rbuffer=, rtime=, wtime=, reading=, writing=, peer= } for TCP,
-- { id=, type="LISTEN", address=, accept=, rtime=, sock= } for listeners.
function driver.info()
  return mp.unpack(command("SOCKET", "info"))
end

function driver.unpack(msg)
  local event, id, ud, pos = string_unpack(">BI4i8", msg)
  return event, id, ud, sub(msg, pos)
end

local function unsupported(name)
  return function()
    error("skynet.socketdriver." .. name .. " is not supported by skylet (TCP only)", 2)
  end
end

driver.udp = unsupported "udp"
driver.udp_connect = unsupported "udp_connect"
driver.udp_send = unsupported "udp_send"
driver.udp_address = unsupported "udp_address"
driver.bind = unsupported "bind"

function driver.drop() end

return driver
