"""skynet.coroutine and skynet.profile: coroutines that may wait inside a service."""

from __future__ import annotations

import skylet

NESTED_WAITS = """
  local skynet = require 'skynet'
  local coroutine = require 'skynet.coroutine'
  local seen = {}
  local gen = coroutine.wrap(function(n)
    for i = 1, n do
      skynet.sleep(10)             -- skynet's yield travels up, not to us
      coroutine.yield(i * 10)
    end
    return 'done'
  end)
  local t0 = skynet.now()
  seen[#seen + 1] = gen(3)
  seen[#seen + 1] = gen()
  seen[#seen + 1] = gen()
  seen[#seen + 1] = gen()
  return table.concat(seen, ','), skynet.now() - t0
"""


async def test_a_wrapped_coroutine_can_sleep_and_yield(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    seen, elapsed = await node.call(probe, "lua", "eval", NESTED_WAITS)
    assert seen == "10,20,30,done"
    assert elapsed == 30


STATUS_AND_THREAD = """
  local skynet = require 'skynet'
  local coroutine = require 'skynet.coroutine'
  local me = coroutine.running()
  local out = {}
  local root, is_root = coroutine.thread()
  out[#out + 1] = tostring(root == me) .. '/' .. tostring(is_root)
  local ok, err = coroutine.resume(me)
  out[#out + 1] = tostring(ok) .. ':' .. err
  local co
  co = coroutine.create(function()
    local r, flag = coroutine.thread(co)
    out[#out + 1] = tostring(r == me) .. '/' .. tostring(flag)
    skynet.sleep(5)
    coroutine.yield('mine')
  end)
  skynet.fork(function()
    out[#out + 1] = 'fork sees ' .. coroutine.status(co)
    out[#out + 1] = select(2, coroutine.resume(co))
  end)
  local yielded = select(2, coroutine.resume(co))
  out[#out + 1] = yielded
  out[#out + 1] = coroutine.status(co)
  out[#out + 1] = tostring(coroutine.close(coroutine.create(print)))
  return table.concat(out, ' | ')
"""


async def test_status_thread_and_who_may_resume(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", STATUS_AND_THREAD)
    assert got.split(" | ") == [
        "true/true",
        "false:cannot resume none skynet coroutine",
        "true/false",
        "fork sees blocked",
        "cannot resume a skynet coroutine suspend by skynet framework",
        "mine",
        "suspended",
        "true",
    ]


ANSWER_FROM_NESTED = """
  local skynet = require 'skynet'
  local coroutine = require 'skynet.coroutine'
  skynet.dispatch('lua', function(_, _, cmd, x)
    if cmd ~= 'nested' then return end
    coroutine.wrap(function()
      skynet.sleep(1)
      skynet.ret(skynet.pack(x + 1))   -- answers the request of the skynet thread
    end)()
  end)
  return true
"""


async def test_ret_inside_a_nested_coroutine_answers_the_request(
    node: skylet.Node, autojump_clock
) -> None:
    probe = await node.newservice("probe")
    assert await node.call(probe, "lua", "eval", ANSWER_FROM_NESTED) is True
    assert await node.call(probe, "lua", "nested", 41) == 42


PROFILE = """
  local skynet = require 'skynet'
  local profile = require 'skynet.profile'
  profile.start()
  local x = 0
  for i = 1, 200000 do x = x + i end
  local busy = os.clock()
  skynet.sleep(50)  -- suspended: not counted
  local t = profile.stop()
  local errs = {}
  errs[1] = select(2, pcall(profile.stop))
  profile.start()
  errs[2] = select(2, pcall(profile.start))
  profile.stop()
  return t, errs[1], errs[2]
"""


async def test_profile_counts_only_time_running(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    t, stop_first, twice = await node.call(probe, "lua", "eval", PROFILE)
    assert 0 < t < 0.4  # the 0.5 s sleep is not in it
    assert "Call profile.start() before profile.stop()" in stop_first
    assert "start profile more than once" in twice
