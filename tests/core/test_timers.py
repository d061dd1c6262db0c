"""Timers on trio's clock: 1 tick = 10 ms; these run in no real time."""

from __future__ import annotations

import trio

import skylet


async def test_sleep_advances_now_by_its_ticks(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    before = await node.call(probe, "lua", "now")
    after = await node.call(probe, "lua", "sleep", 500)
    assert after - before == 500
    assert trio.current_time() >= 5.0


async def test_timeouts_fire_in_deadline_order(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local order = {}
      for _, t in ipairs({30, 10, 20, 10, 0}) do
        skynet.timeout(t, function() order[#order + 1] = t .. '@' .. skynet.now() end)
      end
      skynet.sleep(50)
      return table.concat(order, ' ')
    """
    start = await node.call(probe, "lua", "now")
    order = await node.call(probe, "lua", "eval", code)
    stamps = [tuple(int(x) for x in item.split("@")) for item in order.split()]
    assert [t for t, _ in stamps] == [0, 10, 10, 20, 30]
    assert all(at - start == t for t, at in stamps)


async def test_wakeup_breaks_a_sleep_and_wait(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local log = {}
      local sleeper = skynet.fork(function()
        log[#log + 1] = 'sleep:' .. tostring(skynet.sleep(1000, 'tok'))
      end)
      local waiter
      skynet.fork(function()
        waiter = coroutine.running()
        skynet.wait()
        log[#log + 1] = 'woken'
      end)
      skynet.sleep(5)
      skynet.wakeup('tok')
      skynet.wakeup(waiter)
      skynet.sleep(5)
      return table.concat(log, ','), skynet.now()
    """
    start = await node.call(probe, "lua", "now")
    log, now = await node.call(probe, "lua", "eval", code)
    assert log == "sleep:BREAK,woken"
    assert now - start == 10


async def test_yield_lets_other_messages_in(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local seen = {}
      skynet.fork(function() seen[#seen + 1] = 'fork' end)
      seen[#seen + 1] = 'before'
      skynet.yield()
      seen[#seen + 1] = 'after'
      return table.concat(seen, ' ')
    """
    assert await node.call(probe, "lua", "eval", code) == "before fork after"


async def test_deferred_response_answers_later(node: skylet.Node, autojump_clock) -> None:
    slow = await node.newservice("slow")
    start = trio.current_time()
    assert await node.call(slow, "lua", "deferred", 300) == "later"
    assert trio.current_time() - start >= 3.0


async def test_time_and_starttime_are_wall_clock_seconds(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      return skynet.starttime(), skynet.time(), skynet.hpc()
    """
    start, now, hpc = await node.call(probe, "lua", "eval", code)
    assert isinstance(start, int) and isinstance(now, float) and isinstance(hpc, int)
    assert start <= now < start + 60
