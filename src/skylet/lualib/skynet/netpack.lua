-- skynet.netpack: skynet's packet framing helper (lualib-src/lua-netpack.c),
-- same functions and results. A packet on the wire is a 2-byte big-endian
-- length, then that many bytes. skynet passes C pointers around (msg, sz);
-- here a packet is a Lua string and sz its length, so netpack.tostring(msg, sz)
-- is msg itself, and socketdriver.send(fd, netpack.pack(text)) sends the frame.
--   pack(text)                    the frame and its size ("Invalid size" past 65535)
--   tostring(msg, sz)             the packet as a string
--   filter(queue, msg, sz)        for a "socket" message's unpack: returns
--                                 queue, type, ... with type one of
--       "data", fd, msg, sz       exactly one whole packet arrived
--       "more"                    several (or one and a part): netpack.pop them
--       "open", fd, addr          a connection was accepted (listener ignored)
--       "close", fd / "error", fd, why / "warning", fd, kib
--       "init", id, addr, port    a connect finished
--                                 or just queue while a packet is unfinished
--   pop(queue)                    fd, msg, sz of the oldest queued packet, or nothing
--   clear(queue)                  drops queued packets and unfinished ones
-- The queue is a table (nil until the first filter creates it); keep what
-- filter returns, as skynet's gateserver does. filter consumes all it gets, so
-- it also gives the node its read credit back (skylet's backpressure).
-- skylet's addition: netpack.queue(maxpacket) makes a queue that refuses
-- packets of length 0 or above maxpacket as soon as their header arrives:
-- filter then answers queue, "bad", fd, length and ignores the rest of that
-- fd's bytes until its close (snax.gateserver closes the connection).
local driver = require "skynet.socketdriver"

local string_unpack, string_pack, sub, byte, format, error, type =
  string.unpack, string.pack, string.sub, string.byte, string.format, error, type

local DATA, CONNECT, CLOSE, ACCEPT, ERROR, WARNING = 1, 2, 3, 4, 5, 7

local netpack = {}

local function new_queue(maxpacket)
  -- fds[i], msgs[i] for head <= i < tail; rest[fd] = an unfinished packet
  -- (its bytes so far, header included); unacked[fd] = bytes read since the
  -- node last asked for credit.
  -- refused[fd]: a bad header came; the rest of fd's bytes are ignored.
  return {
    head = 1, tail = 1, fds = {}, msgs = {}, rest = {}, unacked = {}, refused = {},
    maxpacket = maxpacket,
  }
end

function netpack.queue(maxpacket)
  return new_queue(maxpacket)
end

local function push(q, fd, msg)
  local tail = q.tail
  q.fds[tail], q.msgs[tail] = fd, msg
  q.tail = tail + 1
end

-- Cuts buf into packets; returns the first packet and how many there were
-- (if more than one, all are queued, the first included), and keeps any
-- unfinished tail. A length the queue refuses: false, the length.
local function lua_cut(q, fd, buf)
  local pos, len = 1, #buf
  local first, count = nil, 0
  local maxpacket = q.maxpacket
  while len - pos >= 1 do
    local size = byte(buf, pos) * 256 + byte(buf, pos + 1)
    if maxpacket and (size == 0 or size > maxpacket) then
      return false, size
    end
    local last = pos + 1 + size
    if last > len then
      break
    end
    local msg = sub(buf, pos + 2, last)
    count = count + 1
    if count == 1 then
      first = msg
    else
      if count == 2 then
        push(q, fd, first)
      end
      push(q, fd, msg)
    end
    pos = last + 1
  end
  if pos <= len then
    q.rest[fd] = pos == 1 and buf or sub(buf, pos)
    if count == 1 then
      push(q, fd, first) -- one whole packet and a part: still "more"
      count = 2
    end
  end
  return first, count
end

-- The same, with the codec library's C cutter (skylet/_lua/_lnetpack.c)
-- doing the cutting; lua_cut is the fallback where it is not built.
local cnetpack = package.preload["skylet.cnetpack"] and require "skylet.cnetpack"
local c_cut = type(cnetpack) == "table" and cnetpack.cut

local function cut(q, fd, buf)
  if not c_cut then
    return lua_cut(q, fd, buf)
  end
  local count, pos, first, all, bad = c_cut(buf, q.maxpacket)
  if all then
    for i = 1, count do
      push(q, fd, all[i])
    end
  end
  if bad then
    return false, bad
  end
  if pos <= #buf then
    q.rest[fd] = pos == 1 and buf or sub(buf, pos)
    if count == 1 then
      push(q, fd, first) -- one whole packet and a part: still "more"
      count = 2
    end
  end
  return first, count
end

-- For tests: cut with either cutter ("c" or "lua") into a fresh queue.
function netpack._cut_with(which, buf, maxpacket)
  local q = new_queue(maxpacket)
  local first, count
  if which == "c" then
    assert(c_cut, "the C cutter is not loaded")
    first, count = cut(q, 1, buf)
  else
    first, count = lua_cut(q, 1, buf)
  end
  local queued = {}
  for i = q.head, q.tail - 1 do
    queued[#queued + 1] = q.msgs[i]
  end
  return first, count, queued, q.rest[1]
end

local function filter_data(q, fd, ud, data)
  local unacked = (q.unacked[fd] or 0) + #data
  if ud > 0 then
    -- The node stopped reading until it hears this much was used: it was.
    driver.ack(fd, unacked, 0)
    unacked = 0
  end
  q.unacked[fd] = unacked
  if q.refused[fd] then
    return q
  end
  local rest = q.rest[fd]
  if rest then
    q.rest[fd] = nil
    data = rest .. data
  end
  local first, count = cut(q, fd, data)
  if first == false then
    q.refused[fd], q.rest[fd] = true, nil
    return q, "bad", fd, count
  elseif count == 1 then
    return q, "data", fd, first, #first
  elseif count > 1 then
    return q, "more"
  end
  return q
end

local function forget(q, fd)
  q.rest[fd], q.unacked[fd], q.refused[fd] = nil, nil, nil
end

function netpack.filter(queue, msg)
  local q = queue or new_queue(nil)
  local event, id, ud, pos = string_unpack(">BI4i8", msg)
  if event == DATA then
    return filter_data(q, id, ud, sub(msg, pos))
  elseif event == ACCEPT then
    return q, "open", ud, sub(msg, pos)
  elseif event == CLOSE then
    forget(q, id)
    return q, "close", id
  elseif event == ERROR then
    forget(q, id)
    return q, "error", id, sub(msg, pos)
  elseif event == WARNING then
    return q, "warning", id, ud
  elseif event == CONNECT then
    return q, "init", id, sub(msg, pos), ud
  end
  return q
end

function netpack.pop(q)
  if q == nil then
    return
  end
  local head = q.head
  if head == q.tail then
    return
  end
  local fd, msg = q.fds[head], q.msgs[head]
  q.fds[head], q.msgs[head] = nil, nil
  if head + 1 == q.tail then
    q.head, q.tail = 1, 1
  else
    q.head = head + 1
  end
  return fd, msg, #msg
end

function netpack.clear(q)
  if q == nil then
    return
  end
  q.head, q.tail, q.fds, q.msgs, q.rest, q.unacked, q.refused = 1, 1, {}, {}, {}, {}, {}
end

function netpack.pack(msg, sz)
  if type(msg) ~= "string" then
    error(format("bad argument #1 to 'pack' (string expected, got %s)", type(msg)), 2)
  end
  local len = #msg
  if len >= 0x10000 then
    error(format("Invalid size (too long) of data : %d", len), 2)
  end
  return string_pack(">s2", msg), len + 2
end

function netpack.tostring(msg, sz)
  if msg == nil then
    return ""
  end
  return msg
end

return netpack
