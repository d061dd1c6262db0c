"""skynet.service: unique services made from a function (service.new)."""

from __future__ import annotations

import pytest

import skylet

MAKE_ADDER = """
  local skynet = require 'skynet'
  local service = require 'skynet.service'
  local function adder(offset)
    local skynet = require 'skynet'
    skynet.start(function()
      skynet.dispatch('lua', function(_, _, x, y)
        skynet.ret(skynet.pack(x + y + tonumber(offset)))
      end)
    end)
  end
  local first = service.new('adder', adder, 100)
  local second = service.new('adder', adder, 999)
  return first, second, skynet.call(first, 'lua', 2, 3)
"""


async def test_service_new_launches_once_per_name_with_arguments(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    first, second, total = await node.call(probe, "lua", "eval", MAKE_ADDER)
    assert first == second
    assert total == 105
    # Another service asking for the same name gets the same address.
    other = await node.newservice("probe")
    code = "return require('skynet.service').query('adder')"
    assert await node.call(other, "lua", "eval", code) == first


async def test_query_waits_until_the_service_is_made(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      local service = require 'skynet.service'
      local queried
      skynet.fork(function() queried = service.query('later') end)
      skynet.sleep(10)
      local made = service.new('later', function()
        require('skynet').start(function() end)
      end)
      skynet.sleep(1)
      return made, queried
    """
    made, queried = await node.call(probe, "lua", "eval", code)
    assert made == queried


async def test_the_function_may_block_before_skynet_start(
    node: skylet.Node, autojump_clock: object
) -> None:
    # As in skynet, the function runs in a coroutine (skynet's
    # simplewebsocket example opens a socket in it without skynet.start).
    probe = await node.newservice("probe")
    code = """
      local service = require 'skynet.service'
      local made = service.new('sleeper', function(n)
        local skynet = require 'skynet'
        skynet.sleep(5)
        local started = skynet.now()
        skynet.start(function()
          skynet.dispatch('lua', function() skynet.ret(skynet.pack(tonumber(n), started)) end)
        end)
      end, 7)
      return require('skynet').call(made, 'lua')
    """
    n, started = await node.call(probe, "lua", "eval", code)
    assert n == 7 and started >= 5


async def test_a_function_with_upvalues_is_refused(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local captured = 1
      return require('skynet.service').new('bad', function() return captured end)
    """
    with pytest.raises(skylet.CallError, match="not the upvalue 'captured'"):
        await node.call(probe, "lua", "eval", code)


async def test_a_forged_token_loads_nothing(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local skynet = require 'skynet'
      return skynet.newservice('service_cell', 'forged', 123456)
    """
    with pytest.raises(skylet.CallError, match="no function under token 123456"):
        await node.call(probe, "lua", "eval", code)
