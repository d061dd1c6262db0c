-- A module that registers an init function.
local skynet = require "skynet"
local M = { order = {} }
M.order[#M.order + 1] = "body"
skynet.init(function() M.order[#M.order + 1] = "init" end)
return M
