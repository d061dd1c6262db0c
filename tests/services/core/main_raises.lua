local skynet = require "skynet"
local x = nil
x.field = 1
skynet.start(function() end)
