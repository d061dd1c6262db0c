-- Reports what its VM has loaded of skynet's API, and whether the collector
-- ran while the service loaded.
local skynet = require "skynet"

local collector_during_main = collectgarbage("isrunning")

local CMD = {}

function CMD.loaded()
  return package.loaded["skylet.skynet_extra"] ~= nil, rawget(skynet, "response") ~= nil
end

function CMD.now()
  return math.type(skynet.now())
end

function CMD.missing()
  return skynet.no_such_function
end

function CMD.collector()
  return collector_during_main, collectgarbage("isrunning")
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    skynet.retpack(CMD[cmd]())
  end)
end)
