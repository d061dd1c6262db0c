"""Core commands from many services at once on ``thread = 4`` (the native
dispatchers): what each must keep whole when its handler runs on several
threads. Real time (worker threads), so each test is short and asserts only
what every interleaving must give. The native scheduler's own (its C
dispatchers run Lua off trio's thread; the Python scheduler at ``thread = N``
keeps light services on trio's thread, where a self-flooding service would
make these tests slow rather than racy).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
import trio

from skylet._core import _servicelog
from skylet._lua._native import native_library

LIBRARY, WHY = native_library()
pytestmark = pytest.mark.skipif(LIBRARY is None, reason=f"no native library: {WHY}")


async def _until(done: Callable[[], bool], seconds: float = 1.5) -> bool:
    with trio.move_on_after(seconds):
        while not done():
            await trio.sleep(0.01)
    return done()


async def test_a_service_killed_while_another_thread_runs_it_still_has_its_vm_closed(
    node_with,
) -> None:
    # The kill's thread and the victim's dispatcher race: the dispatcher's
    # end of turn (EV_CLOSE) must find the victim among the VMs to close.
    async with node_with(thread=4, scheduler="native") as node:
        killer = await node.newservice("probe")
        handles = [await node.newservice("spinner") for _ in range(24)]
        victims = [node.registry.services[h] for h in handles]
        for handle in handles:
            node.send(handle, "lua", "spin")
        await trio.sleep(0.05)
        for handle in handles:
            assert await node.call(killer, "lua", "kill", handle) is True
        assert await _until(lambda: all(v.runtime is None for v in victims))
        assert all(v.native == 0 for v in victims)  # their C mailboxes let go
        assert node._closing == {}
        assert await node.call(killer, "lua", "echo", "alive") == "alive"


async def test_logon_and_logoff_from_several_threads_pair_up_on_a_busy_service(
    node_with, tmp_path, log
) -> None:
    async with node_with(thread=4, scheduler="native", logpath=str(tmp_path)) as node:
        targets = [await node.newservice("spinner") for _ in range(2)]
        for target in targets:
            node.send(target, "lua", "spin")
        togglers = [await node.newservice("probe") for _ in range(4)]
        toggle = f"""
            local command = require "skylet.core".command
            for i = 1, 100 do
              for _, t in ipairs({{{", ".join(map(str, targets))}}}) do
                command("LOGON", t)
                command("LOGOFF", t)
              end
            end
            return true
        """
        results: list[object] = []

        async def run(toggler: int) -> None:
            results.append(await node.call(toggler, "lua", "eval", toggle))

        async with trio.open_nursery() as nursery:
            for toggler in togglers:
                nursery.start_soon(run, toggler)
        assert results == [True] * len(togglers)
        # The last LOGON may have come after the last LOGOFF: end it.
        for target in targets:
            _servicelog.logoff(node.registry.services[target])
        for target in targets:
            text = (tmp_path / f"{target:08x}.log").read_text()
            assert text.count("open time") == text.count("close time") > 0
            assert "close time" in text.splitlines()[-1]
        assert log.matching("failed") == []


async def test_calls_and_querynames_racing_the_registration_of_a_global_name_all_arrive(
    node_with,
) -> None:
    # A send to (or a harbor.queryname of) a global name is held until the
    # name is registered: one that looks while another thread registers
    # must be either delivered or held and delivered, never dropped.
    async with node_with(thread=4, scheduler="native") as node:
        names = [f"G{i}" for i in range(16)]
        targets = [await node.newservice("probe") for _ in names]
        callers = [await node.newservice("probe") for _ in range(4)]
        results: list[object] = []

        async def call(caller: int) -> None:
            code = f"""
                local skynet = require "skynet"
                local harbor = require "skynet.harbor"
                local names = {{{", ".join(f'"{n}"' for n in names)}}}
                local got, left = 0, 2 * #names
                local me = coroutine.running()
                for _, name in ipairs(names) do
                  skynet.fork(function()
                    if skynet.call(name, "lua", "echo", name) == name then got = got + 1 end
                    left = left - 1
                    if left == 0 then skynet.wakeup(me) end
                  end)
                  skynet.fork(function()
                    if harbor.queryname(name) then got = got + 1 end
                    left = left - 1
                    if left == 0 then skynet.wakeup(me) end
                  end)
                end
                skynet.wait(me)
                return got
            """
            results.append(await node.call(caller, "lua", "eval", code))

        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads interleave at (nearly) every bytecode
        try:
            with trio.fail_after(1.5):
                async with trio.open_nursery() as nursery:
                    for caller in callers:
                        nursery.start_soon(call, caller)
                    for target, name in zip(targets, names, strict=True):
                        nursery.start_soon(node.call, target, "lua", "register", name)
        finally:
            sys.setswitchinterval(switch)
        assert results == [2 * len(names)] * len(callers)
