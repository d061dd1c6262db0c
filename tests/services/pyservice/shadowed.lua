-- A Lua file and a Python file with the same name: Lua wins.
local skynet = require "skynet"
skynet.start(function()
  skynet.dispatch("lua", function() skynet.ret(skynet.pack("lua")) end)
end)
