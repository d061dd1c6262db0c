"""Python services beside Lua services (config ``pyservice``): issue 15's contract."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

import skylet
from conftest import SERVICES, THREADS, Lines, NodeFactory
from console_support import connect, console_port, run_cli
from skylet import CallError

PY = SERVICES / "pyservice"
PY_CONFIG = {"luaservice": f"{PY}/?.lua;{SERVICES / 'core'}/?.lua", "pyservice": f"{PY}/?.py"}


@pytest.fixture
async def node(node_with: NodeFactory) -> AsyncIterator[skylet.Node]:
    async with node_with(**PY_CONFIG) as running:
        yield running


async def lua_caller(node: skylet.Node) -> int:
    return await node.newservice("caller")


@pytest.mark.parametrize("value", ["./service/kv.py", 5, True])
def test_pyservice_must_be_a_search_path(value: object) -> None:
    with pytest.raises(skylet.ConfigError, match="config key 'pyservice' must be a string of"):
        skylet.Node({"pyservice": value})


async def test_lua_newservice_launches_a_python_service_and_calls_its_methods(
    node: skylet.Node, log: Lines
) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv", "pre", "x")
    assert log.matching("kv started with pre x")  # init got the words, as strings
    assert await node.call(caller, "lua", "call", kv, "set", "k", 5) is None
    assert await node.call(caller, "lua", "call", kv, "get", "k") == 5
    assert await node.call(kv, "lua", "whoami") == (kv, "kv", "pre")
    assert await node.call(caller, "lua", "call", kv, "plain", 21) == 42  # a plain def works too


async def test_return_values_reach_lua_as_from_a_lua_service(node: skylet.Node) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv")
    assert await node.call(caller, "lua", "count", kv, "nothing") == 0  # None: no values
    assert await node.call(caller, "lua", "count", kv, "get", "missing") == 0
    assert await node.call(caller, "lua", "rettypes", kv, "several") == "integer,float,string"
    assert await node.call(caller, "lua", "count", kv, "echo", [1, 2]) == 1  # a list is one
    # Nested tables and binary strings, both ways.
    assert await node.call(caller, "lua", "nested", kv) == (1, 3, True)
    assert await node.call(caller, "lua", "call", kv, "types", 1, 2.5, "s", b"\xff") == (
        "int,float,str,bytes"
    )
    assert await node.call(caller, "lua", "rettypes", kv, "echo", 3, 3.0, b"\xff\x00") == (
        "integer,float,string"
    )


async def test_init_private_and_base_methods_are_not_commands(node: skylet.Node) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv")
    for name in ("init", "_private", "exit", "call", "nonsense"):
        ok, err = await node.call(caller, "lua", "pcall", kv, name)
        assert ok is False
        assert f"kv has no command '{name}'" in err
    assert await node.call(caller, "lua", "call", kv, "get", "k") is None  # still serving


async def test_command_error_reaches_lua_caller_is_logged_and_service_goes_on(
    node: skylet.Node, log: Lines
) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv")
    ok, err = await node.call(caller, "lua", "pcall", kv, "raise_", "boom")
    assert ok is False
    assert re.search(rf"call to :{kv:08x} failed: .*kv\.py:\d+: ValueError: boom$", err), err
    traceback = log.matching("Traceback (most recent call last)")
    assert traceback and "raise ValueError(message)" in traceback[0]
    assert "_pyservice" not in traceback[0]  # the service's frames, not skylet's
    with pytest.raises(CallError, match="ValueError: boom"):
        await node.call(kv, "lua", "raise_", "boom")
    ok, err = await node.call(caller, "lua", "pcall", kv, "unanswerable")
    assert ok is False and "kv.unanswerable returned {1, 2}, which Lua cannot take" in err
    assert await node.call(caller, "lua", "call", kv, "echo", "alive") == "alive"


async def test_send_runs_the_command_and_drops_the_result(node: skylet.Node) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv")
    assert await node.call(caller, "lua", "send", kv, "set", "k", "sent") is True
    assert await node.call(caller, "lua", "send", kv, "several") is True
    assert await node.call(caller, "lua", "call", kv, "get", "k") == "sent"


async def test_requests_start_in_the_order_they_arrived(node: skylet.Node) -> None:
    caller = await lua_caller(node)
    kv = await node.call(caller, "lua", "newservice", "kv")
    # One turn delivers them all; trio may run tasks made ready together in
    # either order, and skynet starts each message's handler in arrival order.
    for _ in range(5):
        await node.call(kv, "lua", "set", "list", [])
        assert await node.call(caller, "lua", "sendmany", kv, 50, "append") is True
        assert await node.call(kv, "lua", "get", "list") == list(range(1, 51))


async def test_python_service_calls_and_launches_lua_and_python_services(
    node: skylet.Node,
) -> None:
    caller = await lua_caller(node)
    kv = await node.newservice("kv")
    assert await node.call(kv, "lua", "ask", caller, "echo", 1, 2.0, "s") == (1, 2.0, "s")
    other = await node.call(kv, "lua", "launch", "kv", "second")
    assert await node.call(kv, "lua", "ask", other, "whoami") == (other, "kv", "second")
    lua = await node.call(kv, "lua", "launch", "caller")
    assert await node.call(kv, "lua", "ask", lua, "echo", "hi") == "hi"
    # A Lua error in the callee is a CallError in the Python service, and back to Lua.
    ok, err = await node.call(caller, "lua", "pcall", kv, "ask", lua, "nonsense")
    assert ok is False and "caller: unknown command" in err and "CallError" in err
    ok, err = await node.call(caller, "lua", "pcall", kv, "ask", ".nobody", "echo")
    assert ok is False and "ServiceNotFound" in err
    assert await node.call(kv, "lua", "tell", caller, "echo", "dropped") is None


async def test_uniqueservice_launches_a_python_service_once(node: skylet.Node, log: Lines) -> None:
    caller = await lua_caller(node)
    first = await node.call(caller, "lua", "uniqueservice", "kv")
    second = await node.call(caller, "lua", "uniqueservice", "kv")
    assert first == second
    assert len(log.matching("kv started")) == 1


async def test_a_lua_file_wins_over_a_python_file_of_the_same_name(node: skylet.Node) -> None:
    caller = await lua_caller(node)
    shadowed = await node.call(caller, "lua", "newservice", "shadowed")
    assert await node.call(caller, "lua", "call", shadowed, "which") == "lua"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("badinit", r"badinit\.py:\d+: RuntimeError: init failed on purpose"),
        ("broken", r"broken\.py:4: SyntaxError"),
        ("noclass", r"noclass\.py must define exactly one subclass of skylet\.Service \(found no"),
        ("twoclasses", r"exactly one subclass of skylet\.Service \(found One, Two\)"),
    ],
)
async def test_python_service_that_fails_to_start_fails_newservice_and_leaves_nothing(
    node: skylet.Node, name: str, expected: str
) -> None:
    caller = await lua_caller(node)
    before = set(node.registry.services)
    listed = dict(await node.call(".launcher", "lua", "LIST"))
    ok, err = await node.call(caller, "lua", "pcall", ".launcher", "LAUNCH", "snlua", name)
    assert ok is False
    assert re.search(expected, err), err
    with pytest.raises(CallError, match=expected):
        await node.newservice(name)
    # Nothing of the failed launches is left (the bootstrap may still be
    # leaving meanwhile, on a dispatcher thread at thread = N).
    assert not set(node.registry.services) - before
    assert ".badinit" not in node.registry.names
    assert dict(await node.call(".launcher", "lua", "LIST")) == listed


async def test_requests_wait_until_init_returned(node: skylet.Node, autojump_clock: object) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(node.newservice, "slowinit")
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        # Registered by init, which now sleeps 10 s: the request waits for it.
        assert await node.call(".slowinit", "lua", "state") == "after init"
        assert trio.current_time() - start == pytest.approx(10)


async def test_killed_during_init_stops_init_and_fails_newservice(
    node: skylet.Node, log: Lines, autojump_clock: object
) -> None:
    caller = await lua_caller(node)
    result: list[object] = []

    async def launch() -> None:
        launch = (".launcher", "LAUNCH", "snlua", "slowinit")
        result.append(await node.call(caller, "lua", "pcall", *launch))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(launch)
        await trio.testing.wait_all_tasks_blocked()
        assert await node.call(caller, "lua", "kill", ".slowinit") is True
    [(ok, err)] = result
    assert ok is False and re.search(r"service :\w+ was killed before it started", err), err
    await trio.sleep(20)
    assert not log.matching("init finished")


async def test_each_request_runs_in_its_own_task_on_the_virtual_clock(
    node: skylet.Node, autojump_clock: object
) -> None:
    sleeper = await node.newservice("sleeper")
    start = trio.current_time()
    woke: list[float] = []

    async def nap(seconds: float) -> None:
        woke.append(await node.call(sleeper, "lua", "nap", seconds) - start)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(nap, 3600)
        nursery.start_soon(nap, 1)
    # Concurrent, not one after the other; an hour passes in no real time.
    assert woke == [pytest.approx(1), pytest.approx(3600)]


async def test_killed_python_service_answers_queued_and_in_flight_requests_and_stops_its_tasks(
    node: skylet.Node, log: Lines, autojump_clock: object
) -> None:
    caller = await lua_caller(node)
    sleeper = await node.newservice("sleeper")
    failures: list[str] = []

    async def nap() -> None:
        try:
            await node.call(sleeper, "lua", "nap", 10)
        except CallError as exc:
            failures.append(str(exc))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(nap)
        await trio.testing.wait_all_tasks_blocked()
        assert await node.call(caller, "lua", "kill", sleeper) is True
    assert len(failures) == 3 and all("killed" in f for f in failures)
    await trio.sleep(20)
    assert not log.matching("woke up")  # its tasks were cancelled
    ok, err = await node.call(caller, "lua", "pcall", sleeper, "nap", 1)
    assert ok is False and "invalid address" in err
    assert f":{sleeper:08x}" not in dict(await node.call(".launcher", "lua", "LIST"))


async def test_python_service_exit_fails_pending_calls_and_retires_it(
    node: skylet.Node, autojump_clock: object
) -> None:
    caller = await lua_caller(node)
    sleeper = await node.newservice("sleeper")
    assert await node.call(caller, "lua", "send", sleeper, "quit_later", 5) is True
    ok, err = await node.call(caller, "lua", "pcall", sleeper, "nap", 100)
    assert ok is False and "exited" in err
    assert sleeper not in node.registry.services
    assert f":{sleeper:08x}" not in dict(await node.call(".launcher", "lua", "LIST"))
    # Exiting inside the request: that request's caller hears about it too.
    kv = await node.newservice("kv")
    with pytest.raises(CallError, match="exited"):
        await node.call(kv, "lua", "quit")


async def test_debug_protocol_and_launcher_list_describe_python_services(
    node: skylet.Node,
) -> None:
    kv = await node.newservice("kv", "a", "b")
    listed = dict(await node.call(".launcher", "lua", "LIST"))
    assert listed[f":{kv:08x}"] == f"python kv a b (module {PY}/kv.py, class KV)"
    assert await node.call(kv, "debug", "PING") is None
    assert await node.call(kv, "debug", "INFO") == {"module": f"{PY}/kv.py", "class": "KV"}
    stat = await node.call(kv, "debug", "STAT")
    assert stat["task"] == 0 and stat["mqlen"] == 0 and stat["message"] >= 2
    with pytest.raises(CallError, match="unknown debug command"):
        await node.call(kv, "debug", "NONSENSE")


@pytest.mark.skipif(bool(THREADS), reason="runs its own thread count")
async def test_python_services_run_on_trios_thread_with_worker_threads(
    node_with: NodeFactory,
) -> None:
    async with node_with(**PY_CONFIG, thread=2) as node:
        caller = await lua_caller(node)
        kv = await node.call(caller, "lua", "newservice", "kv")
        for _ in range(20):
            assert await node.call(caller, "lua", "call", kv, "thread") == "MainThread"


COUNTER = """
import skylet


