"""skynet.inject and skynet.injectcode: running code inside a live service."""

from __future__ import annotations

import skylet

INJECT = """
  local skynet = require 'skynet'
  local inject = require 'skynet.inject'
  local state = { hits = 3 }
  local function handler() return state end
  local ok, out = inject(skynet, [[
    local a, b = ...
    print('hits', _U.state.hits, a + b)
    _U.state.hits = 10
  ]], nil, { 1, 2, n = 2 }, handler)
  local bad_ok, bad = inject(skynet, 'error("boom")', 'fix.lua', nil, handler)
  local syntax_ok, syntax = inject(skynet, 'return (', nil, nil, handler)
  return ok, out[1], state.hits, bad_ok, bad[#bad], syntax_ok, syntax[1]
"""


async def test_inject_sees_upvalue_tables_and_collects_print(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", INJECT)
    ok, line, hits, bad_ok, bad, syntax_ok, syntax = got
    assert (ok, line, hits, bad_ok, syntax_ok) == (True, "hits\t3\t3", 10, False, False)
    assert "boom" in bad
    assert "(load)" in syntax


INJECTCODE = """
  local injectcode = require 'skynet.injectcode'
  local counter = 5
  local function live(x, ...)
    local y = x * 2 + counter - counter -- counter is an upvalue of live
    local code = 'y = y + counter; counter = counter + 1; return y + select("#", ...)'
    local ok, got = injectcode(code)
    return ok, got, y
  end
  local ok, got, y = live(1, 'a', 'b')
  local bad_ok, bad = injectcode('error("nope")')
  local far_ok, far = injectcode('return 1', nil, 50)
  return ok, got, y, counter, bad_ok, bad, far_ok, far
"""


async def test_injectcode_reads_and_writes_the_callers_locals(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", INJECTCODE)
    ok, value, y, counter, bad_ok, bad, far_ok, far = got
    assert (ok, value, y, counter) == (True, 9, 7, 6)
    assert bad_ok is False and "nope" in bad
    assert (far_ok, far) == (False, "Invalid level")


OTHER_COROUTINE = """
  local injectcode = require 'skynet.injectcode'
  local co = coroutine.create(function(a)
    local b = a + 1
    coroutine.yield()
    return b
  end)
  coroutine.resume(co, 10)
  local ok, seen = injectcode('b = b * 100; return a', co, 1)
  local _, result = coroutine.resume(co)
  return ok, seen, result
"""


async def test_injectcode_into_a_suspended_coroutine(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    assert await node.call(probe, "lua", "eval", OTHER_COROUTINE) == (True, 10, 1100)
