"""Cluster throughput: calls/s and MB/s between two nodes on 127.0.0.1.

Pairs: skylet->skylet, skylet->skynet, skynet->skylet, skynet->skynet (the
last three only with SKYNET_ROOT set to a built skynet checkout). Each run
starts a server node and a client node as processes; runs alternate between
pairs and the median of --repeat runs is printed.

    python bench/cluster.py                       # skylet<->skylet only
    SKYNET_ROOT=/path/to/skynet python bench/cluster.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "cluster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config(kind: str, where: Path, start: str, names: Path, extra: dict[str, object]) -> Path:
    lines = [f'start = "{start}"', f'cluster = "{names}"', 'cluster_self = "server"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    if kind == "skylet":
        lines.append(f'luaservice = "{HERE}/?.lua"')
    else:
        root = os.environ["SKYNET_ROOT"].rstrip("/")
        lines += [
            "thread = 2",
            "harbor = 0",
            'bootstrap = "snlua bootstrap"',
            f'cpath = "{root}/cservice/?.so"',
            f'luaservice = "{root}/service/?.lua;{HERE}/?.lua"',
            f'lualoader = "{root}/lualib/loader.lua"',
            f'lua_path = "{root}/lualib/?.lua;{root}/lualib/?/init.lua"',
            f'lua_cpath = "{root}/luaclib/?.so"',
        ]
    path = where / f"{kind}-{start}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def command(kind: str, cfg: Path) -> list[str]:
    if kind == "skylet":
        return [sys.executable, "-m", "skylet", "run", str(cfg)]
    root = os.environ["SKYNET_ROOT"]
    return [f"{root}/skynet", str(cfg)]


def run_pair(client: str, server: str, extra: dict[str, object]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        names = where / "names.lua"
        names.write_text(f'server = "127.0.0.1:{free_port()}"\n__nowaiting = true\n')
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        srv = subprocess.Popen(
            command(server, config(server, where, "cluster_server", names, {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            assert srv.stdout is not None
            for line in srv.stdout:
                if "READY" in line:
                    break
            out = subprocess.run(
                command(client, config(client, where, "cluster_client", names, extra)),
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
            ).stdout
        finally:
            srv.kill()
            srv.wait()
            if srv.stdout is not None:
                srv.stdout.close()
    figures = {}
    for line in out.splitlines():
        if line.startswith("BENCH"):
            _, what, n, secs = line.split()
            figures[what] = float(n) / float(secs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--bigcalls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    kinds = ["skylet", "skynet"] if os.environ.get("SKYNET_ROOT") else ["skylet"]
    pairs = [(c, s) for c in kinds for s in kinds]
    extra = {"calls": args.calls, "bigcalls": args.bigcalls, "concurrency": args.concurrency}
    results: dict[tuple[str, str], list[dict[str, float]]] = {p: [] for p in pairs}
    for _ in range(args.repeat):
        for pair in pairs:  # alternating, so load on the machine spreads over all
            results[pair].append(run_pair(*pair, extra))
    print(f"| client -> server | calls/s ({args.concurrency} in flight) | MB/s (64 KiB calls) |")
    print("| --- | --- | --- |")
    for (client, server), runs in results.items():
        calls = statistics.median(r.get("calls", 0) for r in runs)
        mbs = statistics.median(r.get("bytes", 0) for r in runs) / 1e6
        print(f"| {client} -> {server} | {calls:,.0f} | {mbs:,.1f} |")


if __name__ == "__main__":
    main()
