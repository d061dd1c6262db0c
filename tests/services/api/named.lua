-- Registers itself under the global name it is given, then answers calls.
local skynet = require "skynet"
require "skynet.manager"

local name = ...

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "exit" then
      skynet.exit()
    end
    skynet.ret(skynet.pack(name, cmd, ...))
  end)
  if name then
    skynet.register(name)
  end
end)
