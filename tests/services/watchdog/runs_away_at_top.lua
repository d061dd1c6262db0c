-- The service file's main chunk runs for seconds (for ever, as far as the
-- node is concerned) before it would start the service.
local skynet = require "skynet"
require "skynet.manager"
skynet.register(".runaway_top")
local n = 0
while n < 3e8 do n = n + 1 end
skynet.start(function() end)
