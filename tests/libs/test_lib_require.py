"""skynet.require and skynet.init: modules required by service coroutines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import skylet

HERE = Path(__file__).parent.parent / "services"
PATHS = {
    "luaservice": f"{HERE / 'core'}/?.lua;{HERE / 'require'}/?.lua",
    "lua_path": f"{HERE / 'require'}/?.lua",
}


async def test_init_runs_after_the_module_when_required_by_a_handler(node_with: Any) -> None:
    async with node_with(**PATHS) as node:
        probe = await node.newservice("probe")
        code = "return table.concat(require('initmod').order, ',')"
        assert await node.call(probe, "lua", "eval", code) == "body,init"


async def test_main_chunk_inits_wait_for_start(node_with: Any) -> None:
    async with node_with(**PATHS) as node:
        user = await node.newservice("mainuser")
        assert await node.call(user, "lua") == ("body", "body,init")


CONCURRENT = """
  local skynet = require 'skynet'
  local got = {}
  for i = 1, 3 do
    skynet.fork(function() got[i] = require('slowmod') end)
  end
  skynet.sleep(20)
  return LOADS, got[1] == got[2] and got[2] == got[3], got[1].inited
"""


async def test_concurrent_requires_wait_for_one_load(node_with: Any, autojump_clock) -> None:
    async with node_with(**PATHS) as node:
        probe = await node.newservice("probe")
        assert await node.call(probe, "lua", "eval", CONCURRENT) == (1, True, True)


FAILING = """
  local skynet = require 'skynet'
  local errs = {}
  for i = 1, 2 do
    skynet.fork(function() errs[i] = select(2, pcall(require, 'badmod')) end)
  end
  skynet.sleep(10)
  return errs[1], errs[2], package.loaded.badmod == nil
"""


async def test_a_failing_module_fails_every_waiter(node_with: Any, autojump_clock) -> None:
    async with node_with(**PATHS) as node:
        probe = await node.newservice("probe")
        first, second, unloaded = await node.call(probe, "lua", "eval", FAILING)
        assert "badmod cannot load" in first
        assert "require badmod failed" in second
        assert unloaded is True


async def test_init_outside_a_require_is_a_clear_error(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = "return select(2, pcall(require('skynet').init, function() end))"
    assert "main chunk or by a module being required" in await node.call(probe, "lua", "eval", code)
