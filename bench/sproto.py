"""sproto messages/s for typical game packets, skylet beside skynet's sproto.

Runs ``bench/sproto/bench_sproto.lua`` (the same file on both) as the start
service of a fresh node, alternating skylet and skynet runs, and prints the
medians and their ratio. Usage:

    SKYNET_ROOT=/tmp/skynet python bench/sproto.py [--runs 5] [--iterations 100000]
        [--sproto auto|c|lua]

Without SKYNET_ROOT (a built skynet) only skylet runs.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "sproto"
LINE = re.compile(r"BENCH sproto (\S+) (.*)")


def figures(output: str) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for match in LINE.finditer(output):
        case, pairs = match.groups()
        found[case] = {k: float(v) for k, v in (p.split("=") for p in pairs.split())}
    if not found:
        raise SystemExit(f"no BENCH lines in:\n{output}")
    return found


def run_skylet(iterations: int, setting: str, tmp: Path) -> dict[str, dict[str, float]]:
    config = tmp / "skylet.lua"
    config.write_text(
        f'thread = 1\nstart = "bench_sproto"\nluaservice = "{HERE}/?.lua"\n'
        f'iterations = {iterations}\nsproto_core = "{setting}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "skylet", "run", str(config)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return figures(done.stdout + done.stderr)


def run_skynet(root: Path, iterations: int, tmp: Path) -> dict[str, dict[str, float]]:
    config = tmp / "skynet.config"
    config.write_text(
        f'root = "{root}/"\nthread = 1\nharbor = 0\nstart = "bench_sproto"\n'
        'bootstrap = "snlua bootstrap"\ncpath = root.."cservice/?.so"\n'
        f'luaservice = root.."service/?.lua;{HERE}/?.lua"\n'
        'lualoader = root.."lualib/loader.lua"\n'
        'lua_path = root.."lualib/?.lua;"..root.."lualib/?/init.lua"\n'
        'lua_cpath = root.."luaclib/?.so"\n'
        f'iterations = "{iterations}"\n'
    )
    done = subprocess.run(
        ["./skynet", str(config)], cwd=root, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    return figures(done.stdout + done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--sproto", default="auto", choices=("auto", "c", "lua"))
    args = parser.parse_args()
    root = os.environ.get("SKYNET_ROOT")
    results: dict[str, list[dict[str, dict[str, float]]]] = {"skylet": [], "skynet": []}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for _ in range(args.runs):
            results["skylet"].append(run_skylet(args.iterations, args.sproto, tmp))
            if root:
                results["skynet"].append(run_skynet(Path(root), args.iterations, tmp))
    print(f"sproto messages/s, median of {args.runs} alternating runs, "
          f"{args.iterations} iterations, skylet sproto = {args.sproto}")  # fmt: skip
    first = results["skylet"][0]
    for case, values in first.items():
        for key in values:
            if key == "bytes":
                continue
            ours = statistics.median(r[case][key] for r in results["skylet"])
            line = f"{case:9} {key:9} skylet {ours:>10,.0f}"
            if results["skynet"]:
                theirs = statistics.median(r[case][key] for r in results["skynet"])
                line += f"   skynet {theirs:>10,.0f}   skylet/skynet {ours / theirs:.2f}"
            print(line)


if __name__ == "__main__":
    main()
