-- Detects concurrent dispatch: each handler marks itself active, works a
-- little, and counts it if it ever sees another handler active at once.
local skynet = require "skynet"

local active, overlaps, handled = 0, 0, 0
local last = {}      -- sender -> last sequence number seen
local disorder = 0

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, seq)
    active = active + 1
    if active ~= 1 then overlaps = overlaps + 1 end
    if cmd == "hit" then
      local x = 0
      -- Heavy enough (well over 50 us) for the threaded scheduler to run
      -- these services on worker threads in parallel.
      for i = 1, 20000 do x = x + i end
      if last[source] and seq ~= last[source] + 1 then disorder = disorder + 1 end
      last[source] = seq
      handled = handled + 1
    end
    active = active - 1
    if cmd == "report" then
      skynet.ret(skynet.pack(handled, overlaps, disorder))
    end
  end)
end)
