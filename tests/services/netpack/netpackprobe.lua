-- Feeds socket-message payloads to skynet.netpack and reports what it did:
-- "feed", {payloads...} -> list of { type, ... } per filter call, with the
-- packets popped after each "more" appended as { "pop", fd, msg, sz }.
local skynet = require "skynet"
local netpack = require "skynet.netpack"

local queue

local function feed(payloads)
  local out = {}
  for _, payload in ipairs(payloads) do
    local q, kind, a, b, c = netpack.filter(queue, payload, #payload)
    queue = q
    out[#out + 1] = { kind or "none", a, b, c }
    if kind == "more" then
      for fd, msg, sz in netpack.pop, queue do
        out[#out + 1] = { "pop", fd, msg, sz }
      end
    end
  end
  return out
end

local CMD = {}

-- Both cutters on one buffer: first, count, the queued packets, the rest.
function CMD.cut_both(buf, maxpacket)
  local results = {}
  for _, which in ipairs { "c", "lua" } do
    local first, count, queued, rest = netpack._cut_with(which, buf, maxpacket)
    results[which] = { first = first, count = count, queued = queued, rest = rest }
  end
  return results
end

function CMD.feed(payloads)
  return feed(payloads)
end

function CMD.maxpacket(n)
  queue = netpack.queue(n)
end

function CMD.keep(payloads)
  -- filter without popping, then clear: nothing is left to pop
  for _, payload in ipairs(payloads) do
    queue = netpack.filter(queue, payload)
  end
  local first = { netpack.pop(queue) }
  netpack.clear(queue)
  return first, netpack.pop(queue) == nil
end

function CMD.pack(text)
  local msg, sz = netpack.pack(text)
  return msg, sz, netpack.tostring(msg, sz), netpack.tostring(nil, 0)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
