local skynet = require "skynet"
require "skynet.manager"
skynet.start(function()
  skynet.timeout(1, function() skynet.abort() end)
end)
