-- A service with an info function, for the debug protocol's INFO.
local skynet = require "skynet"

skynet.info_func(function(what)
  return { service = "informed", asked = what }
end)

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    if cmd == "echo" then
      skynet.retpack(...)
    end
  end)
end)
