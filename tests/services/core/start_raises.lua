local skynet = require "skynet"
require "skynet.manager"
skynet.start(function()
  skynet.register(".half_started")
  error("start failed on purpose")
end)
