"""skynet.request / select: several calls at once, answers as they come."""

from __future__ import annotations

from apinode import api_node, run_lua
from conftest import Lines

PREFIX = """
  local skynet = require 'skynet'
  local slave = skynet.newservice('slave')
  local seen = {}
"""


async def test_answers_come_in_the_order_they_are_ready(autojump_clock) -> None:
    async with api_node() as node:
        code = (
            PREFIX
            + """
          for req, resp in skynet.request
            { slave, 'lua', 'ping', 30, 'thirty' }
            { slave, 'lua', 'ping', 10, 'ten' }
            { slave, 'lua', 'ping', 20, 'twenty' }
            :select() do
            seen[#seen + 1] = resp[1] .. '=' .. req[4] .. '@' .. skynet.now()
          end
          return table.concat(seen, ' ')
        """
        )
        got = (await run_lua(node, code)).split()
        assert [x.split("@")[0] for x in got] == ["ten=10", "twenty=20", "thirty=30"]
        stamps = [int(x.split("@")[1]) for x in got]
        assert stamps[1] - stamps[0] == 10 and stamps[2] - stamps[1] == 10


async def test_select_with_a_timeout_stops_waiting_and_says_so(autojump_clock) -> None:
    log = Lines()
    async with api_node(log) as node:
        code = (
            PREFIX
            + """
          local reqs = skynet.request()
          for i = 1, 6 do
            reqs:add { slave, 'lua', 'ping', i * 10, 'p' .. i, token = i }
          end
          for req, resp in reqs:select(35) do
            seen[#seen + 1] = resp[1] .. '/' .. req.token
          end
          skynet.sleep(100) -- the late answers arrive and are ignored
          return table.concat(seen, ' '), reqs.timeout
        """
        )
        assert await run_lua(node, code) == ("p1/1 p2/2 p3/3", True)
    assert not log.matching("unknown session")


async def test_a_failed_request_answers_false_and_the_rest_go_on(autojump_clock) -> None:
    async with api_node() as node:
        code = (
            PREFIX
            + """
          for req, resp in skynet.request
            { slave, 'lua', 'fail' }
            { slave, 'lua', 'ping', 0, 'PING' }
            :select() do
            seen[#seen + 1] = resp and resp[1] or ('error:' .. req[3])
          end
          table.sort(seen)
          return table.concat(seen, ' ')
        """
        )
        assert await run_lua(node, code) == "PING error:fail"


async def test_a_request_to_an_invalid_address_comes_back_first_without_answer() -> None:
    async with api_node() as node:
        code = (
            PREFIX
            + """
          for req, resp in skynet.request
            { slave, 'lua', 'ping', 0, 'ok' }
            { 0x7fffff, 'lua', 'ping', 0, 'nobody' }
            :select() do
            seen[#seen + 1] = tostring(req[5]) .. ':' .. tostring(resp and resp[1])
          end
          return table.concat(seen, ' ')
        """
        )
        assert await run_lua(node, code) == "nobody:nil ok:ok"


async def test_leaving_the_loop_early_ignores_the_other_answers(autojump_clock) -> None:
    log = Lines()
    async with api_node(log) as node:
        code = (
            PREFIX
            + """
          for req, resp in skynet.request
            { slave, 'lua', 'ping', 10, 'first' }
            { slave, 'lua', 'ping', 20, 'second' }
            :select() do
            seen[#seen + 1] = resp[1]
            break
          end
          skynet.sleep(50)
          return table.concat(seen, ' '), skynet.task()
        """
        )
        assert await run_lua(node, code) == ("first", 0)
    assert not log.matching("unknown session")


async def test_a_call_inside_the_loop_works(autojump_clock) -> None:
    async with api_node() as node:
        code = (
            PREFIX
            + """
          for req, resp in skynet.request
            { slave, 'lua', 'ping', 20, 'b' }
            { slave, 'lua', 'ping', 10, 'a' }
            :select() do
            seen[#seen + 1] = skynet.call(slave, 'lua', 'ping', 0, 'in ' .. resp[1])
            skynet.sleep(50)
          end
          return table.concat(seen, ',')
        """
        )
        assert await run_lua(node, code) == "in a,in b"
