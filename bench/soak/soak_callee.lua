-- Answers every request with its argument plus one (and its payload, if
-- any); "stat" answers its Lua heap.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, n, pad)
    if n == "stat" then
      skynet.ret(skynet.pack(0, 0, collectgarbage("count")))
    else
      skynet.ret(skynet.pack(n + 1, pad))
    end
  end)
end)
