"""The debug protocol every service answers: MEM, GC, STAT, INFO, TASK, PING, EXIT."""

from __future__ import annotations

import pytest
import trio

import skylet
from hotfix_support import hotfix_node


async def test_mem_and_gc_report_lua_kilobytes() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        mem = await node.call(counter, "debug", "MEM")
        assert isinstance(mem, float) and 10 < mem < 10_000
        after_gc = await node.call(counter, "debug", "GC")
        assert isinstance(after_gc, float) and 0 < after_gc <= mem * 2


async def test_stat_counts_messages_and_waiting_tasks() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        blocker = await node.newservice("blocker")
        before = await node.call(counter, "debug", "STAT")
        assert set(before) == {"task", "mqlen", "cpu", "message"}
        assert before["task"] == 0 and before["mqlen"] == 0
        for _ in range(3):
            await node.call(counter, "lua", "incr")
        node.send(counter, "lua", "slow", blocker)
        while await node.call(blocker, "lua", "held") == 0:
            await trio.sleep(0)
        after = await node.call(counter, "debug", "STAT")
        assert after["message"] >= before["message"] + 4
        assert after["task"] == 1  # CMD.slow waits in its call
        assert after["cpu"] >= before["cpu"]
        await node.call(blocker, "lua", "release")


async def test_task_shows_where_a_waiting_coroutine_is() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        blocker = await node.newservice("blocker")
        assert await node.call(counter, "debug", "TASK") == {}
        node.send(counter, "lua", "slow", blocker)
        while await node.call(blocker, "lua", "held") == 0:
            await trio.sleep(0)
        tasks = await node.call(counter, "debug", "TASK")
        assert len(tasks) == 1
        (trace,) = tasks.values()
        assert "counter.lua" in trace and "skynet.call" in trace
        await node.call(blocker, "lua", "release")


async def test_info_uses_the_info_function() -> None:
    async with hotfix_node() as node:
        informed = await node.newservice("informed")
        counter = await node.newservice("counter")
        info = await node.call(informed, "debug", "INFO", "players")
        assert info == {"service": "informed", "asked": "players"}
        assert await node.call(counter, "debug", "INFO") is None


async def test_ping_answers_nothing() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        assert await node.call(counter, "debug", "PING") is None


async def test_exit_retires_the_service_and_the_launcher_forgets_it() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        listed = await node.call(".launcher", "lua", "LIST")
        assert f":{counter:08x}" in listed
        with pytest.raises(skylet.CallError, match="exited"):
            await node.call(counter, "debug", "EXIT")
        with pytest.raises(skylet.ServiceNotFound):
            await node.call(counter, "debug", "PING")
        listed = await node.call(".launcher", "lua", "LIST")
        assert f":{counter:08x}" not in listed


async def test_unknown_debug_command_is_an_error_and_the_service_goes_on() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        with pytest.raises(skylet.CallError, match="unknown debug command NOPE"):
            await node.call(counter, "debug", "NOPE")
        assert await node.call(counter, "lua", "incr", 2) == 2
