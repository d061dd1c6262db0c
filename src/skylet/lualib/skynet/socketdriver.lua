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
--   6 UDP      ud = the datagram's size; unpack returns a fifth value, the
--              sender's address (skynet's blob: see driver.udp_address)
--   7 WARNING  ud = KiB waiting to be sent (0 once drained)
local command = require "skylet.core".command
local mp = require "skylet.msgpack"

local string_unpack, sub, concat, type, error, tonumber, format =
  string.unpack, string.sub, table.concat, type, error, tonumber, string.format

local UDP = 6

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
  if event == UDP then
    return event, id, ud, sub(msg, pos, pos + ud - 1), sub(msg, pos + ud)
  end
  return event, id, ud, sub(msg, pos)
end

---------------------- UDP

local function checked(id, err, what)
  if id == nil then
    error(err or what .. " failed", 3)
  end
  return id
end

-- udp([host [, port]]) or udp("host:port"): bound when an address is given.
function driver.udp(host, port)
  host, port = address(host, port)
  return checked(command("SOCKET", "udp", host, port or 0))
end

function driver.udp_listen(host, port)
  host, port = address(host, port)
  return checked(command("SOCKET", "udp_listen", host or "", port or 0))
end

function driver.udp_dial(host, port)
  host, port = address(host, port)
  if type(host) ~= "string" or port == nil then
    error("udp_dial needs a host and a port", 2)
  end
  return checked(command("SOCKET", "udp_dial", host, port))
end

-- Where driver.send on id goes from now on.
function driver.udp_connect(id, host, port)
  host, port = address(host, port)
  if type(host) ~= "string" or port == nil then
    error("udp_connect needs a host and a port", 2)
  end
  checked(command("SOCKET", "udp_connect", id, host, port))
end

-- skynet's udp address: protocol byte (1 IPv4, 2 IPv6), port (big-endian),
-- then the 4 or 16 address bytes.
local function valid_address(addr)
  if type(addr) ~= "string" then
    return false
  end
  local n, kind = #addr, addr:byte(1)
  return (n == 7 and kind == 1) or (n == 19 and kind == 2)
end

function driver.udp_send(id, addr, data)
  if not valid_address(addr) then
    error("Invalid udp address", 2)
  end
  return command("SOCKET", "udp_send", id, addr, payload(data)) and true or false
end

-- IPv6 text as inet_ntop writes it: the first longest run (2 groups or more)
-- of zero groups is "::", and ::a.b.c.d / ::ffff:a.b.c.d keep the IPv4 dots.
local function ipv6_text(raw)
  local g = { string_unpack(">HHHHHHHH", raw) }
  g[9] = nil
  local best, bestlen, run, runlen = 0, 0, 0, 0
  for i = 1, 8 do
    if g[i] == 0 then
      if runlen == 0 then
        run = i
      end
      runlen = runlen + 1
      if runlen > bestlen then
        best, bestlen = run, runlen
      end
    else
      runlen = 0
    end
  end
  if best == 1 and (bestlen == 6 or (bestlen == 5 and g[6] == 0xffff)) then
    local prefix = bestlen == 6 and "::" or "::ffff:"
    return prefix .. format("%d.%d.%d.%d", raw:byte(13, 16))
  end
  local parts = {}
  local i = 1
  while i <= 8 do
    if bestlen >= 2 and i == best then
      parts[#parts + 1] = (i == 1) and ":" or ""
      i = i + bestlen
      if i > 8 then
        parts[#parts + 1] = ""
      end
    else
      parts[#parts + 1] = format("%x", g[i])
      i = i + 1
    end
  end
  return concat(parts, ":")
end

-- (ip, port) of a udp address.
function driver.udp_address(addr)
  if not valid_address(addr) then
    error("Invalid udp address", 2)
  end
  local port = string_unpack(">I2", addr, 2)
  if #addr == 7 then
    return format("%d.%d.%d.%d", addr:byte(4, 7)), port
  end
  return ipv6_text(sub(addr, 4)), port
end

-- Every address of a host name, as strings; raises what the resolver said.
function driver.resolve(host)
  if type(host) ~= "string" then
    error("resolve needs a host name", 2)
  end
  local r = table.pack(command("RESOLVE", host))
  if r.n == 2 and r[1] == nil then
    error(r[2], 2)
  end
  return { table.unpack(r, 1, r.n) }
end

local function unsupported(name)
  return function()
    error("skynet.socketdriver." .. name .. " is not supported by skylet", 2)
  end
end

driver.bind = unsupported "bind"

function driver.drop() end

return driver
