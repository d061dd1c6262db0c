"""Call round trips/s between Lua and Python services on one node.

    python bench/pyservice.py [--calls 20000] [--rounds 5]

Four pairs, caller -> callee, each a loop of ``call(target, "lua", "ping",
i)`` timed inside the caller: Lua -> Lua (the reference), Lua -> Python,
Python -> Lua and Python -> Python. Rounds alternate the pairs, so a machine
whose speed drifts affects them alike; each line gives the median rate over
the rounds and the median of the per-round ratios to Lua -> Lua (steadier
than either rate on a shared machine). Prints one ``BENCH pyservice`` line
per pair.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import trio

import skylet

HERE = Path(__file__).resolve().parent / "pyservice"

PAIRS = {
    "lua->lua": ("pinger", "echo"),
    "lua->python": ("pinger", "pyecho"),
    "python->lua": ("pypinger", "echo"),
    "python->python": ("pypinger", "pyecho"),
}


async def _measure(calls: int, rounds: int) -> dict[str, list[float]]:
    config = {"luaservice": f"{HERE}/?.lua", "pyservice": f"{HERE}/?.py"}
    rates: dict[str, list[float]] = {pair: [] for pair in PAIRS}
    async with skylet.open_node(config, log=lambda line: None) as node:
        services = {}
        for caller, callee in PAIRS.values():
            for name in (caller, callee):
                if name not in services:
                    services[name] = await node.newservice(name)
        for caller, callee in PAIRS.values():  # warm up
            await node.call(services[caller], "lua", "run", services[callee], calls // 10)
        for _ in range(rounds):
            for pair, (caller, callee) in PAIRS.items():
                seconds = await node.call(services[caller], "lua", "run", services[callee], calls)
                rates[pair].append(calls / seconds)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates = trio.run(_measure, args.calls, args.rounds)
    reference = rates["lua->lua"]
    for pair, values in rates.items():
        ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
        print(
            f"BENCH pyservice pair={pair} calls={args.calls} rounds={args.rounds}"
            f" median_rt_s={statistics.median(values):,.0f}"
            f" min={min(values):,.0f} max={max(values):,.0f}"
            f" ratio_to_lua_lua={ratio:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
