"""The native message path: Lua-to-Lua messages stay in C (``_lua/_lnative.c``).

The rest of the suite runs on it by default (and again on the Python
scheduler in CI); these tests hold what is its own: that the messages really
bypass Python, that config ``scheduler`` picks the path, and the rules that
the C mailboxes must keep at thread = N.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import trio

import skylet
from conftest import SERVICES
from skylet._core._errors import SkyletError
from skylet._core._native import NativeScheduler, choose_scheduler
from skylet._core._scheduler import Scheduler
from skylet._core._workers import ThreadedScheduler
from skylet._lua._native import native_library, sends

LIBRARY, WHY = native_library()
pytestmark = pytest.mark.skipif(LIBRARY is None, reason=f"no native library: {WHY}")


async def test_calls_between_lua_services_never_pass_through_python(node_with) -> None:
    async with node_with(scheduler="native") as node:
        assert isinstance(node.scheduler, NativeScheduler)
        a, b = await node.newservice("probe"), await node.newservice("probe")
        pinger = node.registry.services[a]
        before = sends(pinger.native)
        assert (
            await node.call(
                a,
                "lua",
                "eval",
                f"""
            local skynet = require 'skynet'
            for i = 1, 500 do assert(skynet.call({b}, 'lua', 'echo', i) == i) end
            return true
        """,
            )
            is True
        )
        queued, passed_on = (x - y for x, y in zip(sends(pinger.native), before, strict=True))
        # 500 requests, all queued by the C send; the one send handed to
        # Python is the answer to the Python host that asked for the script.
        assert queued == 500
        assert passed_on == 1


async def test_sends_the_c_send_does_not_take_reach_python_and_still_work(node_with) -> None:
    async with node_with(scheduler="native") as node:
        probe = await node.newservice("probe", ".named")
        other = await node.newservice("probe")
        # By name, to a number payload, and to the Python host: all passed on.
        assert await node.call(other, "lua", "call", ".named", "echo", "by name") == "by name"
        service = node.registry.services[other]
        passed_on = sends(service.native)[1]
        assert passed_on >= 1
        assert await node.call(probe, "lua", "echo", 7) == 7


@pytest.mark.parametrize("threads", [1, 2, 4])
async def test_a_service_exiting_in_its_own_turn_under_a_flood_answers_everyone(
    node_with, threads: int
) -> None:
    # The VM of a service that retires while a dispatcher runs it closes only
    # after that turn; every request queued or held gets its answer.
    async with node_with(thread=threads, scheduler="native") as node:
        victims = [await node.newservice("probe") for _ in range(4)]
        callers = [await node.newservice("probe") for _ in range(4)]
        outcomes: list[str] = []

        async def flood(caller: int, victim: int) -> None:
            for i in range(50):
                ok, _ = await node.call(caller, "lua", "pcall", victim, "echo", i)
                outcomes.append("ok" if ok else "error")

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for caller, victim in zip(callers, victims, strict=True):
                    nursery.start_soon(flood, caller, victim)
                await trio.sleep(0)
                for victim in victims:
                    node.send(victim, "lua", "exit")
        assert len(outcomes) == 4 * 50  # every call came back, one way or the other
        assert all(victim not in node.registry.services for victim in victims)
        fresh = await node.newservice("probe")
        assert await node.call(fresh, "lua", "echo", "alive") == "alive"


async def test_scheduler_python_keeps_the_pure_python_schedulers(node_with) -> None:
    async with node_with(scheduler="python", thread=1) as node:
        assert isinstance(node.scheduler, Scheduler)
        probe = await node.newservice("probe")
        assert node.registry.services[probe].native == 0
        assert await node.call(probe, "lua", "echo", 1) == 1
    async with node_with(scheduler="python", thread=2) as node:
        assert isinstance(node.scheduler, ThreadedScheduler)


def test_choose_scheduler() -> None:
    logged: list[str] = []
    for setting in (None, "auto", "native"):
        assert choose_scheduler(setting, logged.append) == LIBRARY.encode()  # type: ignore[union-attr]
    assert choose_scheduler("python", logged.append) is None
    assert logged == []
    missing = (None, "not built")
    assert choose_scheduler("auto", logged.append, missing) is None
    assert logged == [
        "scheduler: the native message path is unavailable, Python dispatches (not built)"
    ]
    with pytest.raises(SkyletError, match=r'scheduler = "native" but .* not built'):
        choose_scheduler("native", logged.append, missing)
    with pytest.raises(SkyletError, match="scheduler must be one of auto, native, python"):
        choose_scheduler("c", logged.append)


async def test_a_bad_scheduler_setting_is_one_clear_error() -> None:
    with pytest.raises(SkyletError, match="scheduler must be one of"):
        async with skylet.open_node({"scheduler": "fast"}):
            pass


LATE_CLOSE = """
import gc, sys, trio, skylet
kept = []
async def main():
    services = sys.argv[1]
    config = {"luaservice": services + "/?.lua", "scheduler": "native"}
    async with skylet.open_node(config) as node:
        for _ in range(20):
            handle = await node.newservice("probe")
            kept.append(node.registry.services[handle].runtime)
for _ in range(3):
    trio.run(main)
    # The nodes, their C cores and these VMs are garbage together; the
    # collector finalizes them in any order.
    kept.clear()
    gc.collect()
print("CLEAN")
"""


def test_vms_the_collector_closes_after_their_node_touch_no_freed_memory() -> None:
    # The C node is destroyed with the last service struct a VM holds, not
    # with the Python object: a VM closed later once wrote into freed memory
    # (a test run hung in threading's locks). glibc checks and poisons freed
    # memory here, so a write into it shows.
    env = {**os.environ, "MALLOC_CHECK_": "3", "MALLOC_PERTURB_": "165"}
    result = subprocess.run(
        [sys.executable, "-c", LATE_CLOSE, str(SERVICES / "core")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("CLEAN")
