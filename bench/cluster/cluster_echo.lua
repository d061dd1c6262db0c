local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, a, b)
    if cmd == "ping" then
      skynet.ret(skynet.pack(a, b))
    else -- "size": answer the length of the payload
      skynet.ret(skynet.pack(#a))
    end
  end)
end)
