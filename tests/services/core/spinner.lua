-- Keeps itself busy: each "spin" message runs a short loop and sends itself
-- the next, so a dispatcher is nearly always inside this VM.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd)
    if cmd == "spin" then
      local x = 0
      for i = 1, 2000 do x = x + i end
      pcall(skynet.send, skynet.self(), "lua", "spin")
    end
    if session ~= 0 then skynet.ret(skynet.pack(true)) end
  end)
end)
