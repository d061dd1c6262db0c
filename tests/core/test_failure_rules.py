"""Every failure rule of the architecture guide, one named test each."""

from __future__ import annotations

import re

import pytest
import trio

import skylet
from skylet import CallError, ServiceNotFound


async def test_handler_error_reaches_caller_with_traceback_logged_and_service_survives(
    node: skylet.Node, log: list[str]
) -> None:
    probe = await node.newservice("probe")
    with pytest.raises(CallError, match=r"probe\.lua:.*kaboom"):
        await node.call(probe, "lua", "raise", "kaboom")
    traceback = [line for line in log if "kaboom" in line]
    assert traceback and "stack traceback" in traceback[0]
    assert await node.call(probe, "lua", "echo", 1) == 1


async def test_lua_caller_sees_handler_error_and_both_services_survive(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    ok, err = await node.call(a, "lua", "pcall", b, "raise", "inner")
    assert ok is False
    assert "inner" in err and f":{b:08x}" in err
    assert await node.call(b, "lua", "echo", "still here") == "still here"


async def test_call_to_address_with_no_service_raises(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    ok, err = await node.call(probe, "lua", "pcall", 0x00FFFFF0, "echo", 1)
    assert ok is False
    assert "invalid address" in err
    with pytest.raises(ServiceNotFound):
        await node.call(0x00FFFFF0, "lua", "echo")
    with pytest.raises(ServiceNotFound):
        await node.call(".nobody", "lua", "echo")


async def test_call_pending_when_callee_exits_raises(node: skylet.Node, autojump_clock) -> None:
    slow = await node.newservice("slow")
    probe = await node.newservice("probe")
    # The callee exits in 5 ticks while the probe's call to it (100 ticks) is pending.
    assert await node.call(slow, "lua", "exit_later", 5) is True
    ok, err = await node.call(probe, "lua", "pcall", slow, "wait", 100)
    assert ok is False
    assert "exited" in err


async def test_call_pending_when_callee_is_killed_raises(node: skylet.Node, autojump_clock) -> None:
    slow = await node.newservice("slow")
    probe = await node.newservice("probe")
    async with trio.open_nursery() as nursery:
        result: list[object] = []

        async def caller() -> None:
            result.append(await node.call(probe, "lua", "pcall", slow, "wait", 1000))

        nursery.start_soon(caller)
        await trio.sleep(1)
        node.kill(slow)
    ok, err = result[0]  # type: ignore[misc]
    assert ok is False
    assert "killed" in err


async def test_python_call_pending_when_callee_is_killed_raises(
    node: skylet.Node, autojump_clock
) -> None:
    slow = await node.newservice("slow")
    probe = await node.newservice("probe")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(node.call, probe, "lua", "sleep", 1)

        async def killer() -> None:
            await trio.sleep(0.5)
            await node.call(probe, "lua", "kill", slow)

        nursery.start_soon(killer)
        with pytest.raises(CallError, match="killed"):
            await node.call(slow, "lua", "wait", 1000)


async def test_mail_queued_to_dead_service_is_answered_with_errors(
    node: skylet.Node, autojump_clock
) -> None:
    slow = await node.newservice("slow")
    failures: list[str] = []

    async def caller() -> None:
        try:
            await node.call(slow, "lua", "wait", 10)
        except CallError as exc:
            failures.append(str(exc))

    async with trio.open_nursery() as nursery:
        # Queue several requests, then kill before the service gets to them.
        for _ in range(5):
            nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        node.kill(slow)
    assert len(failures) == 5
    assert all("killed" in f for f in failures)


async def test_request_the_handler_forgot_to_answer_fails_instead_of_hanging(
    node: skylet.Node, log: list[str]
) -> None:
    slow = await node.newservice("slow")
    with pytest.raises(CallError, match="did not answer"):
        await node.call(slow, "lua", "forget")
    assert any("forgot skynet.ret" in line for line in log)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("does_not_exist", "service 'does_not_exist' not found"),
        ("broken_syntax", r"broken_syntax.lua:3:"),
        ("main_raises", r"main_raises.lua:3:"),
        ("start_raises", r"start_raises.lua:5: start failed on purpose"),
        ("no_start", "did not call skynet.start"),
    ],
)
async def test_newservice_that_fails_raises_and_leaves_nothing_registered(
    node: skylet.Node, service: str, expected: str
) -> None:
    before = dict(await node.call(".launcher", "lua", "LIST"))
    handles_before = set(node.registry.services)
    probe = await node.newservice("probe")
    ok, err = await node.call(probe, "lua", "pcall", ".launcher", "LAUNCH", "snlua", service)
    assert ok is False
    assert re.search(expected, err), err
    assert "\n" not in err
    with pytest.raises(CallError, match=expected):
        await node.newservice(service)
    # Nothing half-registered: no new handle but the probe, no name, no launcher entry.
    assert set(node.registry.services) - handles_before == {probe}
    assert ".half_started" not in node.registry.names
    after = dict(await node.call(".launcher", "lua", "LIST"))
    assert set(after) - set(before) == {f":{probe:08x}"}


async def test_runaway_handler_is_interrupted_and_node_goes_on(node_with, log: list[str]) -> None:
    async with node_with(runaway_timeout=0.2) as node:
        looping = await node.newservice("probe")
        other = await node.newservice("probe")
        with pytest.raises(CallError, match="interrupted"):
            await node.call(looping, "lua", "loop")
        assert await node.call(other, "lua", "echo", "alive") == "alive"
        assert await node.call(looping, "lua", "echo", "recovered") == "recovered"
    assert any("endless loop" in line for line in log)


async def test_memory_bomb_fails_with_clear_error_and_node_goes_on(node_with) -> None:
    async with node_with(service_memlimit=32 * 1024 * 1024) as node:
        bomb = await node.newservice("probe")
        other = await node.newservice("probe")
        with pytest.raises(CallError, match="not enough memory"):
            await node.call(bomb, "lua", "bomb")
        assert await node.call(other, "lua", "echo", "alive") == "alive"
        assert await node.call(bomb, "lua", "echo", "recovered") == "recovered"


async def test_memlimit_set_by_the_service_bounds_its_vm(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    assert await node.call(probe, "lua", "memlimit", 8 * 1024 * 1024) is True
    with pytest.raises(CallError, match="not enough memory"):
        await node.call(probe, "lua", "bomb")
    assert await node.call(probe, "lua", "echo", 1) == 1
