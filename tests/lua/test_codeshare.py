"""Shared code (``_lua/_lcodeshare.c``): one copy of each compiled function's instructions.

Every VM undumps the chunks the code cache compiled; with config
``codeshare`` (default ``auto``) the instructions and line info of those
prototypes point at one process-wide copy instead of one per VM.
"""

from __future__ import annotations

import pytest

from conftest import NodeFactory
from skylet import CallError, SkyletError
from skylet._lua._codeshare import choose_codeshare, codeshare_library, load_library, stats

LIBRARY, WHY = codeshare_library()
needs_library = pytest.mark.skipif(LIBRARY is None, reason=f"no shared code: {WHY}")


@needs_library
async def test_services_share_one_copy_of_the_code_they_load(node_with: NodeFactory) -> None:
    async with node_with(codeshare="on") as node:
        first = await node.newservice("uses_module")
        assert await node.call(first, "lua", "world") == "hello, world"
        held = stats()
        # skynet.lua, the boot chunk's functions, the service and its module.
        assert held.bytes > 10_000
        for _ in range(20):
            other = await node.newservice("uses_module")
            assert await node.call(other, "lua", "you") == "hello, you"
        # Twenty more VMs ran the same code without adding a byte of it.
        assert stats() == held


@needs_library
async def test_a_vm_holds_less_of_its_own_with_shared_code(node_with: NodeFactory) -> None:
    used = {}
    for setting in ("on", "off"):
        async with node_with(codeshare=setting) as node:
            handle = await node.newservice("probe")
            used[setting] = node.registry.services[handle].runtime.get_memory_used()
    # The instructions and line info of skynet.lua alone are over 8 KB.
    assert used["off"] - used["on"] > 8_000


@needs_library
async def test_errors_keep_their_file_and_line_in_shared_code(node_with: NodeFactory) -> None:
    async with node_with(codeshare="on") as node:
        probe = await node.newservice("probe")
        with pytest.raises(CallError, match=r"probe\.lua:27: boom"):
            await node.call(probe, "lua", "raise", "boom")
        # A traceback walks shared line info of skynet.lua too.
        traceback = await node.call(probe, "lua", "eval", "return debug.traceback('here')")
        assert "skynet.lua:" in traceback


@needs_library
async def test_vms_closing_leave_the_shared_code_to_the_others(node_with: NodeFactory) -> None:
    async with node_with(codeshare="on") as node:
        keeper = await node.newservice("probe")
        handles = [await node.newservice("probe") for _ in range(30)]
        for handle in handles:
            node.send(handle, "lua", "exit")
        await node.call(keeper, "lua", "sleep", 1)
        assert not set(handles) & set(node.registry.services)
        # The survivor and a newcomer still run the code the dead ones shared.
        assert await node.call(keeper, "lua", "echo", 7) == 7
        newcomer = await node.newservice("probe")
        assert await node.call(newcomer, "lua", "echo", 8) == 8


async def test_codeshare_off_keeps_each_vm_its_own_copy(node_with: NodeFactory) -> None:
    async with node_with(codeshare="off") as node:
        assert node.codeshare_path is None
        probe = await node.newservice("probe")
        assert await node.call(probe, "lua", "echo", 1) == 1


def test_a_codeshare_setting_that_is_not_one_is_refused() -> None:
    with pytest.raises(SkyletError, match="codeshare must be one of auto, on, off, not 'yes'"):
        choose_codeshare("yes", print)


def test_without_the_library_auto_logs_why_and_shares_nothing() -> None:
    path, why = load_library(None)
    assert path is None and "_lwatchdog extension is not in" in why
