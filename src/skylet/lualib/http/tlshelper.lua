-- http.tlshelper: the TLS side of httpc, httpd agents and websocket
-- (skynet's http.tlshelper): read/write functions that carry plaintext over a
-- socket through a TLS connection of ltls.c.
local socket = require "http.sockethelper"
local c = require "ltls.c"

local concat, sub = table.concat, string.sub

local tlshelper = {}

-- The handshake fails on garbage: close the socket and the TLS connection,
-- then raise.
local function failing(fd, tls_ctx, fn)
  local ok, err = pcall(fn)
  if not ok then
    socket.close(fd)
    tls_ctx:close()
    error(err, 0)
  end
end

-- A client's handshake, with an optional SNI name.
function tlshelper.init_requestfunc(fd, tls_ctx)
  local read = socket.readfunc(fd)
  local write = socket.writefunc(fd)
  return function(hostname)
    failing(fd, tls_ctx, function()
      if hostname then
        tls_ctx:set_ext_host_name(hostname)
      end
      write(tls_ctx:handshake() or "")
      while not tls_ctx:finished() do
        local out = tls_ctx:handshake(read())
        if out then
          write(out)
        end
      end
    end)
  end
end

-- A server's handshake.
function tlshelper.init_responsefunc(fd, tls_ctx)
  local read = socket.readfunc(fd)
  local write = socket.writefunc(fd)
  return function()
    failing(fd, tls_ctx, function()
      while not tls_ctx:finished() do
        local out = tls_ctx:handshake(read())
        if out then
          write(out)
        end
      end
      local rest = tls_ctx:write() -- what the handshake left (session tickets)
      if rest ~= "" then
        write(rest)
      end
    end)
  end
end

function tlshelper.closefunc(tls_ctx)
  return function()
    tls_ctx:close()
  end
end

-- read(sz): sz plaintext bytes; read(): what is there (at least one byte).
function tlshelper.readfunc(fd, tls_ctx)
  local socket_read = socket.readfunc(fd)
  -- The handshake's last bytes may have carried application data already:
  -- the first read asks the TLS connection before the socket.
  local function read()
    read = socket_read
    return ""
  end
  local buffer = ""
  return function(sz)
    if sz == nil then
      while buffer == "" do
        buffer = tls_ctx:read(read())
      end
      local s = buffer
      buffer = ""
      return s
    end
    if #buffer < sz then
      local parts = { buffer }
      local have = #buffer
      while have < sz do
        local s = tls_ctx:read(read())
        parts[#parts + 1] = s
        have = have + #s
      end
      buffer = concat(parts)
    end
    local s = sub(buffer, 1, sz)
    buffer = sub(buffer, sz + 1)
    return s
  end
end

function tlshelper.writefunc(fd, tls_ctx)
  local write = socket.writefunc(fd)
  return function(s)
    return write(tls_ctx:write(s))
  end
end

function tlshelper.readallfunc(fd, tls_ctx)
  return function()
    local data = socket.readall(fd)
    return tls_ctx:read(data or "")
  end
end

function tlshelper.newctx()
  return c.newctx()
end

function tlshelper.newtls(method, ssl_ctx, hostname)
  return c.newtls(method, ssl_ctx, hostname)
end

return tlshelper
