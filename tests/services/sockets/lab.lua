-- A socket test bench: listens on 127.0.0.1 (port picked by the OS) and
-- treats each accepted connection as the `behaviour` the test chose. What
-- happened is reported as records the test collects with "result".
local skynet = require "skynet"
local socket = require "skynet.socket"

local results, waiting = {}, {}
local port
local behaviour
local held = {} -- id -> true: connections started and not read (backpressure)

local function report(...)
  local record = table.pack(...)
  local w = table.remove(waiting, 1)
  if w then
    w(true, table.unpack(record, 1, record.n))
  else
    results[#results + 1] = record
  end
end

local B = {}

-- read(id, 100) once and report what came back
function B.read100(id)
  socket.start(id)
  local data, rest = socket.read(id, 100)
  report("read100", data, rest, socket.disconnected(id))
  socket.close(id)
end

-- one read far larger than the read window, then lines
function B.bigread(id)
  socket.start(id)
  local block = socket.read(id, 1024 * 1024)
  local line = socket.readline(id)
  report("bigread", #block, block:sub(1, 3), line)
  socket.close(id)
end

-- half-close: everything until the client's EOF, answered uppercase
function B.upper(id)
  socket.start(id)
  local data = socket.readall(id)
  report("upper", #data)
  socket.write(id, data:upper())
  socket.close(id)
end

-- everything until EOF, written back in one write
function B.bounce(id)
  socket.start(id)
  local data = socket.readall(id)
  local ok = socket.write(id, data)
  report("bounce", #data, ok, socket.sendbuffer(id))
  socket.close(id)
end

-- lines, answered reversed, until the client closes
function B.lines(id, sep)
  socket.start(id)
  local n = 0
  while true do
    local line, rest = socket.readline(id, sep)
    if not line then
      report("lines", n, rest)
      break
    end
    n = n + 1
    socket.write(id, line:reverse() .. "\n")
  end
  socket.close(id)
end

function B.crlf(id)
  B.lines(id, "\r\n")
end

-- start and do not read: the node must stop reading at the window
function B.hold(id)
  socket.start(id)
  held[id] = true
  report("hold", id)
end

-- write 64 KiB chunks until the node refuses (send buffer limit)
function B.flood(id)
  socket.start(id)
  local chunk = string.rep("x", 65536)
  local n, most = 0, 0
  while socket.write(id, chunk) do
    n = n + 1
    most = math.max(most, socket.sendbuffer(id))
    if n % 16 == 0 then
      skynet.yield()
    end
  end
  local open = socket.block(id) -- the node's ERROR wakes it
  report("flood", n, most, open, socket.disconnected(id))
  socket.close(id)
end

-- a write too big for the kernel, then lwrite and write: the normal-priority
-- write overtakes the low-priority one
function B.priority(id)
  socket.start(id)
  socket.write(id, string.rep("a", 20 * 1024 * 1024))
  local queued = socket.sendbuffer(id)
  socket.lwrite(id, "LOW")
  socket.write(id, "HIGH")
  report("priority", queued)
  socket.close(id)
end

-- an lwrite too big for the kernel (so the kernel took part of it), then a
-- write: the low-priority buffer begun goes out whole first
function B.lowbegun(id)
  socket.start(id)
  socket.lwrite(id, string.rep("a", 20 * 1024 * 1024))
  local queued = socket.sendbuffer(id)
  socket.write(id, "HIGH")
  report("lowbegun", queued)
  socket.close(id)
end

-- at most 1000 bytes buffered unread, then the connection is closed
function B.limited(id)
  socket.start(id)
  socket.limit(id, 1000)
  report("limited", id)
end

-- read a line, answer it, then hand the connection to the service named in
-- the line after it ("to" command)
local next_owner
function B.handoff(id)
  socket.start(id)
  local line = socket.readline(id)
  socket.write(id, "A:" .. line .. "\n")
  socket.abandon(id)
  report("handoff", id, socket.invalid(id))
  skynet.send(next_owner, "lua", "take", id)
end

-- onclose fires when the client goes away
function B.watch(id)
  socket.start(id)
  socket.onclose(id, function(closed)
    report("onclose", closed)
  end)
  report("watching", id)
end

-- two coroutines: one reads, the other closes meanwhile
function B.closer(id)
  socket.start(id)
  skynet.fork(function()
    local data, rest = socket.read(id, 10)
    report("reader", data, rest)
  end)
  skynet.yield()
  socket.close(id)
  report("closed", socket.invalid(id))
end

local CMD = {}

function CMD.listen(how, backlog)
  behaviour = assert(B[how], "no behaviour " .. tostring(how))
  local id
  id, _, port = socket.listen("127.0.0.1", 0, backlog)
  socket.start(id, function(fd, addr)
    behaviour(fd, addr)
  end)
  return port
end

function CMD.listen_at(host, p)
  return socket.listen(host, p)
end

function CMD.open(host, p)
  return socket.open(host, p)
end

-- a TCP client: connect, send `payload`, read a line back, close
function CMD.client(host, p, payload)
  local id, err = socket.open(host, p)
  if not id then
    return false, err
  end
  socket.write(id, payload)
  local line = socket.readline(id)
  socket.close(id)
  return line
end

function CMD.owner(addr)
  next_owner = addr
end

function CMD.take(id)
  local ok, err = socket.start(id)
  report("took", ok, err)
  if ok then
    local line, rest = socket.readline(id)
    socket.write(id, "B:" .. tostring(line) .. "\n")
    socket.close(id)
  end
  return nil
end

function CMD.drain(id)
  held[id] = nil
  local total = 0
  while true do
    local data = socket.read(id)
    if not data then
      break
    end
    total = total + #data
  end
  socket.close(id)
  return total
end

function CMD.netstat()
  return socket.netstat()
end

function CMD.stat(id)
  for _, info in ipairs(socket.netstat()) do
    if info.id == id then
      return info
    end
  end
end

function CMD.result()
  local r = table.remove(results, 1)
  if r then
    return table.unpack(r, 1, r.n)
  end
  waiting[#waiting + 1] = skynet.response()
  return skynet.ignoreret()
end

function CMD.exit()
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    if cmd == "result" then
      local r = table.pack(f(...))
      if r.n > 0 then
        skynet.retpack(table.unpack(r, 1, r.n))
      end
    elseif cmd == "take" then
      f(...)
    else
      skynet.retpack(f(...))
    end
  end)
end)
