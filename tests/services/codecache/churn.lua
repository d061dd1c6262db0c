-- Its main chunk makes far more garbage than its memory limit allows at once.
local skynet = require "skynet"

local last
for i = 1, 200000 do
  last = { i, tostring(i) .. string.rep("x", 100) }
end

skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.retpack(last[1])
  end)
end)
