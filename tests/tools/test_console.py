"""The debug console end to end: real TCP on 127.0.0.1, the skylet CLI as a client."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

import skylet
from console_support import connect, console_port, run_cli
from hotfix_support import SERVICES, hotfix_node
from skylet._tools import _console_client

FIXES = SERVICES / "fixes"


@asynccontextmanager
async def console_node(**config: object) -> AsyncIterator[tuple[skylet.Node, int]]:
    async with hotfix_node(debug_console=0, **config) as node:
        yield node, await console_port(node)


async def test_console_over_tcp_lists_injects_and_frames_answers() -> None:
    async with console_node() as (node, port), connect(port) as console:
        counters = [await node.newservice("counter") for _ in range(2)]
        await node.call(counters[0], "lua", "incr", 4)
        listed = await console.command("list")
        assert listed[-1] == "<CMD OK>"
        assert f":{counters[0]:08x}\tsnlua counter" in listed
        assert any(line.endswith("\tsnlua debug_console") for line in listed)
        answer = await console.command(f"inject :{counters[0]:08x} {FIXES / 'double.lua'}")
        assert answer == [
            "hotfix applied: 1 function(s) replaced",
            "  _P.lua.CMD.incr: bound bump",
            "<CMD OK>",
        ]
        assert await node.call(counters[0], "lua", "incr") == 6
        answer = await console.command(f"inject counter {FIXES / 'double.lua'}")
        assert answer[-1] == "<CMD OK>"
        assert f"[:{counters[1]:08x}] ok" in answer
        assert await node.call(counters[1], "lua", "incr") == 2
        assert await console.command("nonsense") == [
            "Invalid command nonsense, type help for command list",
            "<CMD Error>",
        ]
        # The session goes on after an error.
        assert (await console.command(f"ping :{counters[1]:08x}"))[-1] == "<CMD OK>"


async def test_two_sessions_at_once() -> None:
    async with console_node() as (_node, port), connect(port) as first, connect(port) as second:
        assert (await first.command("getenv debug_console"))[0] == "0"
        assert (await second.command("setenv shared_key 1"))[-1] == "<CMD OK>"
        assert await first.command("getenv shared_key") == ["1", "<CMD OK>"]


async def test_netstat_shows_the_console_connection() -> None:
    async with console_node() as (_node, port), connect(port) as console:
        answer = await console.command("netstat")
        assert answer[-1] == "<CMD OK>"
        assert any(f"127.0.0.1:{port}" in line for line in answer[:-1])


async def test_http_get_runs_one_command() -> None:
    async with console_node() as (_node, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"GET /getenv/debug_console HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while data := await stream.receive_some(4096):
                received += data
        # As skynet's: the answer follows the welcome line (curl --http0.9).
        assert received.decode() == "Welcome to skylet console\n0\n<CMD OK>\n"


async def test_the_console_listens_on_loopback_by_default() -> None:
    async with hotfix_node() as node:
        console = await node.newservice("debug_console", 0)
        host, port = await node.call(console, "lua", "address")
        assert host == "127.0.0.1" and port > 0
        console6 = await node.newservice("debug_console", "localhost", 0)
        assert (await node.call(console6, "lua", "address"))[1] > 0


async def test_a_non_loopback_address_is_refused_unless_configured() -> None:
    async with hotfix_node() as node:
        with pytest.raises(skylet.CallError, match="not a loopback address"):
            await node.newservice("debug_console", "0.0.0.0", 0)
        listed = await node.call(".launcher", "lua", "LIST")
        assert not any("debug_console" in line for line in listed.values())
    with pytest.raises(skylet.LaunchError, match="debug_console_public = true"):
        async with hotfix_node(debug_console="0.0.0.0:0"):
            pass  # pragma: no cover - the boot fails
    with pytest.raises(skylet.LaunchError, match="not a loopback address"):
        async with hotfix_node(debug_console=0, debug_console_address="192.0.2.1"):
            pass  # pragma: no cover - the boot fails
    async with hotfix_node(debug_console_public=True) as node:
        console = await node.newservice("debug_console", "0.0.0.0", 0)
        host, port = await node.call(console, "lua", "address")
        assert host == "0.0.0.0" and port > 0


async def test_a_bad_port_is_a_one_line_launch_error() -> None:
    async with hotfix_node() as node:
        with pytest.raises(skylet.CallError, match='bad port "eighty"'):
            await node.newservice("debug_console", "eighty")


# ----- the CLI -----


async def test_skylet_inject_by_service_name(capsys: pytest.CaptureFixture[str]) -> None:
    async with console_node() as (node, port):
        counters = [await node.newservice("counter") for _ in range(3)]
        status = await run_cli("inject", f"127.0.0.1:{port}", "counter", str(FIXES / "double.lua"))
        assert status == 0
        out = capsys.readouterr().out.splitlines()
        assert [line for line in out if line.startswith("[")] == [
            f"[:{c:08x}] ok" for c in counters
        ]
        assert out[-1] == "<CMD OK>"
        for counter in counters:
            assert await node.call(counter, "lua", "incr") == 2


async def test_skylet_inject_fails_unless_every_target_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with console_node() as (node, port):
        counter = await node.newservice("counter")
        await node.newservice("informed")
        endpoint = f"127.0.0.1:{port}"
        fix = str(FIXES / "only_counters.lua")
        assert await run_cli("inject", endpoint, "informed", fix) == 1
        assert capsys.readouterr().out.splitlines()[-1] == "<CMD Error>"
        refused = str(FIXES / "needs_limit.lua")
        assert await run_cli("inject", endpoint, f":{counter:08x}", refused) == 1
        assert "hotfix refused" in capsys.readouterr().out
        assert await node.call(counter, "lua", "incr") == 1  # unchanged
        assert await run_cli("inject", endpoint, f":{counter:08x}", fix) == 0
        assert await node.call(counter, "lua", "incr") == 11


async def test_skylet_inject_relative_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXES)
    async with console_node() as (node, port):
        counter = await node.newservice("counter")
        assert await run_cli("inject", f"127.0.0.1:{port}", f"{counter:x}", "double.lua") == 0
        assert await node.call(counter, "lua", "incr") == 2


async def test_skylet_inject_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli("inject", "nowhere", "counter", str(FIXES / "double.lua")) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
    assert await run_cli("inject", "127.0.0.1:1", "counter", "/no/such/fix.lua") == 2
    assert capsys.readouterr().err.strip() == "skylet: /no/such/fix.lua: no such file"
    async with console_node() as (_node, port):
        pass
    # Nothing listens there any more.
    assert await run_cli("inject", f"127.0.0.1:{port}", "counter", str(FIXES / "double.lua")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"skylet: cannot connect to 127.0.0.1:{port}") and "\n" not in err


async def test_skylet_console_reads_commands_and_prints_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_console_client, "HISTORY", tmp_path / "history")
    async with console_node(answer=42) as (_node, port):
        monkeypatch.setattr("sys.stdin", io.StringIO("getenv answer\n\nbogus\nhelp\n"))
        assert await run_cli("console", f"127.0.0.1:{port}") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["Welcome to skylet console", "42", "<CMD OK>"]
    assert out[3:5] == ["Invalid command bogus, type help for command list", "<CMD Error>"]
    assert any(line.startswith("inject\t") for line in out)
    assert out[-1] == "<CMD OK>"
