"""``thread = N``: exclusivity and ordering with real worker threads."""

from __future__ import annotations

import trio

import skylet


async def test_a_service_is_never_dispatched_by_two_workers_and_sender_order_holds(
    node_with,
) -> None:
    async with node_with(thread=4) as node:
        sinks = [await node.newservice("exclusive") for _ in range(3)]
        hammers = [await node.newservice("hammer") for _ in range(6)]
        async with trio.open_nursery() as nursery:
            for hammer in hammers:
                nursery.start_soon(node.call, hammer, "lua", "go", 400, *sinks)
        for sink in sinks:
            handled, overlaps, disorder = await node.call(sink, "lua", "report")
            assert handled == 6 * 400
            assert overlaps == 0
            assert disorder == 0
        # The test means something only if worker threads really dispatched.
        workers = node.scheduler.dispatchers[1:]
        assert sum(1 for d in workers if d.version > 0) >= 2


async def test_calls_between_services_on_several_workers(node_with) -> None:
    async with node_with(thread=4) as node:
        probes = [await node.newservice("probe") for _ in range(8)]
        results: list[object] = []

        async def chain(i: int) -> None:
            a, b = probes[i], probes[(i + 1) % len(probes)]
            for n in range(50):
                results.append(await node.call(a, "lua", "call", b, "echo", i, n))

        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(chain, i)
        assert sorted(results) == sorted((i, n) for i in range(8) for n in range(50))


async def test_threaded_node_runs_timers_and_python_calls(node_with) -> None:
    async with node_with(thread=2) as node:
        probe = await node.newservice("probe")
        before = await node.call(probe, "lua", "now")
        after = await node.call(probe, "lua", "sleep", 2)
        assert after - before >= 2
        assert node.scheduler.threads == 2
        assert isinstance(await node.call(probe, "lua", "self"), int)


async def test_failure_rules_hold_on_worker_threads(node_with) -> None:
    async with node_with(thread=4) as node:
        probe = await node.newservice("probe")
        try:
            await node.call(probe, "lua", "raise", "threaded boom")
        except skylet.CallError as exc:
            assert "threaded boom" in str(exc)
        else:
            raise AssertionError("the handler error did not reach the caller")
        assert await node.call(probe, "lua", "echo", "ok") == "ok"
