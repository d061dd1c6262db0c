-- Receives ("seq", k) one-way messages and checks each sender's numbers
-- follow 1, 2, 3, ...: a number out of place is a gap (a lost, repeated or
-- reordered message), as is a payload of the wrong size. "sync" answers the last number received from the caller;
-- "stat" answers 0 messages (the senders count them), 0 calls in flight, the
-- gaps so far and its Lua heap.
local skynet = require "skynet"

local payload = tonumber(skynet.getenv("soak_payload") or 0)
local last = {}
local gaps = 0

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, k, pad)
    if cmd == "seq" then
      local expected = (last[source] or 0) + 1
      if k ~= expected or #(pad or "") ~= payload then
        gaps = gaps + 1
        if gaps <= 3 then skynet.error("soak: from", source, "got", k, "expected", expected) end
      end
      last[source] = k
    elseif cmd == "sync" then
      skynet.ret(skynet.pack(last[source] or 0))
    elseif cmd == "stat" then
      skynet.ret(skynet.pack(0, 0, collectgarbage("count"), gaps))
    end
  end)
end)
