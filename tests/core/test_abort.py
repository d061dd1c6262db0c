"""skynet.abort() from the start service stops the node (bench workloads rely on it)."""

from __future__ import annotations

from pathlib import Path

import trio

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "codecache"


async def test_abort_in_the_start_function_stops_the_node(autojump_clock: trio.abc.Clock) -> None:
    printed: list[str] = []
    node = skylet.Node(
        {"luaservice": f"{SERVICES}/?.lua", "start": "abort_at_start"},
        log=[].append,
        stdout=printed.append,
    )
    # Before the fix the bootstrap never reported and run() waited forever.
    with trio.fail_after(60):
        status = await node.run()
    assert status == 0
    assert printed == ["stopping"]
