-- Sends `count` numbered messages to each target, then answers "done".
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, count, ...)
    local targets = { ... }
    for seq = 1, count do
      for _, t in ipairs(targets) do
        skynet.send(t, "lua", "hit", seq)
      end
      if seq % 50 == 0 then skynet.yield() end
    end
    skynet.ret(skynet.pack("done"))
  end)
end)
