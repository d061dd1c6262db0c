-- A gate on snax.gateserver whose message handler blocks for "slow" packets
-- and echoes every packet back framed.
local skynet = require "skynet"
local gateserver = require "snax.gateserver"
local netpack = require "skynet.netpack"
local driver = require "skynet.socketdriver"

local handler = {}

function handler.connect(fd)
  gateserver.openclient(fd)
end

function handler.message(fd, msg, sz)
  msg = netpack.tostring(msg, sz)
  if msg == "slow" then
    skynet.sleep(5)
  end
  driver.send(fd, netpack.pack(msg))
end

function handler.open(_, conf)
  return conf.port
end

gateserver.start(handler)
