"""skylet.hotfix: replacing functions in a live service, bound to its upvalues."""

from __future__ import annotations

import skylet
from hotfix_support import hotfix_node

HEADER = "local hotfix = require 'skylet.hotfix'\n"


async def patch(node: skylet.Node, address: int, body: str) -> skylet.InjectResult:
    return await node.inject(address, HEADER + body, "fix.lua")


async def test_state_survives_a_hotfix_that_changes_the_logic() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        for _ in range(5):
            await node.call(counter, "lua", "incr")
        result = await patch(
            node,
            counter,
            "local bump\n"
            "return hotfix.patch('_P.lua.CMD.incr', function(n) return bump(2 * (n or 1)) end)",
        )
        assert result.ok, result.output
        assert result.lines == [
            "hotfix applied: 1 function(s) replaced",
            "  _P.lua.CMD.incr: bound bump",
        ]
        assert await node.call(counter, "lua", "incr") == 7
        assert await node.call(counter, "lua", "incr", 3) == 13
        assert await node.call(counter, "lua", "get") == 13


async def test_upvalues_are_found_through_nested_local_functions() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 4)
        await node.call(counter, "lua", "setstep", 3)
        # The old CMD.incr only holds `bump`; `count` and `step` live in bump.
        result = await patch(
            node,
            counter,
            "local count, step\n"
            "return hotfix.patch('_P.lua.CMD.incr', function(n)\n"
            "  count = count + (n or 1) * step * 100 return count end)",
        )
        assert result.ok, result.output
        assert "bound count, step" in result.output
        assert await node.call(counter, "lua", "incr") == 304
        # The same variable: the old CMD.get and CMD.setstep still see it.
        assert await node.call(counter, "lua", "get") == 304
        await node.call(counter, "lua", "setstep", 1)
        assert await node.call(counter, "lua", "incr") == 404


async def test_new_local_functions_of_the_patch_are_bound_too() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 10)
        result = await patch(
            node,
            counter,
            "local count\n"
            "local function halve() count = count // 2 return count end\n"
            "return hotfix.patch('_P.lua.CMD.incr', function() return halve() end)",
        )
        assert result.ok, result.output
        assert "bound count" in result.output and "new local functions halve" in result.output
        assert await node.call(counter, "lua", "incr") == 5
        assert await node.call(counter, "lua", "get") == 5


async def test_replacing_a_local_function_reaches_every_caller() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 1)
        result = await patch(
            node,
            counter,
            "local count, step\n"
            "return hotfix.patch('_U.bump', function(n) count = count - n * step return count end)",
        )
        assert result.ok, result.output
        # CMD.incr was not touched: it calls the shared `bump` variable.
        assert await node.call(counter, "lua", "incr", 1) == 0


async def test_a_needed_upvalue_the_old_closure_lacks_is_refused_and_nothing_changes() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 2)
        body = (
            "local count, limit = nil, 1\n"
            "return hotfix.patch('_P.lua.CMD.get', function() return math.min(count, limit) end%s)"
        )
        result = await patch(node, counter, body % "")
        assert not result.ok
        assert result.lines == [
            "hotfix refused, nothing changed (1 function(s))",
            "  _P.lua.CMD.get: REFUSED needs upvalue(s) the old closure does not have: limit"
            ' (allow with fresh = {"limit"})',
        ]
        assert await node.call(counter, "lua", "get") == 2
        # Allowed explicitly, `limit` stays the script's own variable.
        result = await patch(node, counter, body % ", { fresh = { 'limit' } }")
        assert result.ok, result.output
        assert "bound count; fresh limit" in result.output
        assert await node.call(counter, "lua", "get") == 1


async def test_several_functions_are_patched_all_or_nothing() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 2)
        result = await patch(
            node,
            counter,
            "local count, missing\n"
            "return hotfix.patch {\n"
            "  ['_P.lua.CMD.incr'] = function() count = count + 1000 return count end,\n"
            "  ['_P.lua.CMD.get'] = function() return missing end,\n"
            "}",
        )
        assert not result.ok
        assert "_P.lua.CMD.get: REFUSED" in result.output
        assert "_P.lua.CMD.incr: bound count" in result.output
        # incr was fine on its own, but the patch is one: nothing changed.
        assert await node.call(counter, "lua", "incr") == 3
        result = await patch(
            node,
            counter,
            "local count\n"
            "return hotfix.patch {\n"
            "  ['_P.lua.CMD.incr'] = function() count = count + 1000 return count end,\n"
            "  ['_P.lua.CMD.get'] = function() return -count end,\n"
            "}",
        )
        assert result.ok, result.output
        assert result.lines[0] == "hotfix applied: 2 function(s) replaced"
        assert await node.call(counter, "lua", "incr") == 1003
        assert await node.call(counter, "lua", "get") == -1003


