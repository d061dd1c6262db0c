"""skynet's warnings: "May overload" when a mailbox passes 1024 (then twice
that, ...), the endless-loop warning with skynet.stat "endless" and "time",
and the memory limit message."""

from __future__ import annotations

import re

import pytest

from apinode import api_node, run_lua
from conftest import Lines

OVERLOAD = re.compile(r"^\[(:[0-9a-f]{8})\] error: May overload, message queue length = (\d+)$")


def overloads(log: Lines) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2))) for line in log if (m := OVERLOAD.match(line))]


async def flood(node, target: int, count: int) -> None:
    code = f"""
      local skynet = require 'skynet'
      for i = 1, {count} do skynet.send({target}, 'lua', 'x') end
    """
    await run_lua(node, code)
    assert await node.call(target, "lua") == 0  # drained


async def test_a_mailbox_past_1024_warns_and_the_threshold_doubles() -> None:
    log = Lines()
    async with api_node(log, thread=1) as node:
        hole = await node.newservice("blackhole")
        await flood(node, hole, 1000)
        assert overloads(log) == []
        await flood(node, hole, 1500)
        assert overloads(log) == [(f":{hole:08x}", 1499)]


async def test_the_threshold_doubles_while_the_mailbox_stays_long() -> None:
    log = Lines()
    # thread = 1: how much mail is queued at each turn depends on the hole
    # not running beside the sender.
    async with api_node(log, thread=1) as node:
        hole = await node.newservice("blackhole")
        code = f"""
          local skynet = require 'skynet'
          for i = 1, 1100 do skynet.send({hole}, 'lua', 'x') end
          skynet.yield() -- the hole takes a turn (64 messages) and more come
          for i = 1, 2000 do skynet.send({hole}, 'lua', 'x') end
          skynet.yield()
          for i = 1, 5000 do skynet.send({hole}, 'lua', 'x') end
        """
        await run_lua(node, code)
        lengths = [n for _, n in overloads(log)]
        assert len(lengths) >= 2 and lengths[0] > 1024
        assert all(b > 2 * 1024 for b in lengths[1:])
        # Drained: the next burst warns from 1024 again.
        assert await node.call(hole, "lua") == 0
        log.clear()
        await flood(node, hole, 1100)
        assert [n for _, n in overloads(log)] == [1099]


async def test_memlimit_says_the_limit() -> None:
    log = Lines()
    async with api_node(log) as node:
        probe = await node.newservice("probe")
        await node.call(probe, "lua", "memlimit", 3 * 1024 * 1024)
    assert log.matching(f":{probe:08x}] Set memory limit to 3.00 M")


@pytest.mark.slow
async def test_a_long_message_is_called_endless_and_stat_time_counts() -> None:
    log = Lines()
    async with api_node(log) as node:
        node.monitor.endless_after = 0.2
        node.monitor.period = 0.05
        code = """
          local skynet = require 'skynet'
          local before = skynet.stat('endless')
          local t, endless = os.clock(), false
          repeat endless = skynet.endless() until endless or os.clock() - t > 10
          return before, skynet.stat('time'), endless, skynet.stat('endless')
        """
        before, spent, endless, again = await run_lua(node, code)
        assert before == 0 and spent >= 0.2 and endless is True and again == 0
    warnings = log.matching("maybe in an endless loop")
    assert warnings and re.search(
        r"\[:00000000\] error: A message from \[ :[0-9a-f]{8} \] to \[ :[0-9a-f]{8} \] "
        r"maybe in an endless loop \(version = \d+\)$",
        warnings[0],
    )
