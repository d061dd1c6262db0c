"""Runaway handlers are interrupted, with the C watchdog and with the Lua count hook.

These run in real time: the Lua code really loops until the monitor thread
interrupts it (``runaway_timeout`` 0.2 s, so each case takes about 0.25 s).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio

import skylet
from conftest import SERVICES, Lines
from skylet import CallError
from skylet._lua._watchdog import watchdog_library

pytestmark = pytest.mark.slow

requires_c = pytest.mark.skipif(
    watchdog_library()[0] is None, reason=f"C watchdog unavailable: {watchdog_library()[1]}"
)
MODES = [pytest.param("c", marks=requires_c), "lua"]

Factory = Callable[..., AbstractAsyncContextManager[skylet.Node]]


@pytest.fixture
def node_in(log: Lines, printed: Lines) -> Factory:
    """``async with node_in(mode, **config)``: a node on tests/services/watchdog."""

    def factory(mode: str, **config: Any) -> AbstractAsyncContextManager[skylet.Node]:
        base: dict[str, Any] = {
            "luaservice": f"{SERVICES / 'watchdog'}/?.lua;{SERVICES / 'core'}/?.lua",
            "lua_path": f"{SERVICES / 'core'}/?.lua",
            "runaway_check": mode,
            "runaway_timeout": 0.2,
        }
        base.update(config)
        return skylet.open_node(base, log=log.append, stdout=printed.append)

    return factory


def interrupted(where: str) -> str:
    """The error a runaway gets: where it was looping, then what happened."""
    return (
        rf"{where}:\d+: service :[0-9a-f]{{8}} interrupted: "
        r"one message ran for more than 0\.2s \(endless loop\?\)"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command", ["loop", "wrap", "create", "nested", "pingpong"])
async def test_runaway_is_interrupted_wherever_it_loops_and_service_goes_on(
    node_in: Factory, log: Lines, mode: str, command: str
) -> None:
    # Under the Lua fallback, coroutine.wrap is Lua code too (boot.lua) and
    # the hook may catch the loop in it.
    where = r"(loopy|skylet/boot)\.lua" if mode == "lua" else r"loopy\.lua"
    async with node_in(mode) as node:
        loopy = await node.newservice("loopy")
        with pytest.raises(CallError, match=interrupted(where)):
            await node.call(loopy, "lua", command)
        assert await node.call(loopy, "lua", "echo", "recovered") == "recovered"
    assert log.matching(f":{loopy:08x} interrupted: one message ran for more than 0.2s")


@pytest.mark.parametrize("mode", MODES)
async def test_runaway_in_dispatch_code_outside_coroutines_is_interrupted(
    node_in: Factory, mode: str
) -> None:
    async with node_in(mode) as node:
        loopy = await node.newservice("loopy")
        # "client" payloads are unpacked by skynet.lua before any coroutine.
        with pytest.raises(CallError, match=interrupted(r"loopy\.lua")):
            await node.call(loopy, "client", "loop")
        assert await node.call(loopy, "client", "fine") == b"fine"


@pytest.mark.parametrize("mode", MODES)
async def test_runaway_at_top_level_fails_the_launch_and_leaves_nothing(
    node_in: Factory, mode: str
) -> None:
    async with node_in(mode) as node:
        before = dict(await node.call(".launcher", "lua", "LIST"))
        handles = set(node.registry.services)
        with pytest.raises(CallError, match=interrupted(r"runs_away_at_top\.lua")):
            await node.newservice("runs_away_at_top")
        assert set(node.registry.services) == handles
        assert ".runaway_top" not in node.registry.names
        assert dict(await node.call(".launcher", "lua", "LIST")) == before
        # The launcher, interrupted nowhere, goes on launching.
        assert await node.call(await node.newservice("loopy"), "lua", "echo", 1) == 1


@requires_c
async def test_no_hook_is_installed_in_normal_operation(node_in: Factory) -> None:
    async with node_in("c") as node:
        loopy = await node.newservice("loopy")
        # at the top of the service file, in a handler, in a wrapped and a created coroutine
        assert await node.call(loopy, "lua", "hooks") == ("nil", "nil", "nil", "nil")


async def test_lua_fallback_hooks_every_coroutine(node_in: Factory) -> None:
    async with node_in("lua") as node:
        loopy = await node.newservice("loopy")
        hooks = await node.call(loopy, "lua", "hooks")
        assert all(hook.startswith("function") for hook in hooks), hooks


@requires_c
async def test_interrupt_reaches_no_vm_once_the_service_is_gone(node_in: Factory) -> None:
    async with node_in("c") as node:
        loopy = await node.newservice("loopy")
        watch = node.registry.services[loopy].watch
        assert watch is not None
        node.kill(loopy)
        gc.collect()  # the VM closes once nothing holds its runtime
        assert watch.interrupt("too late") is False


@requires_c
async def test_many_quick_messages_under_a_hair_trigger_monitor(node_in: Factory) -> None:
    # 50,000 short requests while the monitor looks every 0.5 ms with a
    # 50 ms timeout: resumes race with the monitor's reads all the time.
    async with node_in("c", runaway_timeout=0.05) as node:
        node.monitor.period = 0.0005
        driver = await node.newservice("driver")
        loopy = await node.newservice("loopy")
        ok_count, failures = await node.call(driver, "lua", "drive", loopy, 50_000, "churn", 1)
        # Nothing runs for 50 ms here; a loaded machine may still stall a
        # message that long, and then the one failure must be an interrupt.
        assert ok_count + len(failures) == 50_000
        assert all("interrupted" in failure for failure in failures), failures[:3]
        assert ok_count > 49_000


@pytest.mark.parametrize("setting", ["C", "yes", ""])
async def test_bad_runaway_check_setting_is_a_one_line_error(setting: str) -> None:
    with pytest.raises(skylet.SkyletError, match=re.escape(f"not {setting!r}")):
        skylet.Node({"runaway_check": setting})


@requires_c
async def test_interrupt_left_over_from_a_finished_message_is_answered(
    node_in: Factory,
) -> None:
    # The monitor checks, then acts: its interrupt may arrive just after the
    # message ended, while the service is idle. The next message then takes
    # it, and its caller must get the error rather than wait for ever.
    async with node_in("c") as node:
        loopy = await node.newservice("loopy")
        watch = node.registry.services[loopy].watch
        assert watch is not None and watch.interrupt("left over")
        with trio.fail_after(5), pytest.raises(CallError, match="left over"):
            await node.call(loopy, "lua", "echo", 1)
        assert await node.call(loopy, "lua", "echo", 2) == 2
