"""To-be-closed variables close when a handler raises, when a service exits
with coroutines suspended, and on pending waits (skynet's testtobeclosed)."""

from __future__ import annotations

import pytest

import skylet
from apinode import api_node
from conftest import Lines


async def test_a_raising_handler_closes_its_variables_with_the_error() -> None:
    log = Lines()
    async with api_node(log) as node:
        closer = await node.newservice("closer")
        with pytest.raises(skylet.CallError, match="boom"):
            await node.call(closer, "lua", "raise")
        assert log.matching("closed raise by  boom")
        # the close comes before the traceback, as in skynet
        closed = log.index(log.matching("closed raise")[0])
        assert log.index(log.matching("stack traceback")[0]) > closed


async def test_exit_closes_every_suspended_coroutine_and_runs_no_fork(autojump_clock) -> None:
    log = Lines()
    async with api_node(log) as node:
        closer = await node.newservice("closer")
        node.send(closer, "lua", "wait")
        with pytest.raises(skylet.CallError, match="exited"):
            await node.call(closer, "lua", "exit")
    closed = {line.split("] ", 1)[1] for line in log.matching("closed ")}
    assert closed == {
        "closed request waiting",
        "closed fork waiting",
        "closed fork sleeping",
        "closed fork calling",
        "closed exiting",
    }
    # the exiting coroutine closes last
    assert log.matching("closed ")[-1].endswith("closed exiting")
