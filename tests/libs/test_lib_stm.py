"""skynet.stm: one writer, readers that see the latest message without a call."""

from __future__ import annotations

import skylet
from conftest import SERVICES

WRITER = """
  local skynet = require 'skynet'
  local stm = require 'skynet.stm'
  OBJ = stm.new(skynet.pack(1, 2, 3))
  return stm.copy(OBJ)
"""

READ = """
  local skynet = require 'skynet'
  local stm = require 'skynet.stm'
  local ref = ...
  R = R or stm.newcopy(ref)
  return R(skynet.unpack)
"""


async def test_readers_see_each_new_version_once(node: skylet.Node) -> None:
    writer = await node.newservice("probe")
    reader = await node.newservice("probe")
    ref = await node.call(writer, "lua", "eval", WRITER)
    read = READ.replace("...", str(ref))
    assert await node.call(reader, "lua", "eval", read) == (True, 1, 2, 3)
    assert await node.call(reader, "lua", "eval", read) is False
    await node.call(writer, "lua", "eval", "OBJ(require('skynet').pack('x', 9)) return true")
    assert await node.call(reader, "lua", "eval", read) == (True, "x", 9)
    assert await node.call(reader, "lua", "eval", read) is False
    # Only the writer may update.
    command = "require('skylet.core').command"
    code = f"return tostring(select(2, pcall({command}, 'STM', 'update', {ref}, 'y')))"
    assert "only the service that made the object" in await node.call(reader, "lua", "eval", code)
    # The writer exits: its object is released, readers read false from then on.
    await node.call(writer, "lua", "eval", "OBJ(require('skynet').pack('last')) return true")
    node.kill(writer)
    assert await node.call(reader, "lua", "eval", read) is False


async def test_an_unknown_object_is_a_clear_error(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = "return tostring(select(2, pcall(require('skynet.stm').newcopy, 12345)))"
    assert "stm: no object 12345" in await node.call(probe, "lua", "eval", code)


SHAREMAP_SCHEMA = SERVICES / "stm" / "foobar.sp"

SHAREMAP_WRITER = f"""
  local sharemap = require 'skynet.sharemap'
  sharemap.register('{SHAREMAP_SCHEMA}')  -- its types, in sproto slot 0, as skynet's testsm
  W = sharemap.writer('foobar', {{ x = 0, y = 0, s = 'hello' }})
  return W:copy()
"""

SHAREMAP_READ = """
  local sharemap = require 'skynet.sharemap'
  R = R or sharemap.reader('foobar', REF)
  R:update()
  return R.x, R.y, R.s
"""


async def test_sharemap_reader_follows_commits(node: skylet.Node) -> None:
    writer = await node.newservice("probe")
    reader = await node.newservice("probe")
    ref = await node.call(writer, "lua", "eval", SHAREMAP_WRITER)
    read = SHAREMAP_READ.replace("REF", str(ref))
    assert await node.call(reader, "lua", "eval", read) == (0, 0, "hello")
    await node.call(writer, "lua", "eval", "W.x = 1 return true")
    assert await node.call(reader, "lua", "eval", read) == (0, 0, "hello")  # not committed
    await node.call(writer, "lua", "eval", "W:commit() W.s = 'world' W:commit() return true")
    assert await node.call(reader, "lua", "eval", read) == (1, 0, "world")
    code = "return select(2, pcall(function() R.x = 5 end)) ~= nil"
    assert await node.call(reader, "lua", "eval", code) is True  # readers cannot write
