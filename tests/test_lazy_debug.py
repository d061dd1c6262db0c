"""skynet.debug loads with a service's first debug message, not at launch."""

from __future__ import annotations

from pathlib import Path

import pytest

import skylet

SERVICES = Path(__file__).parent / "services" / "codecache"


async def test_debug_protocol_loads_on_first_use() -> None:
    async with skylet.open_node({"luaservice": f"{SERVICES}/?.lua"}, log=[].append) as node:
        probe = await node.newservice("debugprobe")
        assert await node.call(probe, "lua") is False
        assert await node.call(probe, "debug", "PING") is None
        assert await node.call(probe, "lua") is True
        memory = await node.call(probe, "debug", "MEM")
        assert isinstance(memory, float) and memory > 20
        stat = await node.call(probe, "debug", "STAT")
        assert stat["message"] >= 4


async def test_unknown_debug_command_is_an_error_on_first_use() -> None:
    async with skylet.open_node({"luaservice": f"{SERVICES}/?.lua"}, log=[].append) as node:
        probe = await node.newservice("debugprobe")
        with pytest.raises(skylet.CallError, match="unknown debug command NOPE"):
            await node.call(probe, "debug", "NOPE")
        assert await node.call(probe, "debug", "PING") is None
