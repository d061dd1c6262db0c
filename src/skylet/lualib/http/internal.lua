-- http.internal: the HTTP/1.1 framing httpd, httpc and websocket share
-- (skynet's http.internal). Each function takes `read(sz)` (sz bytes, or
-- what is there when sz is nil) and raises when the socket fails.
--   recvheader(read, lines, pre)   reads to the blank line; appends each
--       header line to `lines`; returns the bytes read past it, or nil when
--       the header exceeds LIMIT bytes
--   parseheader(lines, from, header)  lines[from..] into header (names in
--       lower case, repeated names as a list); nil on a malformed line
--   recvchunkedbody(read, limit, header, pre)  body, header (trailers
--       added); nil when malformed or over limit
--   request(interface, method, host, url, recvheader, header, content)
--       writes a request, reads the status line and header: code, rest, header
--   response(interface, code, rest, header)  the response body
--   response_stream(interface, code, rest, header)  a stream object
local M = {}

local concat, insert = table.concat, table.insert
local tonumber, type, pairs, error, setmetatable = tonumber, type, pairs, error, setmetatable
local format = string.format

-- Bytes a header may take (skynet's limit).
local LIMIT = 8192
M.LIMIT = LIMIT
-- A chunk-size line longer than this is an attack, not a size.
local CHUNKSIZE_LIMIT = 128

function M.recvheader(read, lines, pre)
  local header = pre
  if header:sub(1, 2) == "\r\n" then
    return header:sub(3)
  end
  local e = header:find("\r\n\r\n", 1, true)
  while not e do
    if #header > LIMIT then
      return nil
    end
    local more = read()
    local from = #header - 3
    header = header .. more
    e = header:find("\r\n\r\n", from > 0 and from or 1, true)
    if not e and header:sub(1, 2) == "\r\n" then
      return header:sub(3)
    end
  end
  if e > LIMIT then
    return nil
  end
  for line in header:sub(1, e + 1):gmatch("(.-)\r\n") do
    lines[#lines + 1] = line
  end
  return header:sub(e + 4)
end

function M.parseheader(lines, from, header)
  local name
  for i = from, #lines do
    local line = lines[i]
    local first = line:byte(1)
    if first == 9 or first == 32 then -- folded: continues the last value
      if name == nil then
        return nil
      end
      local v = header[name]
      if type(v) == "table" then
        v[#v] = v[#v] .. line:sub(2)
      else
        header[name] = v .. line:sub(2)
      end
    else
      local n, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if n == nil then
        return nil
      end
      name = n:lower()
      local old = header[name]
      if old == nil then
        header[name] = value
      elseif type(old) == "table" then
        old[#old + 1] = value
      else
        header[name] = { old, value }
      end
    end
  end
  return header
end

-- The size of the next chunk and the bytes after its line; nil if malformed.
local function chunksize(read, body)
  while true do
    local f, e = body:find("\r\n", 1, true)
    if f then
      local size = body:sub(1, f - 1):match("^%s*(%x+)")
      if not size or #size > 15 then
        return nil
      end
      return tonumber(size, 16), body:sub(e + 1)
    end
    if #body > CHUNKSIZE_LIMIT then
      return nil
    end
    body = body .. read()
  end
end

-- The bytes after the CRLF that ends a chunk; nil if it is not there.
local function crlf(read, body)
  if #body < 2 then
    body = body .. read(2 - #body)
  end
  if body:sub(1, 2) ~= "\r\n" then
    return nil
  end
  return body:sub(3)
end

function M.recvchunkedbody(read, limit, header, body)
  local parts, size = {}, 0
  while true do
    local sz
    sz, body = chunksize(read, body)
    if not sz then
      return nil
    end
    if sz == 0 then
      break
    end
    size = size + sz
    if limit and size > limit then
      return nil
    end
    if #body >= sz then
      parts[#parts + 1] = body:sub(1, sz)
      body = body:sub(sz + 1)
    else
      parts[#parts + 1] = body .. read(sz - #body)
      body = ""
    end
    body = crlf(read, body)
    if not body then
      return nil
    end
  end
  local trailer = {}
  if not M.recvheader(read, trailer, body) then
    return nil
  end
  header = M.parseheader(trailer, 1, header)
  if not header then
    return nil
  end
  return concat(parts), header
end

function M.request(interface, method, host, url, recvheader, header, content)
  local write = interface.write
  local lines = { format("%s %s HTTP/1.1\r\n", method, url) }
  if header then
    if not header.Host and not header.host then
      header.Host = host
    end
    for k, v in pairs(header) do
      lines[#lines + 1] = format("%s:%s\r\n", k, v)
    end
  else
    lines[#lines + 1] = format("host:%s\r\n", host)
  end
  local chunked = header and header["transfer-encoding"] == "chunked"
  if content == nil then
    lines[#lines + 1] = "Content-length:0\r\n\r\n"
  elseif chunked then
    lines[#lines + 1] = "\r\n"
  else
    lines[#lines + 1] = format("Content-length:%d\r\n\r\n", #content)
  end
  write(concat(lines))
  if content then
    write(content)
  end

  local status = {}
  local rest = M.recvheader(interface.read, status, "")
  if not rest then
    error("Recv header failed")
  end
  local code = tonumber((status[1] or ""):match("^HTTP/[%d%.]+%s+(%d%d%d)"))
  if not code then
    error("Invalid HTTP status line: " .. tostring(status[1]))
  end
  local h = M.parseheader(status, 2, recvheader or {})
  if not h then
    error("Invalid HTTP response header")
  end
  return code, rest, h
end

local function transfer_mode(header)
  local mode = header["transfer-encoding"]
  if mode and mode ~= "identity" and mode ~= "chunked" then
    error("Unsupport transfer-encoding")
  end
  return mode
end

local function no_body(code)
  return code == 204 or code == 304 or code < 200
end

function M.response(interface, code, body, header)
  if transfer_mode(header) == "chunked" then
    body = M.recvchunkedbody(interface.read, nil, header, body)
    if not body then
      error("Invalid response body")
    end
    return body
  end
  local length = tonumber(header["content-length"])
  if length then
    if #body >= length then
      return body:sub(1, length)
    end
    return body .. interface.read(length - #body)
  elseif no_body(code) then
    return ""
  end
  return body .. (interface.readall() or "")
end

-- response_stream: `for part, stream in stream do ... end` reads the body
-- piece by piece; stream.status, stream.header; stream:close() (or <close>).
local stream = {}
stream.__index = stream

function stream:close()
  local onclose = self._onclose
  if onclose then
    self._onclose = nil
    onclose(self)
  end
end
stream.__close = stream.close

function stream:padding()
  return self._reading(self), self
end
stream.__call = stream.padding

local function finish(s, ok)
  s._reading = stream.close
  s.connected = ok and nil or false
end

local function read_nobody(s)
  finish(s, true)
  return ""
end

local function read_length(length)
  return function(s)
    local body = s._body
    if body == nil or (body == "" and length > 0) then
      local ok, data = pcall(s._interface.read)
      if not ok then
        finish(s, false)
        return nil
      end
      body = data
    end
    s._body = nil
    if #body >= length then
      finish(s, true)
      return body:sub(1, length)
    end
    length = length - #body
    return body
  end
end

local function read_rest(s)
  local ok, data = pcall(s._interface.read)
  if not ok or data == "" then
    finish(s, true)
    s:close()
    return nil
  end
  return data
end

local function read_all(s)
  local body = s._body
  s._body = nil
  s._reading = read_rest
  if body == "" then
    return read_rest(s)
  end
  return body
end

local function read_chunk(s)
  local read = s._interface.read
  local ok, sz, body = pcall(chunksize, read, s._body)
  if not ok or not sz then
    finish(s, false)
    s:close()
    return nil
  end
  if sz == 0 then
    local trailer = {}
    local ok2, rest = pcall(M.recvheader, read, trailer, body)
    if not ok2 or not rest then
      finish(s, false)
      s:close()
      return nil
    end
    M.parseheader(trailer, 1, s.header)
    finish(s, true)
    return ""
  end
  local remain
  if #body >= sz then
    body, remain = body:sub(1, sz), body:sub(sz + 1)
  else
    local ok3, more = pcall(read, sz - #body)
    if not ok3 then
      finish(s, false)
      s:close()
      return nil
    end
    body, remain = body .. more, ""
  end
  local ok4, after = pcall(crlf, read, remain)
  if not ok4 or not after then
    finish(s, false)
    s:close()
    return nil
  end
  s._body = after
  return body
end

function M.response_stream(interface, code, body, header)
  local reading
  if transfer_mode(header) == "chunked" then
    reading = read_chunk
  else
    local length = tonumber(header["content-length"])
    if length then
      reading = read_length(length)
    elseif no_body(code) then
      reading = read_nobody
    else
      reading = read_all
    end
  end
  return setmetatable({
    status = code,
    header = header,
    connected = true,
    _body = body,
    _interface = interface,
    _reading = reading,
  }, stream)
end

return M
