"""snax: services of accept/response methods (skynet.snax, snaxd, snax.hotfix)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import skylet

SNAX = Path(__file__).parent.parent / "services" / "snax"


@pytest.fixture
async def node(node_with: Any) -> AsyncIterator[skylet.Node]:
    async with node_with(snax=f"{SNAX}/?.lua") as running:
        yield running


NEW_AND_USE = """
  local skynet = require 'skynet'
  local snax = require 'skynet.snax'
  local c = snax.newservice('counter', 'c1', 10)
  c.post.add(5)
  local label, n = c.req.get()
  local ok, err = pcall(c.req.fail)
  local missing = select(2, pcall(function() return c.req.nothing end))
  return tostring(c):match('^%[counter:%x+%]$') ~= nil, label, n, ok, err, missing
"""


async def test_post_req_and_errors(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    named, label, n, ok, err, missing = await node.call(probe, "lua", "eval", NEW_AND_USE)
    assert (named, label, n, ok) == (True, "c1", 15, False)
    assert "counter failed on purpose" in err
    assert "request counter:nothing no exist" in missing


UNIQUE = """
  local snax = require 'skynet.snax'
  local a = snax.uniqueservice('counter', 'u', 1)
  local b = snax.uniqueservice('counter', 'other', 2)
  local q = snax.queryservice('counter')
  return a.handle == b.handle, q.handle == a.handle, select(2, q.req.get())
"""


async def test_unique_and_query_through_service_mgr(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    assert await node.call(probe, "lua", "eval", UNIQUE) == (True, True, 1)


HOTFIX = """
  local snax = require 'skynet.snax'
  local c = snax.newservice('counter', 'h', 1)
  local old = snax.hotfix(c, [[
    local count
    function accept.add(n) count = count + 100 * n end
    function hotfix(x) local before = count count = x return before end
  ]], 7)
  c.post.add(1)
  local _, n = c.req.get()
  local bad = select(2, pcall(snax.hotfix, c, 'function accept.nope() end'))
  return old, n, bad
"""


async def test_hotfix_rebinds_to_the_live_state(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    old, n, bad = await node.call(probe, "lua", "eval", HOTFIX)
    assert (old, n) == (1, 107)
    assert "Patch mismatch accept.nope" in bad


PROFILE_AND_EXIT = """
  local skynet = require 'skynet'
  local snax = require 'skynet.snax'
  local c = snax.newservice('counter', 'p')
  c.req.slow(50)
  c.req.get()
  local info = snax.profile_info(c)
  local dbg = skynet.call(c.handle, 'debug', 'INFO')
  c.post.quit('bye', 'now')
  skynet.sleep(1)
  local gone = not pcall(c.req.get)
  return info.slow.count, info.slow.time < 0.4, info.get.count, dbg.get.count, gone
"""


async def test_profile_info_and_exit(node: skylet.Node, log: Any, autojump_clock) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", PROFILE_AND_EXIT)
    assert got == (1, True, 1, 1, True)
    assert log.matching("counter exits bye now")


async def test_missing_snax_file_fails_newservice(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = "return select(2, pcall(require('skynet.snax').newservice, 'nope'))"
    assert "nope" in await node.call(probe, "lua", "eval", code)
