-- The soak: P caller/callee pairs and S one-way senders to K sinks carry
-- `soak_messages` messages in all (a request and its answer are two, a
-- one-way send one), every answer and sequence number checked. Every
-- `soak_interval` centiseconds it samples the process RSS and the Lua heaps
-- (a "stat" call to each service) and prints a SOAK_SAMPLE line; at the end
-- one SOAK line and the RSS series (SOAK_RSS), then aborts the node.
--
-- lost = requests never answered + sequence gaps at the sinks + one-way
-- messages missing at the end; bad = answers with a wrong value. If no
-- message moves for `soak_stall` seconds the run stops there and reports
-- what is missing (complete=0) instead of hanging.
local skynet = require "skynet"
require "skynet.manager"

local function num(key, default)
  return math.tointeger(tonumber(skynet.getenv(key) or default))
end

local M = num("soak_messages", 10000000)
local P = num("soak_pairs", 8)
local S = num("soak_senders", 4)
local K = num("soak_sinks", 2)
local ONEWAY = num("soak_oneway", 20) -- percent of the messages sent one way
local BATCH = num("soak_batch", 500)
local CALLEE = skynet.getenv("soak_callee") or "soak_callee" -- tests swap in a faulty one
local INTERVAL = num("soak_interval", 100) -- centiseconds between samples
local STALL = num("soak_stall", 10) -- seconds without progress: stop
local STAT_TIMEOUT = num("soak_stat_timeout", 500) -- centiseconds
-- bytes more in each request, answer and one-way message; the native path
-- carries a packed message of up to 40 bytes inside the message itself, so
-- from 40 on every message takes its other (allocated) path
local PAYLOAD = num("soak_payload", 0)

local rss_kb = require("common").rss_kb -- the benchmark workloads' (bench/workloads)

