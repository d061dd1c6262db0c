"""Message semantics: ordering and what survives packing between VMs."""

from __future__ import annotations

import skylet
from conftest import Lines


async def test_per_sender_fifo_order(node: skylet.Node) -> None:
    sink = await node.newservice("probe")
    sender = await node.newservice("probe")
    # 200 one-way sends from one Lua service, then 200 from Python.
    code = f"for i = 1, 200 do skynet.send({sink}, 'lua', 'record', i) end"
    await node.call(sender, "lua", "eval", "local skynet = require 'skynet' " + code)
    for i in range(201, 401):
        node.send(sink, "lua", "record", i)
    received = await node.call(sink, "lua", "received")
    assert received == list(range(1, 401))


async def test_nil_inside_argument_lists_survives(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    assert await node.call(a, "lua", "count", 1, None, 3, None) == 4
    assert await node.call(a, "lua", "echo", None, "x", None) == (None, "x", None)
    # Lua to Lua: b counts what a forwards, trailing nils included.
    assert await node.call(a, "lua", "call", b, "count", None, None, None) == 3


async def test_integers_stay_integers_and_floats_stay_floats(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    values = (1, 1.0, -3, 2.5, 2**62, 0.0)
    expected = "integer,float,integer,float,integer,float"
    assert await node.call(a, "lua", "types", *values) == expected
    assert await node.call(a, "lua", "call", b, "types", *values) == expected
    echoed = await node.call(a, "lua", "call", b, "echo", *values)
    assert [type(v) for v in echoed] == [int, float, int, float, int, float]


async def test_nested_tables_round_trip_between_vms(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    value = {"name": "hero", "pos": {"x": 1.5, "y": -2}, "items": [1, 2, {"deep": [True, False]}]}
    assert await node.call(a, "lua", "call", b, "echo", value) == value


async def test_100k_element_table_round_trips(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    big = list(range(100_000))
    assert await node.call(a, "lua", "call", b, "echo", big) == big


async def test_binary_and_text_strings(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    blob = bytes(range(256))
    assert await node.call(a, "lua", "echo", blob, "héllo") == (blob, "héllo")


async def test_text_protocol_carries_raw_strings(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    code = f"""
      local skynet = require 'skynet'
      local got
      local reply = skynet.call({b}, 'lua', 'eval', [[
        local skynet = require 'skynet'
        skynet.dispatch('text', function(session, source, msg)
          skynet.ret(msg .. '!')
        end)
        return true
      ]])
      return skynet.call({b}, 'text', 'hi', 'there')
    """
    assert await node.call(a, "lua", "eval", code) == "hi there!"


async def test_messages_nobody_dispatches_and_the_handlers_for_them(
    node: skylet.Node, log: Lines
) -> None:
    # skynet.lua leaves these to skylet.skynet_extra, loaded with the first one.
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    call_text = f"local skynet = require 'skynet' return pcall(skynet.call, {b}, 'text', 'hi')"
    ok, err = await node.call(a, "lua", "eval", call_text)
    assert ok is False and "has no dispatch for protocol 0" in err
    assert log.matching("Unknown request (0): 2 bytes from")
    # A response nobody waits for is logged, and b goes on.
    stray = f"require 'skylet.core'.send({b}, 1, 4242, 'late')"
    await node.call(a, "lua", "eval", stray)
    assert await node.call(b, "lua", "echo", 1) == 1
    assert log.matching("Response for unknown session 4242 from")
    # The service's own handlers replace the defaults, which they are handed.
    install = """
      local skynet = require 'skynet'
      local old_request = skynet.dispatch_unknown_request(function(session, source, msg, p)
        error('custom: ' .. p .. ' ' .. msg, 0)
      end)
      local old_response = skynet.dispatch_unknown_response(function(session)
        skynet.error('custom response', session)
      end)
      return type(old_request), type(old_response)
    """
    assert await node.call(b, "lua", "eval", install) == ("function", "function")
    ok, err = await node.call(a, "lua", "eval", call_text)
    assert ok is False and "custom: 0 hi" in err
    await node.call(a, "lua", "eval", stray)
    assert await node.call(b, "lua", "echo", 2) == 2
    assert log.matching("custom response 4242")
