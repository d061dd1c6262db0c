"""Latency of injecting one hotfix into one service while N idle services run.

    python bench/bench_inject.py [--idle 100 10000] [--rounds 300]

Prints one ``BENCH inject`` line per node size. The figure must not grow with
the number of services: an inject is one debug message to one service.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import trio

import skylet

HERE = Path(__file__).resolve().parent / "inject"

FIX = """
local hotfix = require "skylet.hotfix"
local bump
return hotfix.patch("_P.lua.CMD.incr", function(n) return bump((n or 1) * 2) end)
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _measure(idle: int, rounds: int) -> None:
    config = {"luaservice": f"{HERE}/?.lua", "lua_path": f"{HERE}/?.lua"}
    async with skylet.open_node(config, log=lambda line: None) as node:
        started = time.perf_counter()
        for _ in range(idle):
            await node.newservice("idle")
        spawn_s = time.perf_counter() - started
        target = await node.newservice("counter")
        # Warm up: the first inject loads skylet.inject and skylet.hotfix.
        for _ in range(10):
            assert (await node.inject(target, FIX, "fix.lua")).ok
        inject_us: list[float] = []
        ping_us: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            result = await node.inject(target, FIX, "fix.lua")
            inject_us.append((time.perf_counter_ns() - t0) / 1000)
            assert result.ok, result.output
            t0 = time.perf_counter_ns()
            await node.call(target, "debug", "PING")
            ping_us.append((time.perf_counter_ns() - t0) / 1000)
        assert await node.call(target, "lua", "incr") > 0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"BENCH inject idle={idle} rounds={rounds}"
            f" median_us={statistics.median(inject_us):.1f}"
            f" p90_us={_percentile(inject_us, 0.9):.1f}"
            f" mean_us={statistics.fmean(inject_us):.1f}"
            f" ping_median_us={statistics.median(ping_us):.1f}"
            f" spawn_s={spawn_s:.1f} maxrss_mb={rss_mb:.0f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    for idle in args.idle:
        trio.run(_measure, idle, args.rounds)


if __name__ == "__main__":
    main()
