"""skynet's API over a service's coroutines: killthread, task, uniqtask,
context, trace_timeout, pcall, endless."""

from __future__ import annotations

from apinode import api_node, run_lua


async def test_killthread_drops_a_fork_that_has_not_run() -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local ran = false
          local co = skynet.fork(function() ran = true end)
          local killed = skynet.killthread(co)
          skynet.yield()
          return killed == co, ran
        """
        assert await run_lua(node, code) == (True, False)


async def test_killthread_closes_a_waiting_coroutine_by_name(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local closed, resumed = false, false
          local co = skynet.fork(function()
            local guard <close> = setmetatable({}, { __close = function() closed = true end })
            skynet.sleep(100)
            resumed = true
          end)
          skynet.yield()
          local name = tostring(co):match('0x%x+')
          local killed = skynet.killthread(name)
          skynet.sleep(200)
          return killed == co, closed, resumed, skynet.task(), skynet.killthread('nothing') == nil
        """
        assert await run_lua(node, code) == (True, True, False, 0, True)


async def test_task_lists_waiting_coroutines_as_skynet_does(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local co = skynet.fork(function() skynet.sleep(100) end)
          skynet.yield()
          local all = {}
          skynet.task(all)
          local key, trace = next(all)
          local session = skynet.task(co)
          return skynet.task(), key, trace, session, skynet.task(session) == trace
        """
        count, key, trace, session, same = await run_lua(node, code)
        assert count == 1 and key.endswith(f" session: {session}") and key.startswith("thread: ")
        assert trace.startswith("stack traceback:") and "eval:3" in trace and same is True


async def test_uniqtask_groups_identical_stacks(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local function park() skynet.sleep(100) end
          for i = 1, 3 do skynet.fork(park) end
          skynet.yield()
          local heads = {}
          for head in pairs(skynet.uniqtask()) do heads[#heads + 1] = head end
          return heads[1], #heads
        """
        head, n = await run_lua(node, code)
        assert n == 1 and head.startswith("3\tsessions:[") and head.endswith("]\n")


async def test_trace_timeout_shows_where_each_timer_was_set(autojump_clock) -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          skynet.trace_timeout(true)
          skynet.timeout(10, function() end)
          local all = {}
          skynet.task(all)
          skynet.trace_timeout(false)
          local _, trace = next(all)
          return trace
        """
        trace = await run_lua(node, code)
        assert trace.startswith("TIMER ") and "+10 : " in trace and "eval:4" in trace


async def test_context_is_the_session_and_source_of_the_request() -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          local session, source = skynet.context()
          return session > 0, source
        """
        assert await run_lua(node, code) == (True, node._host.handle)  # type: ignore[union-attr]


async def test_pcall_is_lua_pcall_and_endless_is_false_for_a_quick_service() -> None:
    async with api_node() as node:
        code = """
          local skynet = require 'skynet'
          return skynet.pcall == pcall, skynet.endless(), skynet.stat('endless')
        """
        assert await run_lua(node, code) == (True, False, 0)
