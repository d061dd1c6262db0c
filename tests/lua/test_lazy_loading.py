"""Keeping launches cheap: what most services never use loads on first use
(the rarer skynet API in skylet.skynet_extra, the debug protocol in
skynet.debug), and the collector rests while a service loads."""

from __future__ import annotations

from pathlib import Path

import pytest

import skylet

LUASERVICE = f"{Path(__file__).parents[1] / 'services' / 'codecache'}/?.lua"


async def test_debug_protocol_loads_on_first_use(node_with) -> None:
    async with node_with(luaservice=LUASERVICE) as node:
        probe = await node.newservice("debugprobe")
        assert await node.call(probe, "lua") is False
        assert await node.call(probe, "debug", "PING") is None
        assert await node.call(probe, "lua") is True
        memory = await node.call(probe, "debug", "MEM")
        assert isinstance(memory, float) and memory > 20
        stat = await node.call(probe, "debug", "STAT")
        assert stat["message"] >= 4


async def test_unknown_debug_command_is_an_error_on_first_use(node_with) -> None:
    async with node_with(luaservice=LUASERVICE) as node:
        probe = await node.newservice("debugprobe")
        with pytest.raises(skylet.CallError, match="unknown debug command NOPE"):
            await node.call(probe, "debug", "NOPE")
        assert await node.call(probe, "debug", "PING") is None


async def test_rarer_api_loads_on_first_use(node_with) -> None:
    async with node_with(luaservice=LUASERVICE) as node:
        probe = await node.newservice("extraprobe")
        assert await node.call(probe, "lua", "loaded") == (False, False)
        assert await node.call(probe, "lua", "now") == "integer"
        assert await node.call(probe, "lua", "loaded") == (True, True)


async def test_a_missing_field_is_nil_and_loads_the_rarer_api_once(node_with) -> None:
    async with node_with(luaservice=LUASERVICE) as node:
        probe = await node.newservice("extraprobe")
        assert await node.call(probe, "lua", "missing") is None
        assert await node.call(probe, "lua", "loaded") == (True, True)
        assert await node.call(probe, "lua", "missing") is None


async def test_collector_rests_while_a_service_loads(node_with) -> None:
    # As in skynet's snlua: stopped through the main chunk, running after.
    async with node_with(luaservice=LUASERVICE) as node:
        probe = await node.newservice("extraprobe")
        assert await node.call(probe, "lua", "collector") == (False, True)


async def test_garbage_made_while_loading_is_collected_at_the_memory_limit(node_with) -> None:
    # ~30 MB of garbage under an 8 MB limit: the stopped collector still runs
    # an emergency collection before Lua reports "not enough memory".
    async with node_with(luaservice=LUASERVICE, service_memlimit=8 * 1024 * 1024) as node:
        churn = await node.newservice("churn")
        assert await node.call(churn, "lua") == 200000
