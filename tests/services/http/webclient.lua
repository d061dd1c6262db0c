-- httpc on call: ("get"|"request"|"post"|"head"|"stream", ...) answers
-- true and the results, or false and the error.
local skynet = require "skynet"
local httpc = require "http.httpc"

local commands = {}

function commands.request(method, host, url, header, content)
  local recv = {}
  local status, body = httpc.request(method, host, url, recv, header, content)
  return status, body, recv
end

function commands.get(host, url)
  local recv = {}
  local status, body = httpc.get(host, url, recv)
  return status, body, recv
end

function commands.post(host, url, form)
  return httpc.post(host, url, form)
end

function commands.head(host, url)
  local recv = {}
  return httpc.head(host, url, recv), recv
end

function commands.stream(host, url)
  local parts = {}
  local status
  for part, stream in httpc.request_stream("GET", host, url) do
    status = stream.status
    parts[#parts + 1] = part
  end
  return status, parts
end

function commands.dns(server, port)
  httpc.dns(server, port)
end

function commands.timeout(t)
  httpc.timeout = t
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local r = table.pack(pcall(commands[cmd], ...))
    if not r[1] then
      r[2] = tostring(r[2]) -- sockethelper.socket_error is a table
    end
    skynet.ret(skynet.pack(table.unpack(r, 1, r.n)))
  end)
end)
