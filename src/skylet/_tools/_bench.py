"""``skylet bench``: run the shared skynet workloads, each in a fresh node.

Every run is a separate ``skylet run`` process (so RSS figures are that
run's own), on a config generated from the workload's parameters. The
workload prints one ``BENCH name key=value ...`` line and aborts the node;
the runner keeps the median of each figure over the repeats, prints a
table beside skynet's figures and writes everything to JSON.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: skynet's figures (shared/bench/README.md), measured with thread = 2.
SKYNET = {
    "pingpong-4": ("roundtrips_per_s", 136_000),
    "pingpong-1": ("roundtrips_per_s", 145_000),
    "flood": ("msgs_per_s", 250_000),
    "spawn": ("us_per_service", 276),
    "cpu": ("secs", 0.39),
}


@dataclass
class Case:
    """One workload with its parameters, run at one thread count."""

    name: str
    start: str
    params: dict[str, Any]
    threads: int
    figures: dict[str, list[float]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)


def default_cases(threads: list[int], quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    cases = []
    for n in threads:
        cases += [
            Case("pingpong-4", "bench_pingpong", {"pairs": 4, "calls": 100_000 // scale}, n),
            Case("pingpong-1", "bench_pingpong", {"pairs": 1, "calls": 100_000 // scale}, n),
            Case("flood", "bench_flood", {"flood": 500_000 // scale}, n),
            Case("spawn", "bench_spawn", {"spawn": 2000 // scale, "spawn_warm": 200}, n),
            Case("cpu", "bench_cpu", {"workers": 4, "work": 20_000_000 // scale}, n),
        ]
    return cases


def _config(case: Case, workloads: Path, extra: dict[str, Any]) -> str:
    lines = [
        f"thread = {case.threads}",
        f'start = "{case.start}"',
        f'luaservice = "{workloads}/?.lua"',
        f'lua_path = "{workloads}/?.lua"',
    ]
    for key, value in {**case.params, **extra}.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _parse(stdout: str, name: str) -> dict[str, float]:
    for line in stdout.splitlines():
        if line.startswith(f"BENCH {name} "):
            pairs = (item.split("=", 1) for item in line.split()[2:])
            return {key: float(value) for key, value in pairs}
    raise RuntimeError(f"no BENCH {name} line in the output:\n{stdout[-2000:]}")


def run_case(case: Case, workloads: Path, extra: dict[str, Any]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.lua"
        config.write_text(_config(case, workloads, extra))
        result = subprocess.run(
            [sys.executable, "-m", "skylet", "run", str(config)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{case.name} failed ({result.returncode}): {result.stderr[-2000:]}")
    return _parse(result.stdout, case.start.removeprefix("bench_"))


def run(cases: list[Case], workloads: Path, repeat: int, extra: dict[str, Any]) -> list[Case]:
    for case in cases:
        for _ in range(repeat):
            for key, value in run_case(case, workloads, extra).items():
                case.figures.setdefault(key, []).append(value)
        case.medians = {k: statistics.median(v) for k, v in case.figures.items()}
        print(_row(case), flush=True)
    return cases


def _row(case: Case) -> str:
    key, skynet = SKYNET[case.name]
    ours = case.medians[key]
    better = ours <= skynet if key in ("us_per_service", "secs") else ours >= skynet
    extra = ""
    if case.name == "spawn":
        extra = (
            f"  rss {case.medians['rss_kb_per_service']:.1f} KB"
            f"  lua {case.medians['lua_kb_per_service']:.1f} KB"
        )
    return (
        f"{case.name:<11} thread={case.threads}  {key:<17} {ours:>12,.3f}"
        f"  skynet {skynet:>10,}  {'meets' if better else 'below'}{extra}"
    )


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="skylet bench", description=__doc__)
    parser.add_argument("--workloads", type=Path, default=Path("bench/workloads"))
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated case names (e.g. flood,cpu)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the work")
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config key for every run (e.g. msgpack=lua)",
    )
    args = parser.parse_args(argv)
    workloads = args.workloads.resolve()
    if not (workloads / "bench_pingpong.lua").is_file():
        parser.error(f"no workloads in {workloads} (run from the repository root)")
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = int(value) if value.isdigit() else value
    threads = [int(n) for n in args.threads.split(",")]
    cases = default_cases(threads, args.quick)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
    started = time.time()
    run(cases, workloads, args.repeat, extra)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "machine": {"cpus": _cpus(), "python": platform.python_version()},
                "repeat": args.repeat,
                "extra": extra,
                "skynet": SKYNET,
                "cases": [asdict(c) for c in cases],
            },
            indent=2,
        )
    )
    print(f"figures written to {args.json}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
