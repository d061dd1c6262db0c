-- A faulty callee for the soak's own test: never answers request 1000.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, n)
    if n == "stat" then
      skynet.ret(skynet.pack(0, 0, collectgarbage("count")))
    elseif n ~= 1000 then
      skynet.ret(skynet.pack(n + 1))
    end
  end)
end)
