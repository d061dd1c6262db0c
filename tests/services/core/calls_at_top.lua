-- skynet.call at the top level of a service file is a mistake.
local skynet = require "skynet"
skynet.call(".launcher", "lua", "LIST")
skynet.start(function() end)
