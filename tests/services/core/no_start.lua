-- Never calls skynet.start.
local skynet = require "skynet"