-- Messages a sender carries for n one-way sends: n, plus a sync call (two)
-- after every batch.
local function sender_messages(n)
  return n + 2 * ((n + BATCH - 1) // BATCH)
end

-- Split M exactly: the senders get about ONEWAY percent, the callers the
-- rest, two messages per call.
local function plan()
  local sends = {}
  local used = 0
  if S > 0 then
    local each = (M * ONEWAY // 100 // S) * BATCH // (BATCH + 2)
    for i = 1, S do
      sends[i] = each
      used = used + sender_messages(each)
    end
    if (M - used) % 2 == 1 then -- one more send flips the parity
      used = used - sender_messages(sends[1]) + sender_messages(sends[1] + 1)
      sends[1] = sends[1] + 1
    end
  end
  local calls_total = (M - used) // 2
  local calls = {}
  for i = 1, P do
    calls[i] = calls_total // P + (i <= calls_total % P and 1 or 0)
  end
  return calls, sends
end

-- One "stat" call to each address, all at once; results[i] is nil for an
-- address that did not answer within STAT_TIMEOUT.
local function stat_round(addresses)
  local co = coroutine.running()
  local results, pending, waiting = {}, #addresses, true
  for i, address in ipairs(addresses) do
    skynet.fork(function()
      local r = table.pack(pcall(skynet.call, address, "lua", "stat"))
      if r[1] then
        results[i] = { messages = r[2], inflight = r[3], lua_kb = r[4], gaps = r[5] or 0 }
      else
        skynet.error("soak: stat of", skynet.address(address), "failed:", r[2])
      end
      pending = pending - 1
      if pending == 0 and waiting then skynet.wakeup(co) end
    end)
  end
  if pending > 0 then skynet.sleep(STAT_TIMEOUT) end
  waiting = false
  return results
end

skynet.start(function()
  local finished, nfinished, last_done = {}, 0, nil
  local tick = {} -- the sampler's sleep token; "done" from the last worker breaks it
  local workers = {}
  skynet.dispatch("lua", function(_, source, cmd, _, messages, missing, bad)
    if cmd == "done" and not finished[source] then
      finished[source] = { messages = messages, missing = missing, bad = bad }
      nfinished = nfinished + 1
      last_done = skynet.hpc()
      if nfinished == #workers then skynet.wakeup(tick) end
    end
  end)

  local calls, sends = plan()
  local services = {}
  for i = 1, P do
    local callee = skynet.newservice(CALLEE)
    local caller = skynet.newservice("soak_caller", callee, calls[i], skynet.self(), PAYLOAD)
    services[#services + 1] = callee
    services[#services + 1] = caller
    workers[#workers + 1] = caller
  end
  local sinks = {}
  for i = 1, K do
    sinks[i] = skynet.newservice("soak_sink")
    services[#services + 1] = sinks[i]
  end
  for i = 1, S do
    local sender = skynet.newservice("soak_sender", sinks[(i - 1) % K + 1], sends[i], BATCH,
      skynet.self(), PAYLOAD)
    services[#services + 1] = sender
    workers[#workers + 1] = sender
  end

  local rss_series = {}
  local rss_max = 0
  local state -- the last sample's figures
  local t0
  local function sample()
    local results = stat_round(services)
    local messages, inflight, unanswered, gaps = 0, 0, 0, 0
    local lua_kb = collectgarbage("count")
    for i, address in ipairs(services) do
      local r = results[i]
      if r then
        lua_kb = lua_kb + r.lua_kb
        gaps = gaps + r.gaps
        if finished[address] then
          messages = messages + finished[address].messages
        else
          messages = messages + r.messages
          inflight = inflight + r.inflight
        end
      else
        unanswered = unanswered + 1
        if finished[address] then messages = messages + finished[address].messages end
      end
    end
    local rss = rss_kb()
    if rss > rss_max then rss_max = rss end
    local t = t0 and (skynet.hpc() - t0) / 1e9 or 0
    state = { t = t, messages = messages, inflight = inflight, unanswered = unanswered,
      gaps = gaps, lua_kb = lua_kb, rss = rss }
    rss_series[#rss_series + 1] = rss
    print(string.format("SOAK_SAMPLE t=%.2f messages=%d rss_kb=%d lua_kb=%d unanswered=%d",
      t, messages, rss, math.floor(lua_kb), unanswered))
    return state
  end

  local start = sample()
  t0 = skynet.hpc()
  for _, worker in ipairs(workers) do skynet.send(worker, "lua", "go") end

  local progress, still = -1, 0
  while nfinished < #workers do
    local t_before = skynet.hpc()
    skynet.sleep(INTERVAL, tick)
    if nfinished == #workers then break end
    local s = sample()
    if s.messages == progress then
      still = still + (skynet.hpc() - t_before) / 1e9
      if still >= STALL then
        skynet.error(string.format("soak: no progress for %.1f s, stopping", still))
        break
      end
    else
      progress, still = s.messages, 0
    end
  end
  local secs = ((nfinished == #workers and last_done or skynet.hpc()) - t0) / 1e9
  local final = sample()

  local missing, bad = 0, 0
  for _, f in pairs(finished) do
    missing = missing + f.missing
    bad = bad + f.bad
  end
  -- A stopped run: calls still in flight were never answered.
  local lost = final.inflight + final.unanswered + final.gaps + missing
  local complete = nfinished == #workers and 1 or 0
  print(string.format(
    "SOAK thread=%s scheduler=%s messages=%d secs=%.3f msgs_per_s=%d lost=%d bad=%d complete=%d "
      .. "pairs=%d senders=%d payload=%d rss_kb_start=%d rss_kb_end=%d rss_kb_max=%d "
      .. "lua_kb_start=%d lua_kb_end=%d",
    skynet.getenv("thread") or "1", skynet.getenv("scheduler") or "auto", final.messages, secs,
    math.floor(final.messages / secs), lost, bad, complete, P, S, PAYLOAD, start.rss, final.rss, rss_max,
    math.floor(start.lua_kb), math.floor(final.lua_kb)))
  print("SOAK_RSS " .. table.concat(rss_series, ","))
  skynet.abort()
end)
