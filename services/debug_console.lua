-- The debug console (skynet's service/debug_console.lua): a line-based TCP
-- admin port. Launch it with skynet.newservice("debug_console", [host,] port),
-- or from the config: debug_console = 8000 (or "host:port").
--
-- Anyone who can connect can run code in every service (inject), so it
-- listens on 127.0.0.1 unless told otherwise, and refuses an address that is
-- not loopback unless the config sets debug_console_public = true.
local skynet = require "skynet"
local socket = require "skynet.socket"
local console = require "skylet.console"

local format = string.format

local function parse_args(...)
  local n = select("#", ...)
  local host, port
  if n >= 2 then
    host, port = ...
  elseif n == 1 then
    port = ...
  else
    port = skynet.getenv "debug_console"
  end
  port = tostring(port or "")
  if host == nil then
    -- "host:port", "[v6]:port" or a bare port
    local h, p = port:match("^%[(.+)%]:(%d+)$")
    if not h then
      h, p = port:match("^([^:]+):(%d+)$")
    end
    if h then
      host, port = h, p
    end
  end
  host = host or skynet.getenv "debug_console_address" or "127.0.0.1"
  local number = tonumber(port)
  if number == nil or math.type(number) ~= "integer" or number < 0 or number > 65535 then
    error(format("debug_console: bad port %q (give a port, or host and port)", port), 0)
  end
  return host, number
end

local function is_loopback(host)
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

local host, port = parse_args(...)
if not is_loopback(host) and skynet.getenv "debug_console_public" ~= "true" then
  error(format("debug_console: refusing to listen on %s, which is not a loopback address:"
    .. " the console runs any code it is sent. Set debug_console_public = true in the"
    .. " config to allow it", host), 0)
end

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- `curl --http0.9 http://127.0.0.1:PORT/list` works as with skynet: one
-- command, its answer as plain lines after the welcome, then close.
local function serve_http(fd, request_line, print)
  local url = request_line:match("^GET%s+(%S+)") or "/"
  repeat
    local header = socket.readline(fd, "\n")
  until not header or header == "" or header == "\r"
  local cmdline = url_decode(url:sub(2):gsub("/", " "))
  console.docmd(cmdline, print)
end

local function session(fd, addr, print)
  skynet.error(addr, "connected")
  print("Welcome to skylet console")
  local ok, err = pcall(function()
    while true do
      local line = socket.readline(fd, "\n")
      if not line then
        break
      end
      line = line:gsub("\r$", "")
      if line:sub(1, 4) == "GET " then
        serve_http(fd, line, print)
        break
      end
      if line:match("%S") then
        console.docmd(line, print)
      end
    end
  end)
  if not ok then
    skynet.error(addr, tostring(err))
  end
  skynet.error(addr, "disconnected")
  socket.close(fd)
end

skynet.start(function()
  local listener, bound_host, bound_port = socket.listen(host, port)
  bound_host, bound_port = bound_host or host, bound_port or port
  skynet.error(format("Start debug console at %s:%d", bound_host, bound_port))
  socket.start(listener, function(fd, addr)
    local function print(...)
      local n = select("#", ...)
      local parts = { ... }
      for i = 1, n do
        parts[i] = tostring(parts[i])
      end
      socket.write(fd, table.concat(parts, "\t", 1, n) .. "\n")
    end
    socket.start(fd)
    skynet.fork(session, fd, addr, print)
  end)
  -- Where it listens (port 0 picks a free one): for embedding programs and tests.
  skynet.dispatch("lua", function(session_id, source, cmd)
    if cmd == "address" then
      skynet.retpack(bound_host, bound_port)
    else
      error("debug_console: unknown command " .. tostring(cmd))
    end
  end)
end)
