-- skynet.socket: blocking-style TCP for a service (skynet's lualib/skynet/socket.lua).
-- A read suspends only the calling coroutine; the node delivers what it reads
-- as "socket" messages, which this module buffers per connection.
--
-- Flow control (skylet): the node stops reading a connection once the bytes it
-- delivered and this service has not consumed reach its read window; a DATA
-- message with a non-zero ud says it stopped. This module then gives credit
-- back (driver.ack) as the service consumes, or when a reader needs more than
-- is buffered, so a service that does not read holds at most a window per
-- connection.
local driver = require "skynet.socketdriver"
local skynet = require "skynet"
local socketbuffer = require "skylet.socketbuffer"

local assert, type, error = assert, type, error
local coroutine_running = coroutine.running
local format = string.format

local DATA, CONNECT, CLOSE, ACCEPT, ERROR, UDP, WARNING = 1, 2, 3, 4, 5, 6, 7

local socket = {}
local socket_pool = {}    -- id -> socket object of this service
local socket_onclose = {} -- id -> function(id)
local handlers = {}

local function wakeup(s)
  local co = s.co
  if co then
    s.co = nil
    skynet.wakeup(co)
  end
end

-- Gives the node credit back once half a window was consumed, or at once
-- when `want` (bytes a reader needs buffered) is given.
local function credit(s, want)
  local window = s.held
  if window and (want or s.consumed >= window // 2) then
    s.held = driver.ack(s.id, s.consumed, want)
    s.consumed = 0
  end
end

local function consumed(s, data)
  s.consumed = s.consumed + #data
  if s.held then
    credit(s)
  end
  return data
end

local function suspend(s)
  assert(not s.co, "socket is already being read by another coroutine")
  if s.pause then
    s.pause = nil
    driver.start(s.id)
  end
  s.co = coroutine_running()
  skynet.wait(s.co)
  s.read_required = nil
  -- socket.close waits for a reader to finish with the buffer.
  if s.closing then
    skynet.wakeup(s.closing)
  end
end

-- Bytes the reader waiting on s needs buffered before it can go on.
local function needed(s)
  local rr = s.read_required
  if type(rr) == "number" then
    return rr
  end
  -- a line or everything: let the node read another window
  return s.buffer.size + (s.held or 0) + 1
end

local function wait_data(s, required)
  s.read_required = required
  credit(s, needed(s))
  suspend(s)
end

-- More than socket.limit allows is buffered: close (the reader gets false).
local function overflow(id, size)
  skynet.error(format("socket buffer overflow: fd=%d size=%d", id, size))
  driver.close(id)
end

handlers[DATA] = function(id, ud, data)
  local s = socket_pool[id]
  if s == nil or s.buffer == nil then
    skynet.error("socket: drop package from " .. id)
    return
  end
  local buffer = s.buffer
  buffer:push(data)
  if ud > 0 then
    s.held = ud
  end
  local rr = s.read_required
  local rrt = type(rr)
  if rrt == "number" then
    if buffer.size >= rr then
      s.read_required = nil
      return wakeup(s)
    end
  elseif rrt == "string" then
    if buffer:find(rr) then
      s.read_required = nil
      return wakeup(s)
    end
    -- a line longer than the limit (as skynet: the limit holds for readline)
    if s.buffer_limit and buffer.size > s.buffer_limit then
      return overflow(id, buffer.size)
    end
  elseif rr == nil then
    if s.buffer_limit and buffer.size > s.buffer_limit then
      return overflow(id, buffer.size)
    end
    return credit(s)
  end
  -- a reader is waiting for more than is buffered
  credit(s, needed(s))
end

handlers[CONNECT] = function(id, ud, addr)
  local s = socket_pool[id]
  if s and not s.connected then
    s.connected = true
    s.connecting = nil
    s.peer = addr
    wakeup(s)
  end
end

local function closed(id)
  local cb = socket_onclose[id]
  if cb then
    socket_onclose[id] = nil
    cb(id)
  end
end

handlers[CLOSE] = function(id)
  local s = socket_pool[id]
  if s then
    s.connected = false
    wakeup(s)
  end
  closed(id)
end

handlers[ACCEPT] = function(id, newid, addr)
  local s = socket_pool[id]
  if s == nil or s.callback == nil then
    driver.close(newid)
    return
  end
  s.callback(newid, addr)
end

handlers[ERROR] = function(id, _, err)
  local s = socket_pool[id]
  if s == nil then
    skynet.error("socket: error on unknown", id, err)
    return
  end
  if s.protocol == "UDP" then
    skynet.error("socket: udp error on", id, err)
    s.connected = false
    closed(id)
    return
  end
  if s.callback then
    skynet.error("socket: accept error:", err)
    return
  end
  if s.connected then
    skynet.error("socket: error on", id, err)
  elseif s.connecting then
    s.connecting = err
  end
  s.connected = false
  driver.shutdown(id)
  wakeup(s)
  closed(id)
end

handlers[UDP] = function(id, _, data, from)
  local s = socket_pool[id]
  if s == nil or s.callback == nil then
    skynet.error("socket: drop udp package from " .. id)
    return
  end
  s.callback(data, from)
end

local function default_warning(id, size)
  if size > 0 then
    skynet.error(format("WARNING: %d K bytes need to send out (fd = %d)", size, id))
  end
end

handlers[WARNING] = function(id, size)
  local s = socket_pool[id]
  if s then
    (s.on_warning or default_warning)(id, size)
  end
end

skynet.register_protocol {
  name = "socket",
  id = skynet.PTYPE_SOCKET,
  unpack = driver.unpack,
  dispatch = function(_, _, event, ...)
    local f = handlers[event]
    if f then
      f(...)
    end
  end,
}

local function new_socket(id, callback)
  assert(not socket_onclose[id], "socket has onclose callback")
  local old = socket_pool[id]
  if old and not old.listen then
    error("socket is not closed", 3)
  end
  local s = {
    id = id,
    buffer = callback == nil and socketbuffer.new() or nil,
    connected = false,
    connecting = true,
    consumed = 0,
    callback = callback,
    protocol = "TCP",
  }
  socket_pool[id] = s
  return s
end

-- Takes ownership of id (accepted, or handed over by another service) and
-- starts reading it; for a listener, starts accepting: func(newid, addr) is
-- called for each connection. Returns id, or nil and why.
function socket.start(id, func)
  local s = new_socket(id, func)
  local ok, err = driver.start(id)
  if not ok then
    socket_pool[id] = nil
    return nil, err
  end
  s.connecting = nil
  s.connected = true
  return id
end

-- A TCP client connection: (host, port) or ("host:port"). Returns id, or nil
-- and why once the connection failed.
function socket.open(host, port)
  local id = driver.connect(host, port)
  local s = new_socket(id)
  suspend(s)
  local err = s.connecting
  s.connecting = nil
  if s.connected then
    return id
  end
  socket_pool[id] = nil
  return nil, err
end

function socket.listen(host, port, backlog)
  local id, addr, actual = driver.listen(host, port, backlog)
  socket_pool[id] = { id = id, connected = false, listen = true, addr = addr, port = actual }
  return id, addr, actual
end

function socket.pause(id)
  local s = socket_pool[id]
  if s and not s.pause then
    s.pause = true
    driver.pause(id)
  end
end

-- Closes at once; queued writes are dropped. Its CLOSE still comes.
function socket.shutdown(id)
  if socket_pool[id] then
    driver.shutdown(id)
  end
end

-- For an id this service never started (e.g. an accepted one it refuses).
function socket.close_fd(id)
  assert(socket_pool[id] == nil, "Use socket.close instead")
  driver.close(id)
end

-- Queued writes are still sent; returns once the node confirmed the close.
function socket.close(id)
  local s = socket_pool[id]
  if s == nil then
    return
  end
  driver.close(id)
  if s.connected then
    s.pause = nil
    if s.co then
      -- Another coroutine is reading: let it take what is buffered first.
      assert(not s.closing)
      s.closing = coroutine_running()
      skynet.wait(s.closing)
    else
      suspend(s)
    end
    s.connected = false
  elseif s.connecting and s.co then
    s.connecting = "closed"
    wakeup(s)
  end
  socket_pool[id] = nil
end

-- read(id): whatever is buffered, waiting for something if nothing is.
-- read(id, n): exactly n bytes. Returns false plus what was left once closed.
function socket.read(id, sz)
  local s = socket_pool[id]
  assert(s, "socket.read: invalid socket id")
  local buffer = s.buffer
  if sz == nil then
    local ret = buffer:popall()
    if ret ~= "" then
      return consumed(s, ret)
    end
    if not s.connected then
      return false, ret
    end
    assert(not s.read_required)
    wait_data(s, 1)
    ret = buffer:popall()
    if ret ~= "" then
      return consumed(s, ret)
    end
    return false, ret
  end
  local ret = buffer:pop(sz)
  if ret then
    return consumed(s, ret)
  end
  if s.closing or not s.connected then
    return false, consumed(s, buffer:popall())
  end
  assert(not s.read_required)
  wait_data(s, sz)
  ret = buffer:pop(sz)
  if ret then
    return consumed(s, ret)
  end
  return false, consumed(s, buffer:popall())
end

-- Everything until the peer closes.
function socket.readall(id)
  local s = socket_pool[id]
  assert(s, "socket.readall: invalid socket id")
  local buffer = s.buffer
  if s.connected then
    assert(not s.read_required)
    wait_data(s, true)
    while s.connected do -- woken by close only; a stray wakeup waits again
      wait_data(s, true)
    end
  end
  local ret = buffer:popall()
  if ret == "" then
    return false
  end
  return consumed(s, ret)
end

-- A line ending with sep (default "\n"), without sep; false plus what was
-- left once closed.
function socket.readline(id, sep)
  sep = sep or "\n"
  local s = socket_pool[id]
  assert(s, "socket.readline: invalid socket id")
  local buffer = s.buffer
  local ret = buffer:popline(sep)
  if ret then
    consumed(s, ret)
    s.consumed = s.consumed + #sep
    return ret
  end
  if not s.connected then
    return false, consumed(s, buffer:popall())
  end
  assert(not s.read_required)
  wait_data(s, sep)
  ret = buffer:popline(sep)
  if ret then
    consumed(s, ret)
    s.consumed = s.consumed + #sep
    return ret
  end
  return false, consumed(s, buffer:popall())
end

-- Waits until id has data to read or is closed; returns whether it is open.
function socket.block(id)
  local s = socket_pool[id]
  if not s or not s.connected then
    return false
  end
  if s.buffer.size == 0 then
    assert(not s.read_required)
    wait_data(s, 1)
  end
  return s.connected or s.buffer.size > 0
end

socket.write = driver.send
socket.lwrite = driver.lsend

-- Bytes written to id and not yet sent (skylet).
socket.sendbuffer = driver.sendbuffer

-- The node's sockets: owner, bytes read/written, wbuffer (waiting to be
-- sent), rbuffer (delivered, not yet consumed)... as skynet's netstat.
socket.netstat = driver.info

function socket.header(str)
  local n = #str
  assert(n >= 1 and n <= 4, "socket.header: 1 to 4 bytes")
  return (string.unpack(">I" .. n, str))
end

function socket.invalid(id)
  return socket_pool[id] == nil
end

function socket.disconnected(id)
  local s = socket_pool[id]
  if s then
    return not (s.connected or s.connecting)
  end
end

-- Hands id to another service, which must socket.start(id). The node stops
-- reading it meanwhile; what this service buffered and did not read is lost.
function socket.abandon(id)
  local s = socket_pool[id]
  if s then
    s.connected = false
    wakeup(s)
    socket_onclose[id] = nil
    socket_pool[id] = nil
    driver.abandon(id)
  end
end

-- Closes id when more than `limit` bytes are buffered unread, unless a read of
-- a given size waits for them (as skynet: a readline waiting counts too).
function socket.limit(id, limit)
  local s = assert(socket_pool[id])
  s.buffer_limit = limit
end

function socket.warning(id, callback)
  local s = assert(socket_pool[id])
  s.on_warning = callback
end

function socket.onclose(id, callback)
  socket_onclose[id] = callback
end

---------------------- UDP
-- A datagram calls the socket's callback(data, from) in the service's
-- dispatch; `from` is the sender's address (skynet's binary form), for
-- socket.sendto and socket.udp_address. socket.write on a UDP socket sends to
-- the address of udp_connect / udp_dial. socket.close closes it.

local function udp_object(id, callback)
  assert(not socket_pool[id], "socket is not closed")
  socket_pool[id] = { id = id, connected = true, protocol = "UDP", callback = callback }
end

-- socket.udp(callback [, host, port]): bound to host:port when given.
function socket.udp(callback, host, port)
  local id = driver.udp(host, port)
  udp_object(id, callback)
  return id
end

function socket.udp_connect(id, host, port, callback)
  local s = socket_pool[id]
  if s then
    assert(s.protocol == "UDP", "socket.udp_connect: not a UDP socket")
    if callback then
      s.callback = callback
    end
  else
    udp_object(id, callback)
  end
  driver.udp_connect(id, host, port)
end

function socket.udp_listen(host, port, callback)
  local id = driver.udp_listen(host, port)
  udp_object(id, callback)
  return id
end

function socket.udp_dial(host, port, callback)
  local id = driver.udp_dial(host, port)
  udp_object(id, callback)
  return id
end

socket.sendto = driver.udp_send
socket.udp_address = driver.udp_address
socket.resolve = driver.resolve

local function unsupported(name)
  return function()
    error("socket." .. name .. " is not supported by skylet", 2)
  end
end

socket.bind = unsupported "bind"
socket.stdin = unsupported "stdin"

return socket
