-- A service whose main chunk is a function handed over by service.new.
-- As in skynet, the function may call skynet.start or just set dispatch
-- functions: the cell starts either way.
local skynet = require "skynet"
local command = require "skylet.core".command

local name, token = ...
SERVICE_NAME = name
local main = command("LOADFUNC", tonumber(token))
local start = skynet.start
local start_func
skynet.start = function(f)
  start_func = f
end
main(select(3, ...))
skynet.start = start
start(function()
  if start_func then
    start_func()
  end
end)
