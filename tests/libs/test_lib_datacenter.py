"""skynet.datacenter (and datacenterd): a node-wide tree of values."""

from __future__ import annotations

import skylet

SET_GET = """
  local dc = require 'skynet.datacenter'
  local first = dc.set('hello', 'world')
  local replaced = dc.set('hello', 'there')
  dc.set('a', 'b', 'c', 42)
  return first, replaced, dc.get('hello'), dc.get('a', 'b', 'c'), dc.get('a', 'b').c,
    dc.get('a', 'x', 'y'), dc.get('nothing'), 'end'
"""


async def test_set_returns_what_it_replaced_and_get_walks_the_path(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", SET_GET)
    assert got == (None, "world", "there", 42, 42, None, None, "end")
    # Another service sees the same tree.
    other = await node.newservice("probe")
    code = "return require('skynet.datacenter').get('hello')"
    assert await node.call(other, "lua", "eval", code) == "there"


WAITS = """
  local skynet = require 'skynet'
  local dc = require 'skynet.datacenter'
  local out = {}
  skynet.fork(function() out.leaf = dc.wait('key', 'leaf') end)
  skynet.fork(function() out.branch = { pcall(dc.wait, 'key') } end)
  skynet.fork(function() out.ready = dc.wait('hello') end)
  dc.set('hello', 'now')
  skynet.sleep(10)
  local before = out.leaf
  dc.set('key', 'leaf', 'bingo')
  skynet.sleep(1)
  return before, out.leaf, out.branch[1], out.ready
"""


async def test_wait_blocks_until_set_and_a_branch_wait_fails(
    node: skylet.Node, autojump_clock
) -> None:
    probe = await node.newservice("probe")
    before, leaf, branch_ok, ready = await node.call(probe, "lua", "eval", WAITS)
    assert before is None
    assert leaf == "bingo"
    assert branch_ok is False  # "key" became a branch: its waiter gets an error
    assert ready == "now"


async def test_unknown_command_fails_the_caller_only(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local d = skynet.uniqueservice('datacenterd')
      local ok, err = pcall(skynet.call, d, 'lua', 'NOPE')
      return ok, err, require('skynet.datacenter').set('still', 'up')
    """
    ok, err, _ = await node.call(probe, "lua", "eval", code)
    assert ok is False
    assert "unknown command NOPE" in err
