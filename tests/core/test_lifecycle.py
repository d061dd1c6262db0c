"""Launching, naming, environment, unique services, exit and abort."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import skylet
from skylet import CallError, Node


async def test_service_arguments_arrive_as_strings(node: skylet.Node) -> None:
    probe = await node.newservice("probe", "hello")
    assert await node.call(probe, "lua", "name") == "hello"
    code = "local a, b, c = ... return 1"
    assert await node.call(probe, "lua", "eval", code) == 1
    other = await node.call(probe, "lua", "newservice", "probe", 42)
    assert await node.call(other, "lua", "name") == "42"


async def test_require_finds_modules_on_lua_path(node: skylet.Node) -> None:
    svc = await node.newservice("uses_module")
    assert await node.call(svc, "lua", "world") == "hello, world"


async def test_register_and_localname(node: skylet.Node) -> None:
    probe = await node.newservice("probe", ".named")
    assert await node.call(".named", "lua", "self") == probe
    assert await node.call(probe, "lua", "localname", ".named") == probe
    assert await node.call(probe, "lua", "localname", ".nobody") is None


async def test_getenv_sees_config_as_strings_and_setenv_refuses_existing(node_with) -> None:
    async with node_with(answer=42, ratio=0.5, debug=True, label="x") as node:
        probe = await node.newservice("probe")
        assert await node.call(probe, "lua", "getenv", "answer") == "42"
        assert await node.call(probe, "lua", "getenv", "ratio") == "0.5"
        assert await node.call(probe, "lua", "getenv", "debug") == "true"
        assert await node.call(probe, "lua", "getenv", "missing") is None
        assert await node.call(probe, "lua", "setenv", "fresh", "v") is True
        assert await node.call(probe, "lua", "getenv", "fresh") == "v"
        with pytest.raises(CallError, match="Can't setenv exist key"):
            await node.call(probe, "lua", "setenv", "answer", "43")


async def test_uniqueservice_launches_once_and_queryservice_waits(
    node: skylet.Node, autojump_clock
) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local queried
      skynet.fork(function() queried = skynet.queryservice('probe') end)
      skynet.sleep(10)
      local first = skynet.uniqueservice('probe')
      local second = skynet.uniqueservice('probe')
      skynet.sleep(1)
      return first, second, queried
    """
    first, second, queried = await node.call(probe, "lua", "eval", code)
    assert first == second == queried
    assert first != probe


async def test_exit_retires_the_address(node: skylet.Node) -> None:
    probe = await node.newservice("probe", ".leaving")
    listed = await node.call(".launcher", "lua", "LIST")
    assert f":{probe:08x}" in listed
    # The request that made it exit is in progress, so it is answered with an error.
    with pytest.raises(CallError, match="exited"):
        await node.call(probe, "lua", "exit")
    # skynet.exit answers its callers, then retires: on a dispatcher thread
    # (thread = N) the answer can arrive first. It goes, and soon.
    with trio.fail_after(5):
        while probe in node.registry.services:
            await trio.sleep(0.001)
    with pytest.raises(skylet.ServiceNotFound):
        await node.call(probe, "lua", "echo")
    assert ".leaving" not in node.registry.names
    listed = await node.call(".launcher", "lua", "LIST")
    assert f":{probe:08x}" not in listed


async def test_skynet_queue_serialises_critical_sections(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local queue = require 'skynet.queue'
      local cs = queue()
      local trace = {}
      local function section(name)
        trace[#trace + 1] = name .. '+'
        skynet.sleep(5)
        trace[#trace + 1] = name .. '-'
      end
      local done = 0
      for _, name in ipairs({'a', 'b', 'c'}) do
        skynet.fork(function() cs(section, name) done = done + 1 end)
      end
      while done < 3 do skynet.sleep(1) end
      return table.concat(trace, ' ')
    """
    assert await node.call(probe, "lua", "eval", code) == "a+ a- b+ b- c+ c-"


async def test_response_can_be_used_only_once(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    b = await node.newservice("probe")
    code = f"""
      local skynet = require 'skynet'
      return skynet.call({b}, 'lua', 'eval', [[
        local skynet = require 'skynet'
        skynet.dispatch('text', function()
          local reply = skynet.response(tostring)
          reply(true, 'first')
          local ok, err = pcall(reply, true, 'second')
          skynet.error('second reply: ' .. tostring(err))
        end)
        return 'ok'
      ]]), skynet.call({b}, 'text', 'go')
    """
    assert await node.call(probe, "lua", "eval", code) == ("ok", "first")


async def test_abort_stops_the_node_with_status_zero(autojump_clock) -> None:
    services = Path(__file__).parents[1] / "services" / "core"
    node = Node({"luaservice": f"{services}/?.lua", "start": "aborter"}, log=lambda line: None)
    with trio.fail_after(5):
        status = await node.run()
    assert status == 0


async def test_skynet_call_outside_a_coroutine_is_a_clear_error(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    launched = await node.call(
        probe, "lua", "pcall", ".launcher", "LAUNCH", "snlua", "calls_at_top"
    )
    assert launched[0] is False
    assert "can only be used in a service coroutine" in launched[1]
