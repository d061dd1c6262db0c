-- A scripted player: a TCP client of the demo's gate, written with
-- skynet.socket (socket.open) like any skynet client service would be.
local skynet = require "skynet"
local socket = require "skynet.socket"

local host, port, name = ...
local id

-- Reads one packet: a 2-byte big-endian length, then the text.
local function receive()
  local header = socket.read(id, 2)
  if not header then
    return nil
  end
  return socket.read(id, string.unpack(">I2", header))
end

-- Sends a command and prints the packets that come back until its answer
-- (news from the world, "* ...", may arrive first).
local function request(text)
  socket.write(id, string.pack(">s2", text))
  while true do
    local packet = receive()
    if not packet then
      error(name .. ": the server closed the connection")
    end
    if packet:sub(1, 2) == "* " then
      skynet.error(string.format("%s hears: %s", name, packet:sub(3)))
    else
      skynet.error(string.format("%s> %s  =>  %s", name, text, packet))
      return packet
    end
  end
end

local CMD = {}

function CMD.play(rounds)
  id = assert(socket.open(host, tonumber(port)))
  request("join " .. name)
  for round = 1, rounds do
    request("score " .. round)
    skynet.sleep(5)
  end
  request("say hello from " .. name)
  request("stats")
end

function CMD.quit()
  request("quit")
  while receive() do end -- news still in flight, then the server's close
  socket.close(id)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    skynet.ret(skynet.pack(f(...)))
  end)
end)
