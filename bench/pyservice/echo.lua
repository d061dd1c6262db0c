-- Answers every "ping" with its argument (the callee of bench/pyservice.py).
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, _, value)
    skynet.ret(skynet.pack(value))
  end)
end)
