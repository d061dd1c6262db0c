-- Launches services with finalizers, kills some, and stops the node while
-- the rest are alive (their VMs close as the node stops).
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
  local list = {}
  for i = 1, 20 do list[i] = skynet.newservice("finalizers") end
  for i = 1, 10 do skynet.kill(list[i]) end
  collectgarbage()
  print("FINALIZERS ARMED")
  skynet.abort()
end)
