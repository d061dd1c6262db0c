-- http.httpc: an HTTP/1.1 client, one connection per request (skynet's
-- http.httpc). host is "[http://|https://]name-or-ip[:port]".
--   httpc.timeout                       1/100 s for connect and request, or nil
--   request(method, host, url [, recvheader [, header [, content]]])
--                                       status, body; raises on failure
--   get(host, url [, recvheader [, header [, content]]]), head(...) -> status
--   post(host, url, form [, recvheader])  form url-encoded
--   request_stream(method, host, url, ...)  a stream (see http.internal)
--   dns([server [, port]])              resolve names with skynet.dns (its
--                                       failures raise in the caller)
-- https: TLS through http.tlshelper; as skynet, the server's certificate is
-- not verified.
local skynet = require "skynet"
local socket = require "http.sockethelper"
local internal = require "http.internal"

local format, concat, lower = string.format, table.concat, string.lower
local pairs, pcall, error, tonumber, require = pairs, pcall, error, tonumber, require

local httpc = {}

local dns -- skynet.dns, once httpc.dns is called

function httpc.dns(server, port)
  dns = require "skynet.dns"
  dns.server(server, port)
end

local default_port = { http = 80, https = 443 }

local function is_ipv4(h)
  return h:find("^%d+%.%d+%.%d+%.%d+$") ~= nil
end

-- name, port (or nil), kind ("ipv4", "ipv6" or "hostname")
local function parse_host(host)
  local v6, p6 = host:match("^%[(.-)%]:?(%d*)$")
  if v6 then
    return v6, tonumber(p6), "ipv6"
  end
  local first = host:find(":", 1, true)
  if first and host:find(":", first + 1, true) then
    error(format("Invalid host: bare IPv6 address '%s', use '[%s]' instead", host, host))
  end
  local name, port = host:match("^(.-):(%d+)$")
  if name then
    return name, tonumber(port), is_ipv4(name) and "ipv4" or "hostname"
  end
  return host, nil, is_ipv4(host) and "ipv4" or "hostname"
end

local function parse_url(url)
  local protocol, rest = url:match("^(%a+)://(.*)$")
  protocol = protocol and lower(protocol) or "http"
  rest = rest or url
  local name, port, kind = parse_host(rest)
  port = port or default_port[protocol]
  if not port then
    error("Invalid protocol: " .. protocol)
  end
  return protocol, name, port, kind, rest
end

local client_ctx

local function interface_for(protocol, fd, hostname)
  if protocol == "http" then
    return {
      read = socket.readfunc(fd),
      write = socket.writefunc(fd),
      readall = function()
        return socket.readall(fd)
      end,
    }
  elseif protocol == "https" then
    local tls = require "http.tlshelper"
    client_ctx = client_ctx or tls.newctx()
    local conn = tls.newtls("client", client_ctx, hostname)
    return {
      init = tls.init_requestfunc(fd, conn),
      close = tls.closefunc(conn),
      read = tls.readfunc(fd, conn),
      write = tls.writefunc(fd, conn),
      readall = tls.readallfunc(fd, conn),
    }
  end
  error(format("Invalid protocol: %s", protocol))
end

local function connect(url, timeout)
  local protocol, name, port, kind, hostheader = parse_url(url)
  local addr = name
  if kind == "hostname" and dns then
    local ip, why = dns.resolve(name)
    if not ip then
      error(format("%s dns resolve failed msg:%s", name, why))
    end
    addr = ip
  end
  local fd = socket.connect(addr, port, timeout)
  local sni = kind == "hostname" and name or nil
  local interface = interface_for(protocol, fd, sni)
  if timeout then
    skynet.timeout(timeout, function()
      if not interface.finish then
        socket.shutdown(fd) -- the reader wakes with socket_error
      end
    end)
  end
  if interface.init then
    interface.init(sni)
  end
  return fd, interface, hostheader
end

local function close_interface(interface, fd)
  interface.finish = true
  socket.close(fd)
  if interface.close then
    interface.close()
    interface.close = nil
  end
end

function httpc.request(method, host, url, recvheader, header, content)
  local fd, interface, hostheader = connect(host, httpc.timeout)
  local ok, code, body, h = pcall(internal.request, interface, method, hostheader, url,
    recvheader, header, content)
  if ok then
    ok, body = pcall(internal.response, interface, code, body, h)
  end
  close_interface(interface, fd)
  if not ok then
    error(body or code)
  end
  return code, body
end

function httpc.head(host, url, recvheader, header, content)
  local fd, interface, hostheader = connect(host, httpc.timeout)
  local ok, code = pcall(internal.request, interface, "HEAD", hostheader, url,
    recvheader, header, content)
  close_interface(interface, fd)
  if not ok then
    error(code)
  end
  return code
end

function httpc.request_stream(method, host, url, recvheader, header, content)
  local fd, interface, hostheader = connect(host, httpc.timeout)
  local ok, code, body, h = pcall(internal.request, interface, method, hostheader, url,
    recvheader, header, content)
  interface.finish = true -- the timeout no longer applies
  local function close()
    close_interface(interface, fd)
  end
  if not ok then
    close()
    error(code)
  end
  local stream = internal.response_stream(interface, code, body, h)
  stream._onclose = close
  return stream
end

function httpc.get(...)
  return httpc.request("GET", ...)
end

local function escape(s)
  return (tostring(s):gsub("([^A-Za-z0-9_])", function(c)
    return format("%%%02X", c:byte())
  end))
end

function httpc.post(host, url, form, recvheader)
  local body = {}
  for k, v in pairs(form) do
    body[#body + 1] = escape(k) .. "=" .. escape(v)
  end
  return httpc.request("POST", host, url, recvheader,
    { ["content-type"] = "application/x-www-form-urlencoded" }, concat(body, "&"))
end

return httpc
