"""Echo round trips per second through the gate, over N TCP connections.

A node runs skylet's gate with a watchdog and one echo agent per connection
(bench/echo_gate/*.lua). A separate client process (plain non-blocking
sockets and a selector, so the client is not the bottleneck) keeps one
packet in flight per connection: send a framed packet, wait for it to come
back, send the next. Prints one line:

    BENCH echo_gate connections=100 size=32 seconds=5.0 roundtrips=... roundtrips_per_s=...

Run from the repository root: ``python bench/echo_gate.py [--connections N]
[--seconds S] [--size BYTES] [--thread N]``.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def clients(port: int, connections: int, seconds: float, size: int, warmup: float) -> None:
    """The client process: prints {"roundtrips": n, "elapsed": s} as JSON."""
    packet = struct.pack(">H", size) + b"x" * size
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, bytearray())
        sock.send(packet)
    counted = 0
    started = time.perf_counter()
    measure_from = started + warmup
    deadline = measure_from + seconds
    measuring = False
    while True:
        now = time.perf_counter()
        if not measuring and now >= measure_from:
            measuring, counted, measure_from = True, 0, now
        if now >= deadline:
            break
        for key, _ in selector.select(timeout=1.0):
            sock, pending = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            data = sock.recv(65536)
            if not data:
                raise SystemExit("the server closed a connection")
            pending += data
            while len(pending) >= 2:
                (length,) = struct.unpack_from(">H", pending)
                if len(pending) < 2 + length:
                    break
                del pending[: 2 + length]
                counted += 1
                sock.send(packet)
    elapsed = time.perf_counter() - measure_from
    print(json.dumps({"roundtrips": counted, "elapsed": elapsed}))


async def serve_and_measure(args: argparse.Namespace) -> None:
    import trio

    import skylet

    config = {
        "thread": args.thread,
        "luaservice": f"{HERE / 'echo_gate'}/?.lua",
    }
    async with skylet.open_node(config, log=lambda line: None) as node:
        watchdog = await node.newservice("watchdog")
        _, port = await node.call(
            watchdog, "lua", "start", {"address": "127.0.0.1", "port": 0, "maxclient": 100_000}
        )
        done = await trio.run_process(
            [
                sys.executable,
                __file__,
                "--client-of",
                str(port),
                "--connections",
                str(args.connections),
                "--seconds",
                str(args.seconds),
                "--size",
                str(args.size),
            ],
            capture_stdout=True,
        )
    result = json.loads(done.stdout)
    rate = result["roundtrips"] / result["elapsed"]
    print(
        f"BENCH echo_gate connections={args.connections} size={args.size} "
        f"seconds={result['elapsed']:.1f} roundtrips={result['roundtrips']} "
        f"roundtrips_per_s={rate:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=32, help="payload bytes per packet")
    parser.add_argument("--thread", type=int, default=1, help="the node's thread setting")
    parser.add_argument("--client-of", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_of is not None:
        clients(args.client_of, args.connections, args.seconds, args.size, warmup=1.0)
        return
    import trio

    trio.run(serve_and_measure, args)


if __name__ == "__main__":
    main()
