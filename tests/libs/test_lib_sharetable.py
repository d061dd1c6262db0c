"""skynet.sharetable: tables loaded once, queried by name, updated in place."""

from __future__ import annotations

from pathlib import Path

import skylet

LOAD_AND_QUERY = """
  local st = require 'skynet.sharetable'
  st.loadtable('t', { x = 1, y = { 'hello' }, [3] = 2.5 })
  local t = st.query('t')
  st.loadstring('s', 'return { ... }', 1, 2, 3)
  local s = st.query('s')
  return t.x, t.y[1], math.type(t[3]), #s, s[3], st.query('missing') == nil
"""


async def test_load_and_query_keep_values_and_types(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", LOAD_AND_QUERY)
    assert got == (1, "hello", "float", 3, 3, True)
    # Another service queries the same data.
    other = await node.newservice("probe")
    code = "return require('skynet.sharetable').query('t').y[1]"
    assert await node.call(other, "lua", "eval", code) == "hello"


async def test_loadfile_runs_the_file_with_arguments(node: skylet.Node, tmp_path: Path) -> None:
    data = tmp_path / "conf.lua"
    data.write_text("local a, b = ...\nreturn { sum = a + b, list = { 'p', 'q' } }\n")
    probe = await node.newservice("probe")
    code = f"""
      local st = require 'skynet.sharetable'
      st.loadfile('{data}', 2, 40)
      local t = st.query('{data}')
      return t.sum, #t.list
    """
    assert await node.call(probe, "lua", "eval", code) == (42, 2)


QUERYALL = """
  local st = require 'skynet.sharetable'
  st.loadtable('one', { 1 })
  st.loadtable('two', { 2 })
  st.loadtable('three', { 3 })
  local some = st.queryall({ 'one', 'three', 'nope' })
  local all = st.queryall()
  local names = {}
  for name, t in pairs(all) do names[#names + 1] = name .. '=' .. t[1] end
  table.sort(names)
  return some.one[1], some.three[1], some.two == nil, some.nope == nil, table.concat(names, ',')
"""


async def test_queryall_with_names_and_without(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", QUERYALL)
    assert got == (1, 3, True, True, "one=1,three=3,two=2")


UPDATE = """
  local st = require 'skynet.sharetable'
  st.loadtable('cfg', { level = 1, sub = { a = 1, gone = true }, old = 'x' })
  local t = st.query('cfg')
  local sub = t.sub
  st.loadtable('cfg', { level = 2, sub = { a = 5 }, new = 'y' })
  local before = t.level
  st.update('cfg')
  return before, t.level, sub.a, sub.gone == nil, t.old == nil, t.new, t.sub == sub
"""


async def test_update_rewrites_the_tables_handed_out(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", UPDATE)
    assert got == (1, 2, 5, True, True, "y", True)


async def test_bad_load_fails_the_caller_and_keeps_the_old_table(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local st = require 'skynet.sharetable'
      st.loadtable('keep', { 1 })
      local ok, err = pcall(st.loadstring, 'keep', 'return {')
      local ok2, err2 = pcall(st.loadstring, 'keep', 'x = 1')
      return ok, err, ok2, err2, st.query('keep')[1]
    """
    ok, err, ok2, err2, kept = await node.call(probe, "lua", "eval", code)
    assert ok is False
    assert "expected" in err  # Lua's syntax error, through the daemon
    assert ok2 is False
    assert "Not a table, it's a nil." in err2  # sharetable's code must return the table
    assert kept == 1
