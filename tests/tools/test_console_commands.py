"""The debug console's commands (skylet.console), run without a socket."""

from __future__ import annotations

import skylet
from hotfix_support import SERVICES, hotfix_node

FIXES = SERVICES / "fixes"


async def console(node: skylet.Node, line: str) -> list[str]:
    probe = node.registry.resolve(".probe")
    if probe is None:
        probe_handle = await node.newservice("console_probe")
        node.registry.bind_name(".probe", probe_handle)
    return list(await node.call(".probe", "lua", line))


async def test_help_lists_skynets_commands() -> None:
    async with hotfix_node() as node:
        lines = await console(node, "help")
        assert lines[-1] == "<CMD OK>"
        names = {line.split("\t")[0] for line in lines[:-1]}
        assert {
            "help", "list", "stat", "mem", "gc", "info", "task", "ping", "kill", "exit",
            "start", "service", "inject", "clearcache", "getenv", "setenv", "netstat",
        } <= names  # fmt: skip


async def test_list_start_kill_go_through_the_launcher() -> None:
    async with hotfix_node() as node:
        lines = await console(node, "start counter")
        assert lines[-1] == "<CMD OK>"
        address, name = lines[0].split("\t")
        assert name == "counter"
        listed = await console(node, "list")
        assert f"{address}\tsnlua counter" in listed
        assert await console(node, f"kill {address}") == [f"{address}\tsnlua counter", "<CMD OK>"]
        assert f"{address}\tsnlua counter" not in await console(node, "list")


async def test_stat_mem_gc_cover_every_service() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        address = f":{counter:08x}"
        stat = await console(node, "stat")
        line = next(x for x in stat if x.startswith(address))
        assert "message:" in line and "mqlen:0" in line and "task:0" in line
        mem = await console(node, "mem")
        assert any(x.startswith(address) and "Kb (snlua counter)" in x for x in mem)
        gc = await console(node, "gc")
        assert gc[-1] == "<CMD OK>" and any(x.startswith(address) for x in gc)


async def test_info_task_ping_exit_take_an_address() -> None:
    async with hotfix_node() as node:
        informed = await node.newservice("informed")
        counter = await node.newservice("counter")
        info = await console(node, f"info :{informed:08x} who")
        assert info == ["asked\twho", "service\tinformed", "<CMD OK>"]
        # A bare hex address, as skynet's console takes it.
        assert await console(node, f"task {counter:x}") == ["<CMD OK>"]
        ping = await console(node, f"ping :{counter:08x}")
        assert ping[0].endswith(" ms") and ping[1] == "<CMD OK>"
        assert await console(node, f"exit :{counter:08x}") == ["<CMD OK>"]
        assert (await console(node, f"ping :{counter:08x}"))[-1] == "<CMD Error>"


async def test_service_lists_unique_services() -> None:
    async with hotfix_node() as node:
        await node.call(".service", "lua", "LAUNCH", "informed")
        lines = await console(node, "service")
        assert lines[0].startswith("informed\t:") and lines[-1] == "<CMD OK>"


async def test_getenv_and_setenv() -> None:
    async with hotfix_node(answer=42) as node:
        assert await console(node, "getenv answer") == ["42", "<CMD OK>"]
        assert await console(node, "setenv fresh_key yes") == ["<CMD OK>"]
        assert await console(node, "getenv fresh_key") == ["yes", "<CMD OK>"]
        lines = await console(node, "setenv answer 1")
        assert lines[-1] == "<CMD Error>" and "Can't setenv exist key" in lines[0]


async def test_bad_input_gets_a_one_line_error() -> None:
    async with hotfix_node() as node:
        assert await console(node, "frobnicate") == [
            "Invalid command frobnicate, type help for command list",
            "<CMD Error>",
        ]
        assert await console(node, "info zzz") == ["not an address: zzz", "<CMD Error>"]
        assert await console(node, "kill .nobody") == ["no service named .nobody", "<CMD Error>"]
        lines = await console(node, "inject :00000001 /no/such/fix.lua")
        assert lines[-1] == "<CMD Error>" and lines[0].startswith("can't open /no/such/fix.lua")


async def test_inject_address_runs_the_file_there() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 3)
        lines = await console(node, f"inject :{counter:08x} {FIXES / 'double.lua'}")
        assert lines == [
            "hotfix applied: 1 function(s) replaced",
            "  _P.lua.CMD.incr: bound bump",
            "<CMD OK>",
        ]
        assert await node.call(counter, "lua", "incr") == 5
        lines = await console(node, f"inject :{counter:08x} {FIXES / 'hello.lua'} a b")
        assert lines == ["hello from\ta\tb", "<CMD OK>"]


async def test_inject_refused_or_broken_is_a_cmd_error() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        lines = await console(node, f"inject :{counter:08x} {FIXES / 'needs_limit.lua'}")
        assert lines[0] == "hotfix refused, nothing changed (1 function(s))"
        assert "limit" in lines[1] and lines[-1] == "<CMD Error>"
        lines = await console(node, f"inject :{counter:08x} {FIXES / 'syntax_error.lua'}")
        assert lines[-1] == "<CMD Error>" and "syntax_error.lua:2:" in lines[0]


async def test_inject_service_name_patches_every_instance_one_by_one() -> None:
    async with hotfix_node() as node:
        counters = [await node.newservice("counter") for _ in range(3)]
        await node.newservice("informed")
        for i, counter in enumerate(counters):
            await node.call(counter, "lua", "incr", i)
        lines = await console(node, f"inject counter {FIXES / 'double.lua'}")
        assert lines[-1] == "<CMD OK>"
        headers = [line for line in lines if line.startswith("[")]
        assert headers == [f"[:{c:08x}] ok" for c in counters]
        assert lines[-2].endswith("3 of 3 service(s) started from counter accepted it")
        for i, counter in enumerate(counters):
            assert await node.call(counter, "lua", "incr") == i + 2


async def test_inject_service_name_reports_each_failure() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        informed = await node.newservice("informed")
        await node.newservice("informed")
        # Two services of one file where the fix does not apply.
        lines = await console(node, f"inject informed {FIXES / 'only_counters.lua'}")
        assert lines[-1] == "<CMD Error>"
        assert f"[:{informed:08x}] FAILED" in lines
        assert lines[-2].endswith("0 of 2 service(s) started from informed accepted it")
        lines = await console(node, f"inject counter {FIXES / 'only_counters.lua'}")
        assert lines[0] == f"[:{counter:08x}] ok" and lines[-1] == "<CMD OK>"
        assert await node.call(counter, "lua", "incr") == 10


async def test_clearcache_empties_the_code_cache() -> None:
    async with hotfix_node() as node:
        assert node.codecache.stats().entries > 0
        lines = await console(node, "clearcache")
        assert lines == ["<CMD OK>"]
        assert node.codecache.stats().entries == 0


async def test_a_command_to_the_python_host_fails_instead_of_hanging() -> None:
    async with hotfix_node() as node:
        # Handle 1 is the node's Python endpoint: it answers no requests.
        lines = await console(node, "info 1")
        assert lines[-1] == "<CMD Error>"
        assert "the Python host answers no requests" in lines[0]
