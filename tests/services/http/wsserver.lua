-- A websocket echo server as skynet's examples/simplewebsocket.lua builds
-- one: the listener hands connections to agents, which run websocket.accept.
-- Each agent records what its handler saw; "events" answers them all.
-- Messages: "close-me" closes with 4000 "bye"; "ping-me" sends a ping; any
-- other is echoed with its type. Protocol "upgrade": the agent reads the
-- request with httpd and passes it to accept as options.upgrade.
local skynet = require "skynet"
local socket = require "skynet.socket"
local websocket = require "http.websocket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"

local mode, protocol = ...
protocol = protocol or "ws"

if mode == "agent" then
  local events = {}
  local function record(...)
    local parts = table.pack(...)
    for i = 1, parts.n do
      parts[i] = tostring(parts[i])
    end
    events[#events + 1] = table.concat(parts, " ", 1, parts.n)
  end

  local handle = {}
  function handle.connect(id)
    record("connect")
  end
  function handle.handshake(id, header, url)
    record("handshake", url, header["x-test"])
  end
  function handle.message(id, msg, kind)
    record("message", kind, #msg)
    if msg == "close-me" then
      websocket.close(id, 4000, "bye")
    elseif msg == "ping-me" then
      websocket.ping(id)
    else
      websocket.write(id, msg, kind)
    end
  end
  function handle.ping(id)
    record("ping")
  end
  function handle.pong(id)
    record("pong")
  end
  function handle.close(id, code, reason)
    record("close", code, reason)
  end
  function handle.error(id, err)
    record("error", (tostring(err):match("^[^\n]*")))
  end

  skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, id, addr)
      if cmd == "events" then
        skynet.ret(skynet.pack(events))
        return
      end
      local ok, err
      if protocol == "upgrade" then
        -- httpd reads the request first, then hands it over (skynet's options.upgrade)
        socket.start(id)
        local code, url, method, header = httpd.read_request(sockethelper.readfunc(id))
        if code ~= 200 then
          record("upgrade refused", code)
          socket.close(id)
          return
        end
        ok, err = websocket.accept(id, handle, "ws", addr,
          { upgrade = { header = header, method = method, url = url } })
      else
        ok, err = websocket.accept(id, handle, protocol, addr)
      end
      if not ok then
        record("failed", (tostring(err):match("^[^\n]*")))
      end
    end)
  end)
else
  skynet.start(function()
    local agents = {}
    for i = 1, 3 do
      agents[i] = skynet.newservice(SERVICE_NAME, "agent", protocol)
    end
    local next_agent = 1
    local id, _, port = socket.listen("127.0.0.1", 0)
    socket.start(id, function(fd, addr)
      skynet.send(agents[next_agent], "lua", "accept", fd, addr)
      next_agent = next_agent % #agents + 1
    end)
    skynet.dispatch("lua", function(_, _, cmd)
      if cmd == "port" then
        skynet.ret(skynet.pack(port))
      elseif cmd == "events" then
        local all = {}
        for _, a in ipairs(agents) do
          for _, e in ipairs(skynet.call(a, "lua", "events")) do
            all[#all + 1] = e
          end
        end
        table.sort(all)
        skynet.ret(skynet.pack(all))
      end
    end)
  end)
end