class Counter(skylet.Service):
    async def init(self):
        self.count = 0

    async def incr(self, by=1):
        self.count += by
        return self.count
"""

SLOTS = "    __slots__ = ('count',)\n\n    async def init"


async def test_inject_reloads_the_module_and_keeps_the_instance_state(
    node_with: NodeFactory, tmp_path: Path
) -> None:
    source = tmp_path / "counter.py"
    source.write_text(COUNTER)
    async with node_with(pyservice=f"{tmp_path}/?.py") as node:
        counter = await node.newservice("counter")
        assert await node.call(counter, "lua", "incr", 5) == 5
        doubled = COUNTER.replace("self.count += by", "self.count += 2 * by")
        doubled += "\n    async def reset(self):\n        self.count = 0\n"
        result = await node.inject(counter, doubled, str(source))
        assert result.ok, result.output
        assert result.output == (
            f"reloaded counter from {source}: class Counter, commands incr, reset; added reset"
        )
        assert await node.call(counter, "lua", "incr", 1) == 7  # state survived
        # A module that fails, or a class that no longer matches, changes nothing.
        for bad, why in [
            ("import nonexistent_module_xyz\n" + COUNTER, "ModuleNotFoundError"),
            (COUNTER.replace("def incr(self, by=1):", "def incr(self by):"), "SyntaxError"),
            (COUNTER.replace("class Counter", "class Renamed"), "class Renamed no longer matches"),
            (COUNTER.replace("    async def init", SLOTS), "no longer matches"),
        ]:
            result = await node.inject(counter, bad, str(source))
            assert not result.ok
            assert why in result.output and "nothing changed" in result.output
            assert await node.call(counter, "lua", "incr", 1) in (9, 11, 13, 15)
        assert await node.call(counter, "lua", "incr", 0) == 15
        # Without source the service's own file is read again.
        result = await node.inject(counter, "", None)
        assert result.ok and "removed reset" in result.output
        assert await node.call(counter, "lua", "incr", 1) == 16


async def test_nodes_do_not_share_python_module_state(
    node_with: NodeFactory, tmp_path: Path
) -> None:
    (tmp_path / "shared.py").write_text(
        "import skylet\n\nSEEN = []\n\n\nclass Shared(skylet.Service):\n"
        "    async def add(self, x):\n        SEEN.append(x)\n        return len(SEEN)\n"
    )
    config = {"pyservice": f"{tmp_path}/?.py"}
    async with node_with(**config) as one, node_with(**config) as two:
        a = await one.newservice("shared")
        a2 = await one.newservice("shared")
        b = await two.newservice("shared")
        assert await one.call(a, "lua", "add", 1) == 1
        assert await one.call(a2, "lua", "add", 2) == 2  # one node: one module
        assert await two.call(b, "lua", "add", 3) == 1  # another node: its own


async def test_debug_console_lists_and_injects_python_services_by_name(
    node_with: NodeFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "counter.py").write_text(COUNTER)
    fix = tmp_path / "fix.py"
    fix.write_text(COUNTER.replace("self.count += by", "self.count += 10 * by"))
    async with node_with(pyservice=f"{tmp_path}/?.py", debug_console=0) as node:
        port = await console_port(node)
        counters = [await node.newservice("counter") for _ in range(2)]
        await node.call(counters[0], "lua", "incr", 1)
        async with connect(port) as console:
            listed = await console.command("list")
            here = f"(module {tmp_path}/counter.py, class Counter)"
            assert f":{counters[0]:08x}\tpython counter {here}" in listed
            stat = await console.command("stat")
            mine = [line for line in stat if line.startswith(f":{counters[1]:08x}\t")]
            assert len(mine) == 1 and "task:0" in mine[0]
            mem = await console.command("mem")
            assert f":{counters[0]:08x}\tpython service (memory is the node's)" in mem
            info = await console.command(f"info :{counters[0]:08x}")
            assert info[:2] == ["class\tCounter", f"module\t{tmp_path}/counter.py"]
        assert await run_cli("inject", f"127.0.0.1:{port}", "counter", str(fix)) == 0
        out = capsys.readouterr().out.splitlines()
        assert [line for line in out if line.startswith("[")] == [
            f"[:{c:08x}] ok" for c in counters
        ]
        assert await node.call(counters[0], "lua", "incr", 1) == 11
        assert await node.call(counters[1], "lua", "incr", 1) == 10
        bad = tmp_path / "bad.py"
        bad.write_text("raise RuntimeError('not today')\n")
        assert await run_cli("inject", f"127.0.0.1:{port}", f":{counters[0]:08x}", str(bad)) == 1
        out = capsys.readouterr().out
        assert "RuntimeError: not today" in out and "nothing changed" in out
        assert await node.call(counters[0], "lua", "incr", 1) == 21
