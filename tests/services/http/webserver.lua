-- An HTTP(S) server as skynet's examples/simpleweb.lua builds one: a listener
-- hands each connection to one of a few agents; an agent reads one request,
-- answers and closes. "port" answers the port it listens on. Arguments:
-- mode ("main" or "agent") and protocol ("http" or "https").
-- The answer to a request is text: method, path, each query pair, each
-- header and the body, one per line, sorted. Paths:
--   /chunked   the body in three chunks (a function body)
--   /status/N  status N, no body
--   /slow      waits a second before answering
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local urllib = require "http.url"

local mode, protocol = ...
protocol = protocol or "http"

local function sorted_lines(t, prefix, out)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      v = table.concat(v, ",")
    end
    out[#out + 1] = string.format("%s %s=%s", prefix, k, v)
  end
end

if mode == "agent" then
  local server_ctx

  local function interface(id)
    if protocol == "http" then
      return { read = sockethelper.readfunc(id), write = sockethelper.writefunc(id) }
    end
    local tls = require "http.tlshelper"
    if not server_ctx then
      server_ctx = tls.newctx()
      server_ctx:set_cert(skynet.getenv "certfile", skynet.getenv "keyfile")
    end
    local conn = tls.newtls("server", server_ctx)
    return {
      init = tls.init_responsefunc(id, conn),
      close = tls.closefunc(conn),
      read = tls.readfunc(id, conn),
      write = tls.writefunc(id, conn),
    }
  end

  local served = 0

  local function serve(id)
    socket.start(id)
    local io = interface(id)
    if io.init then
      local ok, err = pcall(io.init)
      if not ok then
        skynet.error("tls handshake: " .. tostring(err))
        io.close()
        return
      end
    end
    local code, url, method, header, body = httpd.read_request(io.read, 8192)
    if not code then
      if url == sockethelper.socket_error then
        skynet.error("socket closed")
      else
        skynet.error("bad request: " .. tostring(url))
      end
    elseif code ~= 200 then
      httpd.write_response(io.write, code)
    else
      served = served + 1
      local path, query = urllib.parse(url)
      local status = tonumber(path:match("^/status/(%d+)$"))
      if status then
        httpd.write_response(io.write, status)
      elseif path == "/chunked" then
        local parts = { "one,", "two,", "three" }
        local i = 0
        httpd.write_response(io.write, 200, function()
          i = i + 1
          return parts[i]
        end, { ["x-kind"] = "chunked" })
      else
        if path == "/slow" then
          skynet.sleep(100)
        end
        local out = { "method " .. method, "path " .. path }
        sorted_lines(urllib.parse_query(query), "query", out)
        sorted_lines(header, "header", out)
        out[#out + 1] = "body " .. body
        httpd.write_response(io.write, 200, table.concat(out, "\n"),
          { ["content-type"] = "text/plain", ["set-cookie"] = { "a=1", "b=2" } })
      end
    end
    socket.close(id)
    if io.close then
      io.close()
    end
  end

  skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, id)
      if cmd == "served" then
        skynet.ret(skynet.pack(served))
        return
      end
      serve(id)
    end)
  end)
else
  skynet.start(function()
    local agents = {}
    for i = 1, 4 do
      agents[i] = skynet.newservice(SERVICE_NAME, "agent", protocol)
    end
    local next_agent = 1
    local id, _, port = socket.listen("127.0.0.1", 0)
    socket.start(id, function(fd)
      skynet.send(agents[next_agent], "lua", "serve", fd)
      next_agent = next_agent % #agents + 1
    end)
    skynet.dispatch("lua", function(_, _, cmd)
      if cmd == "port" then
        skynet.ret(skynet.pack(port))
      elseif cmd == "served" then
        local total = 0
        for _, a in ipairs(agents) do
          total = total + skynet.call(a, "lua", "served")
        end
        skynet.ret(skynet.pack(total))
      end
    end)
  end)
end
