-- Answers after a delay; tests of skynet.request, term and tracing use it.
local skynet = require "skynet"

local CMD = {}

function CMD.ping(ticks, text)
  skynet.sleep(ticks)
  return text
end

function CMD.fail()
  error("slave failed")
end

function CMD.hold()
  skynet.wait()
end

function CMD.where()
  return SERVICE_NAME, SERVICE_PATH
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
