-- Says whether skynet.debug has been loaded in this service yet.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.retpack(package.loaded["skynet.debug"] ~= nil)
  end)
end)
