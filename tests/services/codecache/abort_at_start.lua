-- A start service that stops the node from its start function, as the
-- shared benchmark workloads do once they have printed their figures.
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
  print("stopping")
  skynet.abort()
end)
