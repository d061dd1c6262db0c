-- Takes lua messages and does nothing with them.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session)
    if session ~= 0 then
      skynet.ret(skynet.pack(skynet.stat("mqlen")))
    end
  end)
end)
