-- Echo server: each connection gets back what it sends, until it closes.
local skynet = require "skynet"
local socket = require "skynet.socket"

local listen_id, port
local served = 0
local waiting = {} -- { count, response } waiting for `served` to reach count

local function serve(id)
  socket.start(id)
  while true do
    local data = socket.read(id)
    if not data then
      break
    end
    socket.write(id, data)
  end
  socket.close(id)
  served = served + 1
  for i = #waiting, 1, -1 do
    if served >= waiting[i][1] then
      table.remove(waiting, i)[2](true, served)
    end
  end
end

local CMD = {}

function CMD.port()
  return port
end

function CMD.served()
  return served
end

function CMD.netstat()
  return socket.netstat()
end

function CMD.wait_served(n)
  if served >= n then
    return served
  end
  waiting[#waiting + 1] = { n, skynet.response() }
  return "DEFERRED"
end

skynet.start(function()
  listen_id, _, port = socket.listen("127.0.0.1", 0)
  socket.start(listen_id, function(id, addr)
    serve(id)
  end)
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local r = CMD[cmd](...)
    if r ~= "DEFERRED" then
      skynet.retpack(r)
    end
  end)
end)
