"""Global names (no leading dot) with skynet's harbor = 0 semantics."""

from __future__ import annotations

import pytest

import skylet
from apinode import api_node, run_lua
from conftest import Lines


async def test_a_service_registers_a_global_name_and_is_called_by_it() -> None:
    async with api_node() as node:
        handle = await node.newservice("named", "BANK")
        code = """
          local skynet = require 'skynet'
          return skynet.call('BANK', 'lua', 'hello', 1)
        """
        assert await run_lua(node, code) == ("BANK", "hello", 1)
        assert node.registry.names["BANK"] == handle


async def test_a_call_to_an_unregistered_name_waits_until_it_appears(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          skynet.timeout(50, function() skynet.newservice('named', 'LATE') end)
          local t0 = skynet.now()
          skynet.send('LATE', 'lua', 'sent first')
          local name, cmd = skynet.call('LATE', 'lua', 'called')
          return name, cmd, skynet.now() - t0
        """
        assert await run_lua(node, code) == ("LATE", "called", 50)


async def test_term_ends_a_call_waiting_for_a_name(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          skynet.fork(function()
            skynet.sleep(100)
            skynet.send(skynet.self(), 'debug', 'TERM', 'UNEXIST')
          end)
          local ok, err = pcall(skynet.call, 'UNEXIST', 'lua', 'test')
          return ok, err, skynet.now()
        """
        ok, err, _ = await run_lua(node, code)
        assert ok is False and "UNEXIST" in err and "skynet.term" in err


async def test_skynet_term_fails_every_call_to_that_address_only(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local slave = skynet.newservice('slave')
          local results = {}
          for i, target in ipairs({ 'NOBODY', 'NOBODY', slave }) do
            skynet.fork(function()
              local ok = pcall(skynet.call, target, 'lua', 'ping', 30, 'x')
              results[#results + 1] = (target == slave and 'slave' or target) .. '=' .. tostring(ok)
            end)
          end
          skynet.sleep(10)
          skynet.term('NOBODY')
          skynet.sleep(50)
          table.sort(results)
          return table.concat(results, ' ')
        """
        assert await run_lua(node, code) == "NOBODY=false NOBODY=false slave=true"


async def test_a_global_name_of_an_exited_service_fails_sends() -> None:
    async with api_node() as node:
        handle = await node.newservice("named", "GONE")
        with pytest.raises(skylet.CallError):
            await node.call(handle, "lua", "exit")
        code = """
          local skynet = require 'skynet'
          return skynet.send('GONE', 'lua', 'x'), pcall(skynet.call, 'GONE', 'lua', 'x')
        """
        sent, ok, err = await run_lua(node, code)
        assert sent is None and ok is False and "invalid address" in err
        # the name can be taken again
        again = await node.newservice("named", "GONE")
        assert node.registry.names["GONE"] == again


async def test_skynet_name_and_harbor_globalname_name_another_service() -> None:
    async with api_node() as node:
        slave = await node.newservice("named")
        code = f"""
          local skynet = require 'skynet'
          require 'skynet.manager'
          local harbor = require 'skynet.harbor'
          skynet.name('ALIAS', {slave})
          harbor.globalname('OTHER', {slave})
          harbor.link(0)
          return harbor.queryname('ALIAS'), harbor.queryname('OTHER'),
            harbor.queryname('.launcher') == skynet.localname('.launcher')
        """
        assert await run_lua(node, code) == (slave, slave, True)


async def test_harbor_queryname_waits_for_the_name(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local harbor = require 'skynet.harbor'
          local started
          skynet.timeout(30, function() started = skynet.newservice('named', 'SOON') end)
          local t0 = skynet.now()
          local handle = harbor.queryname('SOON')
          local waited = skynet.now() - t0
          skynet.sleep(10) -- newservice returns after the name is registered
          return handle == started, waited
        """
        assert await run_lua(node, code) == (True, 30)


async def test_bad_global_names_are_refused_with_a_clear_error() -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          require 'skynet.manager'
          local a, e1 = pcall(skynet.register, 'A_NAME_TOO_LONG_16')
          local b, e2 = pcall(skynet.register, '123')
          skynet.register('MINE')
          return tostring(e1), tostring(e2)
        """
        e1, e2 = await run_lua(node, code)
        assert "too long" in e1 and "number" in e2
        taken = """
          require 'skynet.manager'
          local ok, err = pcall(require('skynet').register, 'MINE')
          return ok, tostring(err)
        """
        ok, err = await run_lua(node, taken)
        assert ok is False and "already bound" in err


async def test_harbor_connect_says_there_is_no_other_harbor() -> None:
    log = Lines()
    async with api_node(log) as node:
        await run_lua(node, "require('skynet.harbor').connect(1)")
    assert log.matching("Can't connect to other harbor in single node mode")
