-- A service whose main chunk is a function handed over by service.new.
-- As in skynet, the function runs inside the service's start (a coroutine),
-- so it may call, sleep and read sockets before or without skynet.start;
-- a skynet.start it calls runs right after it returns.
local command = require "skylet.core".command
local skynet = require "skynet"

local name, token = ...
SERVICE_NAME = name
local main = command("LOADFUNC", tonumber(token))
local args = table.pack(select(3, ...))

local start = skynet.start
local start_func
skynet.start = function(f)
  start_func = f
end
start(function()
  main(table.unpack(args, 1, args.n))
  skynet.start = start
  if start_func then
    start_func()
  end
end)
