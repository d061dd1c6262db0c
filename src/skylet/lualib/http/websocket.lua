-- http.websocket: RFC 6455 server and client (skynet's http.websocket).
-- Server, in the service that owns the socket:
--   accept(id, handle [, "ws"|"wss" [, addr [, options]]])  runs the
--     connection until it closes: true, or false, err. handle's optional
--     functions: connect(id), handshake(id, header, url), message(id, msg,
--     "text"|"binary"), ping(id), pong(id), close(id, code, reason),
--     error(id, err), warning(ws, kbytes). options.upgrade = { header=,
--     method=, url= } when httpd already read the upgrade request.
-- Client:
--   connect(url [, header [, timeout]])  an id; url "ws[s]://host[:port]/path"
--   read(id)   the next message, or false, close payload
-- Both: write(id, data [, "text"|"binary" [, masking_key]]), ping(id),
--   close(id [, code [, reason]]), addrinfo(id), real_ip(id), is_close(id)
--
-- A peer that breaks the protocol (reserved bits or opcodes, a fragmented or
-- oversize control frame, a continuation with nothing to continue, a frame
-- over MAX_FRAME_SIZE) gets a close frame (1002, or 1009 when too large) and
-- the connection closes; accept answers false and the reason. A client masks
-- its frames with a random key unless given one (servers require it).
local internal = require "http.internal"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"
local httpd = require "http.httpd"
local skynet = require "skynet"
local sockethelper = require "http.sockethelper"

local socket_error = sockethelper.socket_error
local pack, unpack, format, concat = string.pack, string.unpack, string.format, table.concat
local pairs, error, pcall, xpcall, tostring, tonumber, assert, setmetatable, type =
  pairs, error, pcall, xpcall, tostring, tonumber, assert, setmetatable, type

local GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
local MAX_FRAME_SIZE = 256 * 1024

local M = {}

local OPCODE = { frame = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA }
local OPNAME = {}
for name, code in pairs(OPCODE) do
  OPNAME[code] = name
end

-- A protocol violation of the peer: close code and reason.
local violation = {}
violation.__index = violation
violation.__tostring = function(v)
  return format("websocket protocol error (%d): %s", v.code, v.reason)
end
local function violate(code, reason)
  error(setmetatable({ code = code, reason = reason }, violation), 0)
end

local pool = {} -- id -> connection object

local function drop(ws)
  if pool[ws.id] == ws then
    pool[ws.id] = nil
  end
  ws.close()
end

local function is_closed(id)
  return pool[id] == nil
end
M.is_close = is_closed

-- Serve `payload` (bytes read past the handshake) before the socket.
local function prepend(ws, payload)
  if payload == "" then
    return
  end
  local read = ws.read
  ws.read = function(sz)
    if sz == nil or sz == #payload then
      ws.read = read
      return payload
    elseif sz < #payload then
      local s = payload:sub(1, sz)
      payload = payload:sub(sz + 1)
      return s
    end
    ws.read = read
    return payload .. read(sz - #payload)
  end
end

local function random_key()
  return (unpack("<I4", crypt.randomkey()))
end

local function write_frame(ws, op, data, masking_key)
  data = data or ""
  local len = #data
  local b1 = 0x80 | OPCODE[op]
  local mask = masking_key and 0x80 or 0
  local head
  if len < 126 then
    head = pack("BB", b1, mask | len)
  elseif len <= 0xffff then
    head = pack(">BBI2", b1, mask | 126, len)
  else
    head = pack(">BBI8", b1, mask | 127, len)
  end
  if masking_key then
    local key = pack(">I4", masking_key)
    head = head .. key
    if len > 0 then
      data = crypt.xor_str(data, key)
    end
  end
  ws.write(head .. data)
end

-- fin, opcode name, payload
local function read_frame(ws)
  local b1, b2 = unpack("BB", ws.read(2))
  local fin = b1 & 0x80 ~= 0
  if b1 & 0x70 ~= 0 then
    violate(1002, "reserved bits set")
  end
  local op = OPNAME[b1 & 0x0f]
  if not op then
    violate(1002, format("reserved opcode 0x%x", b1 & 0x0f))
  end
  local len = b2 & 0x7f
  if len == 126 then
    len = unpack(">I2", ws.read(2))
  elseif len == 127 then
    len = unpack(">I8", ws.read(8))
    if len < 0 then
      violate(1009, "frame length over 2^63")
    end
  end
  local control = OPCODE[op] >= 0x8
  if control and (len > 125 or not fin) then
    violate(1002, "control frame fragmented or over 125 bytes")
  end
  if ws.mode == "server" and len > MAX_FRAME_SIZE then
    violate(1009, format("frame of %d bytes (limit %d)", len, MAX_FRAME_SIZE))
  end
  local key = b2 & 0x80 ~= 0 and ws.read(4)
  local data = len > 0 and ws.read(len) or ""
  if key and len > 0 then
    data = crypt.xor_str(data, key)
  end
  return fin, op, data
end

-- Reassembles fragments. Returns op, data for a complete message or a
-- control frame.
local function read_message(ws)
  local parts, size, first
  while true do
    local fin, op, data = read_frame(ws)
    if op == "close" or op == "ping" or op == "pong" then
      return op, data
    end
    if op == "frame" then
      if not parts then
        violate(1002, "continuation frame with no message to continue")
      end
    elseif parts then
      violate(1002, "new message inside a fragmented one")
    end
    if fin and not parts then
      return op, data
    end
    if not parts then
      parts, size, first = {}, 0, op
    end
    parts[#parts + 1] = data
    size = size + #data
    if ws.mode == "server" and size > MAX_FRAME_SIZE then
      violate(1009, format("message over %d bytes", MAX_FRAME_SIZE))
    end
    if fin then
      return first, concat(parts)
    end
  end
end

local function close_payload(data)
  if #data >= 2 then
    return unpack(">I2", data), data:sub(3)
  end
end

local function call(ws, name, ...)
  local f = ws.handle and ws.handle[name]
  if f then
    f(ws.id, ...)
  end
end

-- ----- handshakes -----

local function client_handshake(ws, host, url, header)
  local key = crypt.base64encode(crypt.randomkey() .. crypt.randomkey())
  local request = {
    ["Upgrade"] = "websocket",
    ["Connection"] = "Upgrade",
    ["Sec-WebSocket-Version"] = "13",
    ["Sec-WebSocket-Key"] = key,
  }
  for k, v in pairs(header or {}) do
    assert(request[k] == nil, k)
    request[k] = v
  end
  local reply = {}
  local code, rest = internal.request(ws, "GET", host, url, reply, request)
  if code ~= 101 then
    error(format("websocket handshake error: code[%s] info:%s", code, rest))
  end
  prepend(ws, rest)
  if (reply.upgrade or ""):lower() ~= "websocket" then
    error("websocket handshake upgrade must websocket")
  end
  if (reply.connection or ""):lower() ~= "upgrade" then
    error("websocket handshake connection must upgrade")
  end
  local accept = reply["sec-websocket-accept"]
  if not accept then
    error("websocket handshake need Sec-WebSocket-Accept")
  end
  if crypt.base64decode(accept) ~= crypt.sha1(key .. GUID) then
    error("websocket handshake invalid Sec-WebSocket-Accept")
  end
end

-- nil, header, url on success; else an HTTP code and a reason to answer.
local function server_handshake(ws, upgrade)
  local header, method, url
  if upgrade then
    header, method, url = upgrade.header, upgrade.method, upgrade.url
  else
    local lines = {}
    local rest = internal.recvheader(ws.read, lines, "")
    if not rest then
      return 413
    end
    prepend(ws, rest)
    local version
    method, url, version = (lines[1] or ""):match("^(%a+)%s+(%S+)%s+HTTP/([%d%.]+)$")
    if not method then
      return 400, "bad request line"
    end
    if method ~= "GET" then
      return 400, "need GET method"
    end
    if (tonumber(version) or 0) < 1.1 then
      return 505
    end
    header = internal.parseheader(lines, 2, {})
  end
  if not header then
    return 400
  end
  if type(header.upgrade) ~= "string" or header.upgrade:lower() ~= "websocket" then
    return 426, "Upgrade Required"
  end
  if not header.host then
    return 400, "host Required"
  end
  if type(header.connection) ~= "string" or not header.connection:lower():find("upgrade", 1, true) then
    return 400, "Connection must Upgrade"
  end
  local key = header["sec-websocket-key"]
  if type(key) ~= "string" then
    return 400, "Sec-WebSocket-Key Required"
  end
  local ok, raw = pcall(crypt.base64decode, key)
  if not ok or #raw ~= 16 then
    return 400, "Sec-WebSocket-Key invalid"
  end
  if header["sec-websocket-version"] ~= "13" then
    return 400, "Sec-WebSocket-Version must 13"
  end
  local subprotocol = ""
  local wanted = header["sec-websocket-protocol"]
  if wanted then
    for name in tostring(wanted):gmatch("[^%s,]+") do
      if name == "chat" then
        subprotocol = "Sec-WebSocket-Protocol: chat\r\n"
      end
    end
    if subprotocol == "" then
      return 400, "Sec-WebSocket-Protocol need include chat"
    end
  end
  ws.real_ip = header["x-real-ip"] -- set by nginx in front
  ws.write("HTTP/1.1 101 Switching Protocols\r\n" ..
    "Upgrade: websocket\r\n" ..
    "Connection: Upgrade\r\n" ..
    format("Sec-WebSocket-Accept: %s\r\n", crypt.base64encode(crypt.sha1(key .. GUID))) ..
    subprotocol .. "\r\n")
  return nil, header, url
end

-- ----- connection objects -----

local server_ctx, client_ctx

local function new_ws(id, protocol, mode, hostname)
  local ws
  if protocol == "ws" then
    ws = {
      close = function()
        socket.close(id)
      end,
      read = sockethelper.readfunc(id),
      write = sockethelper.writefunc(id),
      readall = function()
        return socket.readall(id)
      end,
    }
  elseif protocol == "wss" then
    local tls = require "http.tlshelper"
    local ctx
    if mode == "server" then
      if not server_ctx then
        server_ctx = tls.newctx()
        server_ctx:set_cert(skynet.getenv("certfile") or "./server-cert.pem",
          skynet.getenv("keyfile") or "./server-key.pem")
      end
      ctx = server_ctx
    else
      client_ctx = client_ctx or tls.newctx()
      ctx = client_ctx
    end
    local conn = tls.newtls(mode, ctx, hostname)
    if mode == "server" then
      tls.init_responsefunc(id, conn)()
    else
      tls.init_requestfunc(id, conn)()
    end
    ws = {
      close = function()
        socket.close(id)
        conn:close()
      end,
      read = tls.readfunc(id, conn),
      write = tls.writefunc(id, conn),
      readall = tls.readallfunc(id, conn),
    }
  else
    error(format("invalid websocket protocol:%s", tostring(protocol)))
  end
  ws.id, ws.mode, ws.guid = id, mode, GUID
  pool[id] = ws
  return ws
end

-- ----- server -----

local function serve(ws, options)
  call(ws, "connect")
  local code, header, url = server_handshake(ws, options and options.upgrade)
  if code then
    local ok, err = httpd.write_response(ws.write, code, header)
    if not ok then
      error(err)
    end
    call(ws, "close")
    return
  end
  call(ws, "handshake", header, url)
  while not is_closed(ws.id) do
    local op, data = read_message(ws)
    if op == "close" then
      write_frame(ws, "close", data:sub(1, 2))
      call(ws, "close", close_payload(data))
      return
    elseif op == "ping" then
      write_frame(ws, "pong", data)
      call(ws, "ping")
    elseif op == "pong" then
      call(ws, "pong")
    else
      call(ws, "message", data, op)
    end
  end
  call(ws, "close")
end

function M.accept(id, handle, protocol, addr, options)
  if not (options and options.upgrade) then
    local ok, err = socket.start(id)
    if not ok then
      return false, err
    end
  end
  local ok, ws = pcall(new_ws, id, protocol or "ws", "server")
  if not ok then
    socket.close(id)
    return false, ws
  end
  ws.handle, ws.addr = handle, addr
  local on_warning = handle and handle.warning
  if on_warning then
    socket.warning(id, function(_, size)
      on_warning(ws, size)
    end)
  end
  local done, err = xpcall(serve, function(e)
    if getmetatable(e) == violation or e == socket_error then
      return e
    end
    return debug.traceback(tostring(e))
  end, ws, options)
  local was_closed = is_closed(id)
  if not done and getmetatable(err) == violation then
    pcall(write_frame, ws, "close", pack(">I2", err.code) .. err.reason)
  end
  if not was_closed then
    drop(ws)
  end
  if done then
    return true
  end
  if err == socket_error then
    if was_closed then
      call(ws, "close")
    else
      call(ws, "error", tostring(err))
    end
    return true
  end
  err = tostring(err)
  pcall(call, ws, "error", err)
  return false, err
end

-- ----- client -----

function M.connect(url, header, timeout)
  local protocol, host, uri = url:match("^(wss?)://([^/]+)(.*)$")
  if protocol ~= "ws" and protocol ~= "wss" then
    error(format("invalid protocol: %s", tostring(protocol or url)))
  end
  local addr, port = host:match("^([^:]+):?(%d*)$")
  assert(addr, "invalid websocket host: " .. host)
  if port == "" then
    port = protocol == "ws" and 80 or 443
  end
  local hostname = not addr:match("%d$") and addr or nil
  local id = sockethelper.connect(addr, tonumber(port), timeout)
  local ok, ws = pcall(new_ws, id, protocol, "client", hostname)
  if not ok then
    socket.close(id)
    error(ws)
  end
  ws.addr = host
  local done, err = pcall(client_handshake, ws, addr, uri == "" and "/" or uri, header)
  if not done then
    drop(ws)
    error(err)
  end
  return id
end

local function key_for(ws, masking_key)
  if masking_key == nil and ws.mode == "client" then
    return random_key()
  end
  return masking_key
end

function M.read(id)
  local ws = assert(pool[id], "websocket is closed")
  while true do
    local ok, op, data = pcall(read_message, ws)
    if not ok then
      if getmetatable(op) == violation then
        pcall(write_frame, ws, "close", pack(">I2", op.code) .. op.reason, key_for(ws))
      end
      drop(ws)
      error(tostring(op), 0)
    end
    if op == "close" then
      pcall(write_frame, ws, "close", data:sub(1, 2), key_for(ws))
      drop(ws)
      return false, data
    elseif op == "ping" then
      write_frame(ws, "pong", data, key_for(ws))
    elseif op ~= "pong" then
      return data, op
    end
  end
end

function M.write(id, data, fmt, masking_key)
  local ws = assert(pool[id], "websocket is closed")
  fmt = fmt or "text"
  assert(fmt == "text" or fmt == "binary", "websocket.write: fmt must be text or binary")
  write_frame(ws, fmt, data, key_for(ws, masking_key))
end

function M.ping(id, data)
  local ws = assert(pool[id], "websocket is closed")
  write_frame(ws, "ping", data, key_for(ws))
end

function M.pong(id, data)
  local ws = assert(pool[id], "websocket is closed")
  write_frame(ws, "pong", data, key_for(ws))
end

function M.addrinfo(id)
  return assert(pool[id], "websocket is closed").addr
end

function M.real_ip(id)
  return assert(pool[id], "websocket is closed").real_ip
end

function M.close(id, code, reason)
  local ws = pool[id]
  if not ws then
    return
  end
  local payload
  if code then
    payload = pack(">I2", code) .. (reason or "")
  end
  local ok, err = pcall(write_frame, ws, "close", payload, key_for(ws))
  drop(ws)
  if not ok then
    skynet.error(tostring(err))
  end
end

return M
