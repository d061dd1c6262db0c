"""skynet.sharedata and skynet.datasheet: read-only proxies that follow updates."""

from __future__ import annotations

import skylet

NEW_AND_QUERY = """
  local sd = require 'skynet.sharedata'
  sd.new('cfg', { name = 'hero', stats = { hp = 10, mp = 3 }, list = { 'a', 'b', 'c' } })
  local t = sd.query('cfg')
  local keys = {}
  for k in pairs(t.stats) do keys[#keys + 1] = k end
  table.sort(keys)
  local items = {}
  for i, v in ipairs(t.list) do items[i] = v end
  local ro = select(2, pcall(function() t.name = 'x' end))
  return t.name, t.stats.hp, table.concat(keys, ','), #t.list, table.concat(items), ro,
    sd.query('cfg') == t
"""


async def test_query_reads_like_a_table_and_refuses_writes(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", NEW_AND_QUERY)
    name, hp, keys, n, items, ro, same = got
    assert (name, hp, keys, n, items, same) == ("hero", 10, "hp,mp", 3, "abc", True)
    assert "read-only" in ro


UPDATE_SEEN = """
  local skynet = require 'skynet'
  local sd = require 'skynet.sharedata'
  local t = sd.query('cfg')
  local stats = t.stats
  local before = stats.hp
  sd.update('cfg', { name = 'hero', stats = { hp = 99 } })
  skynet.sleep(1)
  return before, t.stats.hp, stats.hp, stats.mp == nil, t.list == nil or #t.list
"""


async def test_other_services_see_updates_in_kept_subtables(
    node: skylet.Node, autojump_clock
) -> None:
    writer = await node.newservice("probe")
    make = "require('skynet.sharedata').new('cfg', { stats = { hp = 1, mp = 2 }, list = { 1 } })"
    await node.call(writer, "lua", "eval", make + " return true")
    reader = await node.newservice("probe")
    # The reader keeps a subtable; the update comes from the reader itself here,
    # and a third service sees the new data on its first query.
    assert await node.call(reader, "lua", "eval", UPDATE_SEEN) == (1, 99, 99, True, True)
    third = await node.newservice("probe")
    code = "return require('skynet.sharedata').query('cfg').stats.hp"
    assert await node.call(third, "lua", "eval", code) == 99


CODE_AND_ERRORS = """
  local sd = require 'skynet.sharedata'
  sd.new('code', 'x = 1; y = { 2 }')            -- globals become the table
  sd.new('ret', 'return { z = ... }', 7)
  local dup = select(2, pcall(sd.new, 'code', {}))
  local missing = select(2, pcall(sd.query, 'nope'))
  local copy = sd.deepcopy('code')
  local part = sd.deepcopy('code', 'y')
  local z = sd.query('ret').z
  sd.delete('ret')
  return sd.query('code').x, sd.query('code').y[1], z, dup, missing,
    getmetatable(copy) == nil and copy.y[1], part[1]
"""


async def test_code_values_deepcopy_and_clear_errors(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    x, y, z, dup, missing, copied, part = await node.call(probe, "lua", "eval", CODE_AND_ERRORS)
    assert (x, y, z, copied, part) == (1, 2, 7, 2, 2)
    assert "exists already" in dup
    assert "sharedata nope does not exist" in missing


DATASHEET = """
  local skynet = require 'skynet'
  local builder = require 'skynet.datasheet.builder'
  local datasheet = require 'skynet.datasheet'
  builder.new('foobar', { a = 1, b = 2, c = { 3 } })
  local t = datasheet.query('foobar')
  local c = t.c
  local out = { t.a, t.c[1] }
  builder.update('foobar', { b = 4, c = { 5 } })
  skynet.sleep(1)
  out[#out + 1] = tostring(t.a)
  out[#out + 1] = c[1]
  builder.update('foobar', { a = 6, c = 7 })
  skynet.sleep(1)
  out[#out + 1] = t.a
  out[#out + 1] = t.c
  out[#out + 1] = #c
  out[#out + 1] = select(2, pcall(datasheet.query, 'none'))
  return table.concat(out, ' ')
"""


async def test_datasheet_follows_the_builder(node: skylet.Node, autojump_clock) -> None:
    probe = await node.newservice("probe")
    got = await node.call(probe, "lua", "eval", DATASHEET)
    assert got.startswith("1 3 nil 5 6 7 0 ")
    assert got.endswith("create data first")


async def test_a_reader_elsewhere_follows_an_update_it_did_not_make(
    node: skylet.Node, autojump_clock
) -> None:
    builder = await node.newservice("probe")
    reader = await node.newservice("probe")
    make = "require('skynet.datasheet.builder').new('s', { v = { n = 1 } }) return true"
    await node.call(builder, "lua", "eval", make)
    keep = "T = require('skynet.datasheet').query('s') V = T.v return V.n"
    assert await node.call(reader, "lua", "eval", keep) == 1
    update = "require('skynet.datasheet.builder').update('s', { v = { n = 2 } }) return true"
    await node.call(builder, "lua", "eval", update)
    await node.call(reader, "lua", "sleep", 1)  # the reader's watcher hears of it
    assert await node.call(reader, "lua", "eval", "return V.n, T.v == V") == (2, True)


async def test_shared_command_refuses_what_is_not_a_table(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local command = require('skylet.core').command
      local skynet = require 'skynet'
      return tostring(select(2, pcall(command, 'SHARED', 'put', 'k', skynet.packstring(1)))),
        tostring(select(2, pcall(command, 'SHARED', 'put', 'k', '\\xc1')))
    """
    not_table, garbage = await node.call(probe, "lua", "eval", code)
    assert "must be a table" in not_table
    assert "shared table" in garbage
