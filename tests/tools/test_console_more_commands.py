"""The debug console's commands that reach the newer API: call, trace,
killtask, uniqtask, dbgcmd, log/logon/logoff, signal, snax, cmem, jmem,
dumpheap, profactive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

import skylet
from apinode import API, api_node
from conftest import SERVICES, Lines
from skylet._core._pack import pack

LUASERVICE = f"{API}/?.lua;{SERVICES / 'hotfix'}/?.lua;{SERVICES / 'core'}/?.lua"


async def console(node: skylet.Node, line: str) -> list[str]:
    if node.registry.resolve(".probe") is None:
        node.registry.bind_name(".probe", await node.newservice("console_probe"))
    return list(await node.call(".probe", "lua", line))


async def test_help_lists_the_new_commands() -> None:
    async with api_node(luaservice=LUASERVICE) as node:
        names = {line.split("\t")[0] for line in await console(node, "help")}
        assert {
            "call", "trace", "killtask", "uniqtask", "log", "logon", "logoff", "signal",
            "snax", "dbgcmd", "cmem", "jmem", "dumpheap", "profactive", "service",
        } <= names  # fmt: skip


async def test_call_sends_lua_values_and_prints_the_answer() -> None:
    async with api_node(luaservice=LUASERVICE) as node:
        slave = await node.newservice("slave")
        lines = await console(node, f'call :{slave:08x} "ping", 0, "pong"')
        assert lines == ["1\tpong", "n\t1", "<CMD OK>"]
        bad = await console(node, f"call :{slave:08x} os.exit()")
        assert bad[-1] == "<CMD Error>"  # no globals in the argument chunk
        assert (await console(node, f"call :{slave:08x} (("))[-1] == "<CMD Error>"


async def test_dbgcmd_uniqtask_killtask_and_trace() -> None:
    log = Lines()
    async with api_node(log, luaservice=LUASERVICE) as node:
        ext = await node.newservice("dbgext")
        addr = f":{ext:08x}"
        assert await console(node, f"dbgcmd {addr} HELLO me") == ["hello me", "<CMD OK>"]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_call_quietly, node, ext)
            while (lines := await console(node, f"uniqtask {addr}")) == ["<CMD OK>"]:
                await trio.sleep(0)
            assert lines[0].startswith("1\tsessions:[")
            task = await console(node, f"task {addr}")
            thread = re.search(r"thread: (0x[0-9a-f]+)", task[0]).group(1)  # type: ignore[union-attr]
            assert await console(node, f"killtask {addr} {thread}") == ["<CMD OK>"]
        assert await console(node, f"trace {addr} on") == ["<CMD OK>"]
        assert log.matching("Turn trace log true for lua")
        assert await console(node, f"trace {addr} lua off") == ["<CMD OK>"]
        assert log.matching("Turn trace log false for lua")


async def _call_quietly(node: skylet.Node, address: int) -> None:
    with pytest.raises(skylet.CallError):
        await node.call(address, "lua", "park")


async def test_logon_writes_each_message_to_a_file(tmp_path: Path) -> None:
    async with api_node(luaservice=LUASERVICE, logpath=str(tmp_path)) as node:
        slave = await node.newservice("slave")
        addr = f":{slave:08x}"
        assert await console(node, f"logon {addr}") == ["<CMD OK>"]
        await node.call(slave, "lua", "ping", 0, "x")
        assert await console(node, f"logoff {addr}") == ["<CMD OK>"]
        await node.call(slave, "lua", "ping", 0, "y")
        lines = (tmp_path / f"{slave:08x}.log").read_text().splitlines()
        assert lines[0].startswith("open time: ") and lines[-1].startswith("close time: ")
        body = lines[1:-1]
        assert len(body) == 2  # the request and the timer's response
        source, ptype, _session, _, payload = body[0].split(" ")
        assert (source, ptype) == (f":{node._host.handle:08x}", "10")  # type: ignore[union-attr]
        assert bytes.fromhex(payload) == pack("ping", 0, "x")
        started = await console(node, "log slave")
        assert started[-1] == "<CMD OK>"
        logged = int(started[0].split("\t")[0][1:], 16)
        assert (tmp_path / f"{logged:08x}.log").exists()


async def test_signal_1_logs_memory_and_signal_0_interrupts_a_loop() -> None:
    log = Lines()
    async with api_node(log, luaservice=LUASERVICE) as node:
        slave = await node.newservice("slave")
        assert await console(node, f"signal :{slave:08x} 1") == ["<CMD OK>"]
        assert log.matching(f"[:{slave:08x}] Current Memory ")
        assert await console(node, f"signal :{slave:08x}") == ["<CMD OK>"]  # idle: nothing


async def test_cmem_lists_each_services_memory_and_jemalloc_commands_say_why_not() -> None:
    async with api_node(luaservice=LUASERVICE) as node:
        slave = await node.newservice("slave")
        lines = await console(node, "cmem")
        table = dict(line.split("\t") for line in lines[:-1])
        assert int(table[f":{slave:08x}"]) > 10_000
        assert int(table["total"]) > int(table[f":{slave:08x}"]) and int(table["block"]) >= 4
        for cmd in ("jmem", "dumpheap"):
            out = await console(node, cmd)
            assert out[-1] == "<CMD Error>" and "jemalloc" in out[0]
        assert await console(node, "profactive on") == [
            "heap profilling is deactive",
            "<CMD OK>",
        ]


async def test_snax_without_the_library_says_so() -> None:
    async with api_node(luaservice=LUASERVICE) as node:
        lines = await console(node, "snax pingserver")
        if lines[-1] == "<CMD Error>":
            assert "snax is not available" in lines[0]
        else:  # skynet.snax is there: it could not start a service it cannot find
            assert lines == ["Failed", "<CMD OK>"]
