-- snax.gateserver: the frame of a gate (skynet's lualib/snax/gateserver.lua).
-- It listens, accepts, and cuts each connection's byte stream into packets
-- with skynet's gate framing: a 2-byte big-endian length, then that many
-- bytes. A service built on it passes a handler table to gateserver.start:
--   handler.connect(fd, addr)        required: a client connected (not read yet;
--                                    gateserver.openclient(fd) starts reading)
--   handler.message(fd, msg, sz)     required: one packet; must not block
--   handler.open(source, conf)       after "open" started listening
--   handler.disconnect(fd)           the client closed
--   handler.error(fd, msg)           the connection failed (closed)
--   handler.warning(fd, size)        size KiB are waiting to be sent to fd
--   handler.command(cmd, source,...) lua commands other than open/close
--   handler.embed                    true: do not call skynet.start
-- A length of 0, or above conf.maxpacket, is a bad header: that connection is
-- logged and closed; no other connection notices.
local skynet = require "skynet"
local driver = require "skynet.socketdriver"

local string_unpack, sub, format = string.unpack, string.sub, string.format

local DATA, CLOSE, ACCEPT, ERROR, WARNING = 1, 3, 4, 5, 7

local gateserver = {}

local listen_id     -- the listening socket
local maxclient     -- connections refused beyond this many
local maxpacket     -- largest packet accepted
local client_number = 0
-- fd -> { rest = bytes of an unfinished packet, unacked = bytes read since
-- the last credit } while open; false if refused (maxclient); nil when gone.
local connection = {}

function gateserver.openclient(fd)
  if connection[fd] then
    driver.start(fd)
  end
end

function gateserver.closeclient(fd)
  local c = connection[fd]
  if c ~= nil then
    connection[fd] = nil
    driver.close(fd)
  end
end

function gateserver.start(handler)
  assert(handler.message, "gateserver needs handler.message")
  assert(handler.connect, "gateserver needs handler.connect")

  local CMD = {}

  function CMD.open(source, conf)
    assert(not listen_id, "the gate is already listening")
    local address = conf.address or "0.0.0.0"
    local port = assert(tonumber(conf.port), "gate open needs conf.port")
    maxclient = conf.maxclient or 1024
    maxpacket = conf.maxpacket or 0xffff
    listen_id, conf.address, conf.port = driver.listen(address, port, conf.backlog)
    skynet.error(format("Listen on %s:%d", conf.address, conf.port))
    driver.start(listen_id)
    if handler.open then
      return handler.open(source, conf)
    end
  end

  function CMD.close()
    assert(listen_id, "the gate is not listening")
    driver.close(listen_id)
  end

  local function bad_header(fd, size)
    skynet.error(format("gate: bad packet header from fd %d (length %d, max %d); closing it",
      fd, size, maxpacket))
    gateserver.closeclient(fd)
  end

  -- Cuts packets out of what arrived; keeps an unfinished one for later.
  local function receive(fd, c, data)
    local buf = c.rest
    if buf then
      c.rest = nil
      buf = buf .. data
    else
      buf = data
    end
    local pos, len = 1, #buf
    while len - pos >= 1 do
      local size = string_unpack(">I2", buf, pos)
      if size == 0 or size > maxpacket then
        return bad_header(fd, size)
      end
      local last = pos + 1 + size
      if last > len then
        break
      end
      handler.message(fd, sub(buf, pos + 2, last), size)
      if connection[fd] ~= c then
        return -- the handler closed it
      end
      pos = last + 1
    end
    if pos <= len then
      c.rest = pos == 1 and buf or sub(buf, pos)
    end
  end

  local MSG = {}

  MSG[DATA] = function(fd, ud, data)
    local c = connection[fd]
    if not c then
      if c == nil then
        skynet.error(format("gate: drop %d bytes from closed fd %d", #data, fd))
      end
      return
    end
    -- Everything read is consumed here (an unfinished packet is at most
    -- 64 KiB), so credit goes back whenever the node asks for it.
    c.unacked = c.unacked + #data
    if ud > 0 then
      driver.ack(fd, c.unacked, 0)
      c.unacked = 0
    end
    receive(fd, c, data)
  end

  MSG[ACCEPT] = function(_, fd, addr)
    client_number = client_number + 1
    if client_number > maxclient then
      skynet.error(format("gate: %d clients already; refusing %s", maxclient, addr))
      connection[fd] = false
      driver.close(fd)
      return
    end
    connection[fd] = { unacked = 0 }
    handler.connect(fd, addr)
  end

  -- Each connection ends with exactly one CLOSE or ERROR.
  MSG[CLOSE] = function(fd)
    if fd == listen_id then
      listen_id = nil
      return
    end
    client_number = client_number - 1
    local c = connection[fd]
    connection[fd] = nil
    if c then
      driver.close(fd) -- the client closed: what we queued still goes out
    end
    if c ~= false and handler.disconnect then
      handler.disconnect(fd)
    end
  end

  MSG[ERROR] = function(fd, _, err)
    if fd == listen_id then
      skynet.error("gateserver accept error:", err)
      return
    end
    client_number = client_number - 1
    local c = connection[fd]
    connection[fd] = nil
    if c ~= false and handler.error then
      handler.error(fd, err)
    end
  end

  MSG[WARNING] = function(fd, size)
    if handler.warning then
      handler.warning(fd, size)
    end
  end

  skynet.register_protocol {
    name = "socket",
    id = skynet.PTYPE_SOCKET,
    unpack = driver.unpack,
    dispatch = function(_, _, event, ...)
      local f = MSG[event]
      if f then
        f(...)
      end
    end,
  }

  local function init()
    skynet.dispatch("lua", function(_, source, cmd, ...)
      local f = CMD[cmd]
      if f then
        skynet.ret(skynet.pack(f(source, ...)))
      else
        skynet.ret(skynet.pack(handler.command(cmd, source, ...)))
      end
    end)
  end

  if handler.embed then
    init()
  else
    skynet.start(init)
  end
end

return gateserver
