-- Bench agent: each packet from its client goes straight back, framed.
local skynet = require "skynet"
local socket = require "skynet.socket"

local write, pack = socket.write, string.pack
local client_fd

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = function(msg) return msg end,
  dispatch = function(_, _, msg)
    skynet.ignoreret()
    write(client_fd, pack(">s2", msg))
  end,
}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, gate, fd)
    if cmd == "exit" then
      return skynet.exit()
    end
    client_fd = fd
    skynet.call(gate, "lua", "forward", fd)
    skynet.retpack(true)
  end)
end)
