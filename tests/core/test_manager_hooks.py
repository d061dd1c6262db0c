"""skynet.manager's skynet.forward_type, skynet.filter and skynet.monitor."""

from __future__ import annotations

import pytest

import skylet
from apinode import api_node, run_lua


async def test_forward_type_dispatches_one_type_as_another() -> None:
    async with api_node() as node:
        fwd = await node.newservice("forwarder")
        code = f"""
          local skynet = require 'skynet'
          skynet.register_protocol {{ name = 'client', id = skynet.PTYPE_CLIENT,
            pack = skynet.pack, unpack = skynet.unpack }}
          return skynet.call({fwd}, 'client', 'hi', 2)
        """
        assert await run_lua(node, code) == ("as lua", "hi", 2)
        assert await node.call(fwd, "lua", "plain") == ("as lua", "plain")


async def test_filter_sees_every_message_in_skynets_argument_order() -> None:
    async with api_node() as node:
        filt = await node.newservice("filtered")
        assert await node.call(filt, "lua", "one") == ("one", 1)
        assert await node.call(filt, "lua", "two") == ("two", 2)


async def test_monitor_hears_of_every_exit() -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          require 'skynet.manager'
          return skynet.monitor('exitwatch')
        """
        watcher = await run_lua(node, code)
        slave = await node.newservice("slave")
        with pytest.raises(skylet.CallError):
            await node.call(slave, "debug", "EXIT")
        node.kill(await node.newservice("slave"))
        exited = await node.call(watcher, "lua")
        assert slave in exited and len(exited) >= 2
