"""HTTP requests/s: skynet's examples/simpleweb.lua on skylet and on skynet.

The same unchanged example (from SKYNET_ROOT) runs on each runtime in turn,
as a process listening on 127.0.0.1:8001 (the example's port), and a load
client asks ``GET /hello?x=1`` over fresh connections (the example answers
one request per connection). The load client is ``wrk`` when it is
installed (``apt-get install wrk``), else a small trio client in this
process (which then shares the CPU with the servers: compare ratios only).

    SKYNET_ROOT=/path/to/skynet python bench/http.py --repeat 3 --seconds 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

PORT = 8001
PATH = "/hello?x=1"


def config(kind: str, where: Path, threads: int) -> Path:
    root = os.environ["SKYNET_ROOT"].rstrip("/")
    lines = ['start = "simpleweb"', "harbor = 0", f"thread = {threads}"]
    if kind == "skylet":
        lines.append(f'luaservice = "{root}/examples/?.lua"')
    else:
        lines += [
            'bootstrap = "snlua bootstrap"',
            f'cpath = "{root}/cservice/?.so"',
            f'luaservice = "{root}/service/?.lua;{root}/examples/?.lua"',
            f'lualoader = "{root}/lualib/loader.lua"',
            f'lua_path = "{root}/lualib/?.lua;{root}/lualib/?/init.lua"',
            f'lua_cpath = "{root}/luaclib/?.so"',
        ]
    path = where / f"{kind}.config"
    path.write_text("\n".join(lines) + "\n")
    return path


def start(kind: str, conf: Path) -> subprocess.Popen[bytes]:
    if kind == "skylet":
        cmd = [sys.executable, "-m", "skylet", "run", str(conf)]
    else:
        cmd = [os.environ["SKYNET_ROOT"].rstrip("/") + "/skynet", str(conf)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{kind} did not listen on {PORT}")


def wrk(seconds: float, connections: int) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "-H",
            "Connection: close",
            f"http://127.0.0.1:{PORT}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


async def trio_load(seconds: float, connections: int) -> float:
    done = 0
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()

    async def worker() -> None:
        nonlocal done
        while True:
            stream = await trio.open_tcp_stream("127.0.0.1", PORT)
            async with stream:
                await stream.send_all(request)
                answer = b""
                while chunk := await stream.receive_some(65536):
                    answer += chunk
            if answer.startswith(b"HTTP/1.1 200"):
                done += 1

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for _ in range(connections):
                nursery.start_soon(worker)
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skylet-threads", type=int, default=1)
    parser.add_argument("--skynet-threads", type=int, default=2)
    args = parser.parse_args()
    if "SKYNET_ROOT" not in os.environ:
        raise SystemExit("set SKYNET_ROOT to a built skynet checkout")
    use_wrk = shutil.which("wrk") is not None
    results: dict[str, list[float]] = {"skylet": [], "skynet": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for kind in results:
                threads = args.skylet_threads if kind == "skylet" else args.skynet_threads
                proc = start(kind, config(kind, Path(tmp), threads))
                try:
                    if use_wrk:
                        rate = wrk(args.seconds, args.connections)
                    else:
                        rate = trio.run(trio_load, args.seconds, args.connections)
                finally:
                    proc.terminate()
                    proc.wait()
                load = Path("/proc/loadavg").read_text().split()[0]
                print(f"{kind}: {rate:,.0f} requests/s (load {load})", flush=True)
                results[kind].append(rate)
    client = "wrk" if use_wrk else "trio client"
    for kind, rates in results.items():
        print(f"{kind} median: {statistics.median(rates):,.0f} requests/s ({client})")


if __name__ == "__main__":
    main()
