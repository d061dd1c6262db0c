-- On "go", sends `count` one-way messages ("seq", k[, `payload` bytes]) to
-- `sink`, k = 1..count,
-- and after every `batch` of them calls the sink's "sync", which answers how
-- is the last number it has received from this sender (so the sink's queue
-- stays under `batch`, and the last answer shows a loss at the very end).
-- Sends "done" to `main` with its messages (each send one, each sync two).
local skynet = require "skynet"

local sink, count, batch, main, payload = ...
sink, count, batch, main = tonumber(sink), tonumber(count), tonumber(batch), tonumber(main)
local pad = tonumber(payload) > 0 and string.rep("p", tonumber(payload)) or nil

local messages, missing, inflight = 0, 0, false

local function sync(sent)
  inflight = true
  local got = skynet.call(sink, "lua", "sync")
  inflight = false
  messages = messages + 2
  -- A message lost inside the run shows as a gap at the sink; one lost at
  -- the very end shows only here.
  if sent == count and got ~= sent then
    missing = sent - got
    skynet.error("soak: sink has", got, "of", sent)
  end
end

local function run()
  local sent = 0
  while sent < count do
    for _ = 1, math.min(batch, count - sent) do
      sent = sent + 1
      skynet.send(sink, "lua", "seq", sent, pad)
      messages = messages + 1
    end
    sync(sent)
  end
  skynet.send(main, "lua", "done", "sender", messages, missing, 0)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd)
    if cmd == "go" then
      skynet.fork(run)
    elseif cmd == "stat" then
      skynet.ret(skynet.pack(messages, inflight and 1 or 0, collectgarbage("count")))
    end
  end)
end)
