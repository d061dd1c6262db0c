"""skynet.multicast (and multicastd): one publish reaches every subscriber."""

from __future__ import annotations

import skylet

SUBSCRIBE = """
  local skynet = require 'skynet'
  local mc = require 'skynet.multicast'
  local id = CHANNEL_ID
  GOT = GOT or {}
  CH = mc.new {
    channel = id,
    dispatch = function(c, source, ...)
      GOT[#GOT + 1] = table.concat({ tostring(c), skynet.address(source), ... }, ' ')
    end,
  }
  CH:subscribe()
  return tostring(CH)
"""

PUBLISH = """
  local mc = require 'skynet.multicast'
  local c = mc.new()
  C = c
  return c.channel, tostring(c)
"""


async def test_publish_reaches_every_subscriber_from_the_publisher(
    node: skylet.Node, autojump_clock
) -> None:
    publisher = await node.newservice("probe")
    channel, name = await node.call(publisher, "lua", "eval", PUBLISH)
    assert (channel, name) == (0, "[Multicast:0]")
    subs = [await node.newservice("probe") for _ in range(3)]
    for sub in subs:
        code = SUBSCRIBE.replace("CHANNEL_ID", str(channel))
        assert await node.call(sub, "lua", "eval", code) == "[Multicast:0]"
    await node.call(publisher, "lua", "eval", "C:publish('hello', 'world') return true")
    await node.call(publisher, "lua", "eval", "require('skynet').sleep(1) return true")
    me = f":{publisher:08x}"
    for sub in subs:
        assert await node.call(sub, "lua", "eval", "return GOT") == [
            f"[Multicast:0] {me} hello world"
        ]
    # Unsubscribed: the next publish passes that subscriber by.
    await node.call(subs[0], "lua", "eval", "CH:unsubscribe() return true")
    await node.call(publisher, "lua", "eval", "C:publish('again') return true")
    await node.call(publisher, "lua", "eval", "require('skynet').sleep(1) return true")
    assert len(await node.call(subs[0], "lua", "eval", "return GOT")) == 1
    assert len(await node.call(subs[1], "lua", "eval", "return GOT")) == 2


async def test_channels_get_distinct_ids_and_a_deleted_channel_delivers_nothing(
    node: skylet.Node, autojump_clock
) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local mc = require 'skynet.multicast'
      local a, b = mc.new(), mc.new()
      GOT = {}
      local sub = mc.new { channel = b.channel, dispatch = function(_, _, x) GOT[#GOT + 1] = x end }
      sub:subscribe()
      b:publish('one')
      skynet.sleep(1)
      b:delete()
      skynet.sleep(1)
      mc.new { channel = sub.channel }:publish('two')
      skynet.sleep(1)
      return a.channel, sub.channel, table.concat(GOT, ',')
    """
    assert await node.call(probe, "lua", "eval", code) == (0, 256, "one")


async def test_multicast_command_rejects_bad_arguments(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local command = require('skylet.core').command
      return tostring(select(2, pcall(command, 'MULTICAST', 'abc', 1, 0, 'x')))
    """
    assert "packed as uint32s" in await node.call(probe, "lua", "eval", code)
