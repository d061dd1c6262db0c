-- Finalizers that call the node's entry points, armed and left for the
-- garbage collector or the VM's close: they must never crash the process.
local skynet = require "skynet"
local core = require "skylet.core"

skynet.start(function()
  for i = 1, 50 do
    setmetatable({}, { __gc = function()
      core.command("LOG", "finalizer " .. i)
      core.command("GETENV", "thread")
      core.send(skynet.self(), 10, 1, "x")
      core.command("TIMEOUT", 1, 5)
      core.command("SOCKET", "listen", "127.0.0.1", 0, 0)
    end })
  end
  skynet.dispatch("lua", function() end)
end)
