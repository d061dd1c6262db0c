"""The debug RUN command (inject): output capture, _U/_P, failures, turn order."""

from __future__ import annotations

import lupa.lua54 as lupa
import pytest
import trio

import skylet
from hotfix_support import hotfix_node


async def test_print_args_and_returned_values_make_the_output() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await node.inject(
            counter,
            'print("hello", 1, nil)\nlocal a, b = ...\nreturn a .. b, 42',
            "hi.lua",
            "x",
            "y",
        )
        assert result.ok and result
        assert result.lines == ["hello\t1\tnil", "xy", "42"]


async def test_run_answers_ok_and_text_as_skynet_does() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        answer = await node.call(counter, "debug", "RUN", "print(1) print(2)", "two.lua")
        assert answer == (True, "1\n2")


async def test_u_reads_and_writes_the_live_variables() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 7)
        source = "print(_U.count, _U.step, type(_U.CMD))\n_U.count = 100"
        result = await node.inject(counter, source)
        assert result.lines == ["7\t1\ttable"]
        assert await node.call(counter, "lua", "get") == 100
        # Nested: `bump` is reached through CMD.incr; skynet's internals come after.
        result = await node.inject(
            counter, "print(type(_U.bump), type(_U.proto), type(_P.lua.CMD.incr))"
        )
        assert result.lines == ["function\ttable\tfunction"]


async def test_u_lists_names_and_refuses_unknown_ones() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await node.inject(
            counter,
            "local names = {} for k in pairs(_U) do names[k] = true end\n"
            "print(names.count, names.step, names.bump, names.CMD)\n"
            "_U.no_such_variable = 1",
        )
        assert not result.ok
        assert result.lines[0] == "true\ttrue\ttrue\ttrue"
        assert "_U has no upvalue named 'no_such_variable'" in result.output


async def test_p_is_per_protocol() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await node.inject(
            counter, "print(_P.lua.count, type(_P.debug), _P.lua.CMD == _U.CMD)"
        )
        assert result.lines == ["0\ttable\ttrue"]


async def test_syntax_error_is_refused_and_changes_nothing() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 3)
        result = await node.inject(counter, "_U.count = 99\nprint('ran')\nlocal = ", "broken.lua")
        assert not result.ok
        assert result.output.startswith("broken.lua:3:")
        assert "ran" not in result.output
        assert await node.call(counter, "lua", "get") == 3


async def test_runtime_error_reports_error_and_traceback_and_the_service_goes_on() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        source = "print('before')\nlocal function explode() error('boom') end\nexplode()\n"
        result = await node.inject(counter, source, "explode.lua")
        assert not result.ok
        assert result.lines[0] == "before"
        assert "explode.lua:2: boom" in result.output
        assert "stack traceback:" in result.output
        assert "explode.lua:3: in main chunk" in result.output
        # Only the script's frames, not skylet's.
        assert "inject.lua" not in result.output
        assert await node.call(counter, "lua", "incr") == 1


async def test_without_a_filename_the_chunk_is_named_inject() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await node.inject(counter, "error('x')")
        assert not result.ok and result.output.startswith("(inject):1: x")


async def test_bytecode_is_refused_in_run_and_in_the_scripts_load() -> None:
    dumped = lupa.LuaRuntime(encoding=None).eval("string.dump(function() return 1 end)")
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await node.inject(counter, bytes(dumped), "evil.luac")
        assert not result.ok
        assert "not bytecode" in result.output
        # Nor can a text script smuggle a binary chunk through load.
        result = await node.inject(
            counter, "print(load(string.dump(function() return 1 end), 'x', 'b'))"
        )
        assert result.ok
        assert "attempt to load a binary chunk" in result.output


async def test_inject_runs_after_the_messages_queued_before_it() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        for _ in range(5):
            node.send(counter, "lua", "incr")
        result = await node.inject(counter, "print(_U.count)")
        assert result.lines == ["5"]


async def test_inject_into_a_busy_service_takes_effect_in_its_next_turn() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        blocker = await node.newservice("blocker")
        await node.call(counter, "lua", "incr", 2)
        async with trio.open_nursery() as nursery:
            answers: list[int] = []

            async def slow() -> None:
                answers.append(await node.call(counter, "lua", "slow", blocker))

            nursery.start_soon(slow)
            while await node.call(blocker, "lua", "held") == 0:
                await trio.sleep(0)
            # CMD.slow is suspended in its call: the RUN message is handled
            # in the service's next turn, without waiting for it.
            source = (
                "local hotfix = require 'skylet.hotfix'\nlocal count\n"
                "return hotfix.patch('_P.lua.CMD.get', function() return count * 10 end)"
            )
            result = await node.inject(counter, source, "fix.lua")
            assert result.ok, result.output
            assert await node.call(counter, "lua", "get") == 20
            assert answers == []
            await node.call(blocker, "lua", "release")
        # The suspended handler resumed and called the patched CMD.get.
        assert answers == [20]


async def test_functions_the_script_leaves_behind_print_to_the_node() -> None:
    printed: list[str] = []
    async with hotfix_node(printed=printed) as node:
        counter = await node.newservice("counter")
        result = await node.inject(
            counter, "_P.lua.CMD.hello = function() print('hello from the patch') end"
        )
        assert result.ok and result.output == ""
        await node.call(counter, "lua", "hello")
        assert printed == ["hello from the patch"]


async def test_inject_into_a_missing_service_raises() -> None:
    async with hotfix_node() as node:
        with pytest.raises(skylet.ServiceNotFound):
            await node.inject(0x00FFFFF0, "print(1)")
