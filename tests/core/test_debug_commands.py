"""The debug protocol's TERM, KILLTASK, UNIQTASK, SUPPORT, LINK and
skynet.debug.reg_debugcmd (TRACELOG: test_trace.py)."""

from __future__ import annotations

import pytest
import trio

import skylet
from apinode import api_node, run_lua
from conftest import Lines


async def test_reg_debugcmd_adds_a_command() -> None:
    async with api_node() as node:
        ext = await node.newservice("dbgext")
        assert await node.call(ext, "debug", "HELLO", "you") == "hello you"
        with pytest.raises(skylet.CallError, match="unknown debug command NOPE"):
            await node.call(ext, "debug", "NOPE")


async def test_support_says_whether_a_protocol_has_a_dispatch() -> None:
    async with api_node() as node:
        ext = await node.newservice("dbgext")
        assert await node.call(ext, "debug", "SUPPORT", "lua") is True
        assert await node.call(ext, "debug", "SUPPORT", "text") is False
        assert await node.call(ext, "debug", "SUPPORT", "nonesuch") is False


async def test_uniqtask_and_killtask_find_and_end_a_parked_request() -> None:
    log = Lines()
    async with api_node(log) as node:
        ext = await node.newservice("dbgext")
        async with trio.open_nursery() as nursery:
            results: list[str] = []

            async def park() -> None:
                try:
                    await node.call(ext, "lua", "park")
                    results.append("answered")
                except skylet.CallError as exc:
                    results.append(str(exc))

            nursery.start_soon(park)
            while not await node.call(ext, "debug", "UNIQTASK"):
                await trio.sleep(0)
            uniq = await node.call(ext, "debug", "UNIQTASK")
            (head,) = uniq
            assert head.startswith("1\tsessions:[")
            session = head.split("[")[1].split("]")[0]
            tasks = await node.call(ext, "debug", "TASK")
            (key,) = [k for k in tasks if k.endswith(f"session: {session}")]
            thread = key.split(" session")[0].split(": ")[1]
            assert await node.call(ext, "debug", "KILLTASK", thread) is None
            assert await node.call(ext, "debug", "KILLTASK", "0xdeadbeef") == "Not found"
        assert results and "killed" in results[0]
    assert log.matching(f"Kill thread: {thread}")
    assert log.matching("Kill 0xdeadbeef : Not found")


async def test_link_answers_only_when_the_service_exits() -> None:
    async with api_node() as node:
        ext = await node.newservice("dbgext")
        code = f"""
          local skynet = require 'skynet'
          skynet.timeout(5, function() skynet.send({ext}, 'debug', 'EXIT') end)
          return pcall(skynet.call, {ext}, 'debug', 'LINK')
        """
        ok, err = await run_lua(node, code)
        assert ok is False and "exited" in err


async def test_term_over_the_debug_protocol_answers_nothing(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          skynet.fork(function()
            skynet.sleep(10)
            skynet.send(skynet.self(), 'debug', 'TERM', 'NOONE')
          end)
          return pcall(skynet.call, 'NOONE', 'lua')
        """
        ok, err = await run_lua(node, code)
        assert ok is False and "NOONE" in err
