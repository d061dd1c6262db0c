-- A service whose main chunk is a function handed over by service.new.
local command = require "skylet.core".command

local name, token = ...
SERVICE_NAME = name
local main = command("LOADFUNC", tonumber(token))
return main(select(3, ...))
