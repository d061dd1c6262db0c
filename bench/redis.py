"""Redis round trips/s through skynet.db.redis against redis-benchmark's
figure for the same pattern on the same redis-server (one client; one
request at a time, and 16 in flight), and on skynet with SKYNET_ROOT set.

Starts its own redis-server (Debian's package) on a free port. Usage:

    python bench/redis.py [requests per case]   (default 20000)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ["ping", "set", "get", "set_pipeline16", "get_pipeline16", "get_16_coroutines"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_benchmark(port: int, n: int, pipeline: int) -> dict[str, float]:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "ping,set,get", "-c", "1",
         "-P", str(pipeline), "-n", str(n), "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rates = {}
    for line in out.splitlines()[1:]:
        fields = [f.strip('"') for f in line.split(",")]
        rates[fields[0]] = float(fields[1])
    return rates


def workload(where: Path, port: int, n: int, root: str | None) -> dict[str, float]:
    """Runs bench/redis/redisbench.lua on skylet (root None) or on skynet."""
    config = where / ("skynet.cfg" if root else "skylet.cfg")
    lines = [f'redis_port = "{port}"', f'redis_n = "{n}"', 'start = "redisbench"', "thread = 2"]
    if root:
        lines += [
            f'root = "{root}/"', "harbor = 0", 'bootstrap = "snlua bootstrap"',
            f'luaservice = root.."service/?.lua;{HERE / "redis"}/?.lua"',
            'lualoader = root.."lualib/loader.lua"',
            'lua_path = root.."lualib/?.lua;"..root.."lualib/?/init.lua"',
            'lua_cpath = root.."luaclib/?.so"', 'cpath = root.."cservice/?.so"',
        ]  # fmt: skip
        command = [f"{root}/skynet", str(config)]
    else:
        lines.append(f'luaservice = "{HERE / "redis"}/?.lua"')
        command = [sys.executable, "-m", "skylet", "run", str(config)]
    config.write_text("\n".join(lines) + "\n")
    out = subprocess.run(command, capture_output=True, text=True, timeout=600).stdout
    return {m[1]: float(m[2]) for m in re.finditer(r"^(\w+) (\d+)$", out, re.M)}


def main(n: int) -> None:
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server not found: apt-get install redis-server")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            single = redis_benchmark(port, n, 1)
            piped = redis_benchmark(port, n, 16)
            skylet = workload(Path(tmp), port, n, None)
            root = os.environ.get("SKYNET_ROOT")
            skynet = workload(Path(tmp), port, n, root) if root else {}
        finally:
            proc.terminate()
            proc.wait()
    reference = {
        "ping": single.get("PING_INLINE"), "set": single.get("SET"), "get": single.get("GET"),
        "set_pipeline16": piped.get("SET"), "get_pipeline16": piped.get("GET"),
        "get_16_coroutines": piped.get("GET"),
    }  # fmt: skip
    load = os.getloadavg()[0]
    print(f"requests/s, {n} per case, load average {load:.1f}")
    print(f"{'case':<20}{'redis-benchmark':>16}{'skylet':>10}{'skynet':>10}")
    for case in CASES:
        ref, ours, theirs = reference[case] or 0, skylet.get(case, 0), skynet.get(case, 0)
        print(f"{case:<20}{ref:>16,.0f}{ours:>10,.0f}{theirs:>10,.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
