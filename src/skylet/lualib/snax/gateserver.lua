-- snax.gateserver: the frame of a gate (skynet's lualib/snax/gateserver.lua).
-- It listens, accepts, and cuts each connection's byte stream into packets
-- with skynet's gate framing: a 2-byte big-endian length, then that many
-- bytes. A service built on it passes a handler table to gateserver.start:
--   handler.connect(fd, addr)        required: a client connected (not read yet;
--                                    gateserver.openclient(fd) starts reading)
--   handler.message(fd, msg, sz)     required: one packet (msg is a string); it
--                                    may block: packets already cut wait for it
--                                    in the queue, and a new coroutine takes over
--   handler.open(source, conf)       after "open" started listening
--   handler.disconnect(fd)           the client closed
--   handler.error(fd, msg)           the connection failed (closed)
--   handler.warning(fd, size)        size KiB are waiting to be sent to fd
--   handler.command(cmd, source,...) lua commands other than open/close
--   handler.embed                    true: do not call skynet.start
-- Packets are cut by skynet.netpack, as in skynet. A length of 0, or above
-- conf.maxpacket, is a bad header: that connection is logged and closed (with
-- what it sent in the same read); no other connection notices.
local skynet = require "skynet"
local driver = require "skynet.socketdriver"
local netpack = require "skynet.netpack"

local format = string.format

local gateserver = {}

local listen_id     -- the listening socket
local queue         -- netpack's queue of packets not dispatched yet
local maxclient     -- connections refused beyond this many
local client_number = 0
-- fd -> true while open; false if refused (maxclient); nil when gone.
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
    queue = netpack.queue(conf.maxpacket or 0xffff)
    listen_id, conf.address, conf.port = driver.listen(address, port, conf.backlog)
    skynet.error("Listen on", conf.address, conf.port)
    driver.start(listen_id)
    if handler.open then
      return handler.open(source, conf)
    end
  end

  function CMD.close()
    assert(listen_id, "the gate is not listening")
    driver.close(listen_id)
  end

  local MSG = {}

  local function dispatch_msg(fd, msg, sz)
    if connection[fd] then
      handler.message(fd, msg, sz)
    else
      skynet.error(format("gate: drop %d bytes from closed fd %d", sz, fd))
    end
  end

  MSG.data = dispatch_msg

  -- Several packets arrived: dispatch them in order. A handler that blocks
  -- leaves the rest to a forked coroutine, so one slow packet does not hold
  -- up the others (as skynet's gateserver does).
  local function dispatch_queue()
    local fd, msg, sz = netpack.pop(queue)
    if fd then
      skynet.fork(dispatch_queue)
      dispatch_msg(fd, msg, sz)
      for fd2, msg2, sz2 in netpack.pop, queue do
        dispatch_msg(fd2, msg2, sz2)
      end
    end
  end

  MSG.more = dispatch_queue

  function MSG.bad(fd, size)
    if connection[fd] then
      skynet.error(format("gate: bad packet header from fd %d (length %d, max %d); closing it",
        fd, size, queue.maxpacket))
      gateserver.closeclient(fd)
    end
  end

  function MSG.open(fd, addr)
    client_number = client_number + 1
    if client_number > maxclient then
      skynet.error(format("gate: %d clients already; refusing %s", maxclient, addr))
      connection[fd] = false
      driver.close(fd)
      return
    end
    connection[fd] = true
    handler.connect(fd, addr)
  end

  -- Each connection ends with exactly one CLOSE or ERROR.
  function MSG.close(fd)
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

  function MSG.error(fd, err)
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

  function MSG.warning(fd, size)
    if handler.warning then
      handler.warning(fd, size)
    end
  end

  function MSG.init() end -- a connect finished: the gate makes none

  skynet.register_protocol {
    name = "socket",
    id = skynet.PTYPE_SOCKET,
    unpack = function(msg, sz)
      return netpack.filter(queue, msg, sz)
    end,
    dispatch = function(_, _, q, type, ...)
      queue = q
      if type then
        MSG[type](...)
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
