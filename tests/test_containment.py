"""Containment: no Lua code, however hostile, crashes the node, reaches the host, or hangs a caller.

Hostile services live in tests/services/containment. The attacks that would
crash the process if they got through run in a real ``skylet run`` process
and the test checks its exit status; the rest run in a node in this process.
Each runs at thread = 1 and thread = 2, on the native scheduler (the C send
and dispatchers) and on the pure-Python one.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet
from conftest import SERVICES, Lines
from skylet import CallError, ServiceNotFound, SkyletError
from skylet._lua._sandbox import sandbox_library

HOSTILE = SERVICES / "containment"
#: The seal under test: the C sandbox (where it is built) and the Lua one.
SANDBOXES = [
    pytest.param(
        "c",
        marks=pytest.mark.skipif(
            sandbox_library()[0] is None, reason=f"C sandbox unavailable: {sandbox_library()[1]}"
        ),
    ),
    "lua",
]
REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.parametrize("threads", [1, 2], ids=["thread1", "thread2"]),
    pytest.mark.parametrize("scheduler", ["native", "python"]),
]


@pytest.fixture
def sandbox() -> str:
    """Config ``sandbox``: tests that check the seal itself run under both."""
    return "auto"


@pytest.fixture
async def hostile(
    threads: int, scheduler: str, sandbox: str, log: Lines, printed: Lines
) -> AsyncIterator[skylet.Node]:
    config = {
        "scheduler": scheduler,
        "luaservice": f"{HOSTILE}/?.lua;{SERVICES / 'core'}/?.lua",
        "lua_path": f"{HOSTILE}/?.lua",
        "thread": threads,
        "runaway_timeout": 0.3,
        "sandbox": sandbox,
    }
    async with skylet.open_node(config, log=log.append, stdout=printed.append) as node:
        yield node


def run_process(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skylet", "run", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_crash_attacks_are_refused_and_the_process_survives(
    threads: int, scheduler: str, sandbox: str, tmp_path: Path
) -> None:
    """Forged bytecode through every route to a loader, and foreign metatables on userdata.

    Under the C sandbox (``_lsandbox.c``) and its Lua fallback alike."""
    config = tmp_path / "attacks.lua"
    config.write_text(
        f'start = "attacks"\nthread = {threads}\nscheduler = "{scheduler}"\n'
        f'sandbox = "{sandbox}"\n'
        f'luaservice = "{HOSTILE}/?.lua"\nlua_path = "{HOSTILE}/?.lua"\n'
    )
    result = run_process(config)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    attacks = [line for line in result.stdout.splitlines() if line.startswith("ATTACK ")]
    assert len(attacks) >= 40, result.stdout
    succeeded = [line for line in attacks if " refused" not in line]
    assert succeeded == []
    assert "CHECK launcher answers\ttrue" in result.stdout
    assert "CHECK service manager answers\ttrue" in result.stdout
    assert result.stdout.rstrip().endswith("ATTACKS DONE")


def test_finalizers_calling_the_node_as_vms_close_do_not_crash(
    threads: int, scheduler: str, tmp_path: Path
) -> None:
    """A Lua __gc that calls send/command while its VM closes (killed, or the node stopping)."""
    config = tmp_path / "finalizers.lua"
    config.write_text(
        f'start = "finalizer_main"\nthread = {threads}\nscheduler = "{scheduler}"\n'
        f'luaservice = "{HOSTILE}/?.lua"\n'
    )
    result = run_process(config)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "FINALIZERS ARMED" in result.stdout


def test_a_full_vm_that_the_node_writes_into_does_not_take_the_process_down(
    threads: int, scheduler: str, tmp_path: Path
) -> None:
    """Payloads and command results written into a VM at its memory limit."""
    config = tmp_path / "oom.lua"
    config.write_text(
        f'start = "oom_main"\nthread = {threads}\nscheduler = "{scheduler}"\n'
        f'luaservice = "{HOSTILE}/?.lua"\n'
        f'service_memlimit = {2 << 20}\nlong_value = "{"v" * 4000}"\n'
    )
    result = run_process(config)  # a deadlock would hit the timeout
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "FILLED\ttrue" in result.stdout
    assert "PAYLOADS DELIVERED" in result.stdout
    assert "ASKED\t" in result.stdout
    assert "NODE ALIVE\tyes" in result.stdout


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_nothing_reachable_gives_a_loader_a_host_metatable_or_a_python_object(
    hostile: skylet.Node, scheduler: str
) -> None:
    audited = await hostile.newservice("audited")
    report = await hostile.call(audited, "lua", "walk")
    # The walk is real: it saw the library, skynet.lua's internals and coroutines.
    assert report["functions"] > 300 and report["tables"] > 50 and report["threads"] >= 2
    # The only C functions reachable are the standard library's (by their names):
    # no binary loader, no lupa internals.
    assert report["unknown_c_functions"] in ([], {})  # an empty Lua table packs as a map
    # No userdata hands out its metatable.
    assert report["exposed_metatables"] in ([], {})
    # The only Python object in reach is this service's own send (its command
    # hides behind the boot chunk's sealed wrapper), and on the native
    # scheduler not even that (its send is C, the Python one in the registry);
    # the rest are io's files and math.random's state (a userdata without a
    # metatable).
    entry = [] if scheduler == "native" else ["core.send"]
    assert sorted(report["userdata_kinds"]) == [*entry, "file", "plain"]


@pytest.mark.parametrize("kind", ["table", "function", "boolean", "thread", "entry point", "file"])
async def test_a_payload_that_is_not_data_is_refused_in_the_sender(
    hostile: skylet.Node, kind: str
) -> None:
    sender = await hostile.newservice("hostile")
    receiver = await hostile.newservice("probe")
    errors = await hostile.call(sender, "lua", "send_kind", receiver, kind)
    assert len(errors) == 6
    for line in errors:
        assert "payload must be a string, a number or nil" in line, line
        assert "SENT" not in line
    # Nothing reached the receiver, and both go on.
    assert await hostile.call(receiver, "lua", "received") == {}
    assert await hostile.call(sender, "lua", "echo", "alive") == "alive"


@pytest.mark.parametrize(
    "command", ["ret_table", "ret_function", "ret_table_caught", "response_table"]
)
async def test_forgotten_pack_answers_every_caller(hostile: skylet.Node, command: str) -> None:
    service = await hostile.newservice("hostile")
    # A Python caller gets CallError, not a raw TypeError, and never waits forever.
    with trio.fail_after(5), pytest.raises(CallError):
        await hostile.call(service, "lua", command)
    # A Lua caller gets an error it can catch.
    probe = await hostile.newservice("probe")
    with trio.fail_after(5):
        ok, err = await hostile.call(probe, "lua", "pcall", service, command)
    assert ok is False and err
    assert await hostile.call(service, "lua", "echo", 7) == 7


async def test_rawcall_with_a_table_raises_in_the_caller(hostile: skylet.Node) -> None:
    service = await hostile.newservice("hostile")
    other = await hostile.newservice("probe")
    with trio.fail_after(5):
        ok, err = await hostile.call(service, "lua", "rawcall_table", other)
    assert ok is False
    assert "payload must be a string, a number or nil, not a table" in err


async def test_bogus_core_commands_answer_error_strings(hostile: skylet.Node, log: Lines) -> None:
    service = await hostile.newservice("hostile")
    results = await hostile.call(service, "lua", "bogus_commands")
    assert len(results) == 21
    for line in results:
        assert line.startswith("string "), line  # an error, and a string (never a Python object)
    joined = "\n".join(results)
    assert "unknown core command 'NO_SUCH'" in joined
    assert "CALLBACK needs the service's dispatch function" in joined
    assert "argument #1 is a table" in joined
    assert "no function under token" in joined
    assert "message type 999 is not in 0..255" in joined
    # The service and the node go on.
    assert await hostile.call(service, "lua", "echo", 1) == 1
    assert await hostile.newservice("probe") > 0


@pytest.mark.parametrize("how", ["error", "unknown command"])
async def test_an_error_escaping_dispatch_answers_the_request(
    hostile: skylet.Node, log: Lines, how: str
) -> None:
    service = await hostile.newservice("hostile")
    assert await hostile.call(service, "lua", "break_dispatch", how) is True
    for _ in range(10):  # enough for thread = 2 to hand it to a worker
        with trio.fail_after(5), pytest.raises(CallError):
            await hostile.call(service, "lua", "echo", 1)
    assert log.matching("dispatch failed")
    probe = await hostile.newservice("probe")
    assert await hostile.call(probe, "lua", "echo", "fine") == "fine"


@pytest.mark.parametrize("target", [1, ".launcher", ".service"])
async def test_the_host_and_the_system_services_cannot_be_killed(
    hostile: skylet.Node, target: Any
) -> None:
    service = await hostile.newservice("hostile")
    with pytest.raises(CallError, match="essential to the node and cannot be killed"):
        await hostile.call(service, "lua", "kill", target)
    # A debug EXIT asks the launcher to exit: refused just the same.
    await hostile.call(service, "lua", "debug_exit", ".launcher")
    with pytest.raises(SkyletError, match="essential"):
        hostile.kill(target)
    # Everything still works: Python calls, launching, unique services.
    assert await hostile.call(service, "lua", "echo", "x") == "x"
    probe = await hostile.newservice("probe")
    assert await hostile.call(probe, "lua", "echo", 2) == 2
    launched = await hostile.call(".launcher", "lua", "LIST")
    assert f":{probe:08x}" in launched


async def test_memlimit_is_a_ceiling(hostile: skylet.Node, threads: int) -> None:
    service = await hostile.newservice("hostile")
    for bytes_ in (0, -1, 3 << 30, 1 << 40):
        with pytest.raises(CallError, match="can only lower the memory limit"):
            await hostile.call(service, "lua", "memlimit", bytes_)
    # Lowering works, and holds.
    assert await hostile.call(service, "lua", "memlimit", 8 << 20) is True
    with pytest.raises(CallError, match="can only lower"):
        await hostile.call(service, "lua", "memlimit", 16 << 20)
    with pytest.raises(CallError, match="not enough memory"):
        await hostile.call(service, "lua", "allocate", 16)
    assert await hostile.call(service, "lua", "echo", 3) == 3


@pytest.mark.parametrize("which", ["swallow", "swallow_nested"])
@pytest.mark.parametrize("check", ["c", "lua"])
async def test_a_runaway_that_swallows_its_interrupts_is_killed(
    threads: int, scheduler: str, log: Lines, which: str, check: str
) -> None:
    config = {
        "scheduler": scheduler,
        "luaservice": f"{HOSTILE}/?.lua;{SERVICES / 'core'}/?.lua",
        "lua_path": f"{HOSTILE}/?.lua",
        "thread": threads,
        "runaway_timeout": 0.3,
        "runaway_check": check,
    }
    async with skylet.open_node(config, log=log.append) as node:
        service = await node.newservice("hostile")
        other = await node.newservice("probe")
        # Real time: the monitor is a thread watching the clock. Interrupted
        # at 0.3 s, again at each look (~0.1 s), killed after three.
        with trio.fail_after(20), pytest.raises(CallError, match="killed"):
            await node.call(service, "lua", which)
        assert log.matching("interrupted again")
        assert log.matching("killed: its message went on after 3 interrupts")
        with pytest.raises(ServiceNotFound):
            await node.call(service, "lua", "echo", 1)
        assert await node.call(other, "lua", "echo", "still") == "still"
        # The launcher forgot it too.
        assert f":{service:08x}" not in await node.call(".launcher", "lua", "LIST")


@pytest.mark.parametrize("which", ["start_bomb", "start_bomb_local"])
async def test_a_start_that_runs_out_of_memory_fails_newservice(
    hostile: skylet.Node, which: str
) -> None:
    for _ in range(3):
        with trio.fail_after(10), pytest.raises(CallError):
            await hostile.newservice(which)
    # The launcher answers as the failed service goes (on another thread at
    # thread = 2): it is gone soon after, never left behind.
    with trio.fail_after(10):
        while any(s.name == which for s in hostile.registry.services.values()):
            await trio.sleep(0.01)
    probe = await hostile.newservice("probe")
    assert await hostile.call(probe, "lua", "echo", "alive") == "alive"


async def test_function_tokens_are_unguessable(hostile: skylet.Node) -> None:
    service = await hostile.newservice("hostile")
    a, b, next_loads, previous_loads = await hostile.call(service, "lua", "tokens")
    assert a != b and abs(a - b) > 1
    assert max(a, b) > 1 << 32
    assert next_loads is False and previous_loads is False


async def test_errors_escaping_dispatch_on_worker_threads_leave_the_scheduler_whole(
    threads: int, scheduler: str, log: Lines
) -> None:
    if threads == 1:
        pytest.skip("worker threads only")
    config = {"luaservice": f"{HOSTILE}/?.lua", "thread": 3, "scheduler": scheduler}
    async with skylet.open_node(config, log=log.append) as node:
        broken = [await node.newservice("hostile") for _ in range(3)]
        for service in broken:
            assert await node.call(service, "lua", "break_dispatch", "heavy") is True
        failures = 0

        async def hammer(service: int) -> None:
            nonlocal failures
            for _ in range(15):
                with pytest.raises(CallError, match="dispatch broken on purpose"):
                    await node.call(service, "lua", "echo", 1)
                failures += 1

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for service in broken:
                    nursery.start_soon(hammer, service)
        assert failures == 45  # every request answered
        dispatchers = node.scheduler.dispatchers
        # Workers really ran the failing dispatches, and all parked again.
        assert any(d.version > 0 for d in dispatchers[1:])
        # (Real threads: poll, bounded, until every dispatcher is idle.)
        with trio.fail_after(5):
            if scheduler == "python":
                threaded = node.scheduler
                while threaded.parallel or len(threaded._parked) != 2:  # type: ignore[union-attr]
                    await trio.sleep(0.01)
            else:
                while any(d.current is not None for d in dispatchers):
                    await trio.sleep(0.01)
        fresh = await node.newservice("hostile")
        assert await node.call(fresh, "lua", "echo", "ok") == "ok"
