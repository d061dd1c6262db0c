-- One client's agent behind the gate: echoes each packet back, framed;
-- "quit" asks the watchdog to close the connection.
local skynet = require "skynet"
local socket = require "skynet.socket"

local client_fd, watchdog

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = function(msg) return msg end,
  dispatch = function(fd, _, msg)
    skynet.ignoreret() -- the session is the fd: nothing to answer
    assert(fd == client_fd)
    if msg == "quit" then
      skynet.send(watchdog, "lua", "close", fd)
    else
      socket.write(fd, string.pack(">s2", msg))
    end
  end,
}

local CMD = {}

function CMD.start(conf)
  client_fd, watchdog = conf.client, conf.watchdog
  skynet.call(conf.gate, "lua", "forward", client_fd)
end

function CMD.disconnect()
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
