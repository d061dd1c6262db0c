"""µs per call of skynet.netpack and skynet.crypt, timed inside a service.

netpack.filter cuts 32-byte packets (one per socket read, and four per
read popped from the queue); crypt calls include the Lua->Python crossing
of the CRYPT core command. Usage:

    python bench/libs.py [iterations]    (default 200000; crypt runs a tenth)
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

import skylet

HERE = Path(__file__).resolve().parent


async def main(iterations: int) -> None:
    async with skylet.open_node({"luaservice": f"{HERE / 'libs'}/?.lua"}) as node:
        bench = await node.newservice("libbench")
        print(await node.call(bench, "lua", iterations))


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
