local skynet = require "skynet"
skynet.start(function()
  local x = = 1
end)