async def test_a_missing_target_refuses_the_whole_patch() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "local count\n"
            "return hotfix.patch {\n"
            "  { '_P.lua.CMD.get', function() return -1 end },\n"
            "  { '_P.lua.CMD.nope', function() return -2 end },\n"
            "  { '_P.lua.NOTHING.x', function() return -3 end },\n"
            "  { '_P.lua.CMD.incr', 'not a function' },\n"
            "}",
        )
        assert not result.ok
        assert "_P.lua.CMD.nope: REFUSED no Lua function there to replace (found nil)" in (
            result.output
        )
        assert "'NOTHING' is not a table" in result.output
        assert "the replacement is not a Lua function (got string)" in result.output
        assert await node.call(counter, "lua", "get") == 0


async def test_dry_run_returns_the_plan_and_changes_nothing() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "local count, extra = nil, 5\n"
            "local fmt = string.format\n"
            "local report = hotfix.plan({\n"
            "  ['_P.lua.CMD.get'] = function() return fmt('%d', count + extra) end,\n"
            "}, { fresh = true })\n"
            "print(report.ok, report.applied, report.dry_run)\n"
            "local t = report.targets[1]\n"
            "print(t.path, table.concat(t.bound, ','), table.concat(t.fresh, ','),"
            " table.concat(t.kept, ','))\n"
            "return report",
        )
        assert result.ok, result.output
        assert result.lines == [
            "true\tfalse\ttrue",
            "_P.lua.CMD.get\tcount\textra\tfmt",
            "hotfix dry run, nothing changed: 1 function(s) would be replaced",
            "  _P.lua.CMD.get: bound count; fresh extra; kept fmt",
        ]
        assert await node.call(counter, "lua", "get") == 0


async def test_a_refused_plan_is_reported_without_raising() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "local nothing\n"
            "local report = hotfix.plan('_P.lua.CMD.get', function() return nothing end)\n"
            "print(report.ok, report.targets[1].refused[1])",
        )
        assert result.ok, result.output
        assert result.lines == [
            "false\tneeds upvalue(s) the old closure does not have: nothing"
            ' (allow with fresh = {"nothing"})'
        ]


async def test_an_ambiguous_name_is_refused() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "local total\nreturn hotfix.patch('_P.lua.CMD.both', function(x) return total end)",
        )
        assert not result.ok
        assert "upvalue 'total' is ambiguous" in result.output
        assert await node.call(counter, "lua", "both", 2) == (2, -2)


async def test_module_fields_can_be_patched() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 900)
        assert await node.call(counter, "lua", "incr", 900) == 1000
        result = await patch(
            node,
            counter,
            "local max\n"
            "return hotfix.patch('rules:cap', function(x) if x > 2 * max then return 2 * max end"
            " return x end)",
        )
        assert result.ok, result.output
        assert "rules:cap: bound max" in result.output
        assert await node.call(counter, "lua", "incr", 5000) == 2000
        result = await patch(node, counter, "return hotfix.patch('nope:x', function() end)")
        assert not result.ok
        assert "module 'nope' is not loaded in this service" in result.output


async def test_table_entries_need_no_path() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        await node.call(counter, "lua", "incr", 2)
        result = await patch(
            node,
            counter,
            "local count\n"
            "return hotfix.patch {\n"
            "  { _U.CMD, 'get', function() return count + 1 end, name = 'CMD' },\n"
            "}",
        )
        assert result.ok, result.output
        assert "CMD.get: bound count" in result.output
        assert await node.call(counter, "lua", "get") == 3


async def test_new_code_uses_the_services_globals_not_the_scripts() -> None:
    printed: list[str] = []
    async with hotfix_node(printed=printed) as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "local count\n"
            "return hotfix.patch('_P.lua.CMD.get', function()\n"
            "  patched_calls = (patched_calls or 0) + 1\n"
            "  print('get called')\n"
            "  return count end)",
        )
        assert result.ok, result.output
        await node.call(counter, "lua", "get")
        await node.call(counter, "lua", "get")
        # The global went to the service's _G, and print to the node.
        assert await node.call(counter, "lua", "global", "patched_calls") == 2
        assert printed == ["get called", "get called"]


async def test_patching_the_same_function_twice_in_one_patch_is_refused() -> None:
    async with hotfix_node() as node:
        counter = await node.newservice("counter")
        result = await patch(
            node,
            counter,
            "return hotfix.patch { { '_P.lua.CMD.get', function() return 1 end },"
            " { '_U.CMD.get', function() return 2 end } }",
        )
        assert not result.ok
        assert "the same function is patched twice" in result.output
        assert await node.call(counter, "lua", "get") == 0
