-- On "go", makes `calls` sequential calls to `callee` (sending i, expecting
-- i + 1, and `payload` bytes echoed if not 0) and sends "done" to `main` with its figures. "stat" answers the
-- messages carried so far (each call is two), the call in flight (0: none)
-- and its Lua heap in KB.
local skynet = require "skynet"

local callee, calls, main, payload = ...
callee, calls, main, payload = tonumber(callee), tonumber(calls), tonumber(main), tonumber(payload)
-- with a payload, each request carries `payload` bytes and the answer echoes them
local pad = payload > 0 and string.rep("p", payload) or nil

local done_calls, bad, inflight = 0, 0, 0

local function run()
  for i = 1, calls do
    inflight = i
    local r, echo = skynet.call(callee, "lua", i, pad)
    inflight = 0
    done_calls = i
    if r ~= i + 1 or echo ~= pad then
      bad = bad + 1
      if bad <= 3 then skynet.error("soak: call", i, "answered", r) end
    end
  end
  skynet.send(main, "lua", "done", "caller", done_calls * 2, 0, bad)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd)
    if cmd == "go" then
      skynet.fork(run)
    elseif cmd == "stat" then
      skynet.ret(skynet.pack(done_calls * 2, inflight ~= 0 and 1 or 0, collectgarbage("count")))
    end
  end)
end)
