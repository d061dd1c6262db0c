"""``skylet bench``: the shared workloads on skylet, side by side with skynet.

Each case runs in rounds (``--repeat``): in each round every runtime runs it
once in a fresh process, the order flipping between rounds. With
``--skynet DIR`` (a skynet build) skynet is one of the runtimes, and the
report gives, per figure, the median of the per-round ratios skylet/skynet
and which way is better. Everything goes to JSON as well.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._bench_cases import QUICK_STEPS, SUITES, Case, ScaleSteps, scale_cases, select, shared_cases
from ._bench_compare import CaseResult, Run, rows, schedule
from ._bench_markdown import render
from ._bench_runtimes import BenchError, Runtime, Setup, pace, run_once


def _numbers(text: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(item.replace("_", "")) for item in text.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not numbers or min(numbers) < 0:
        raise argparse.ArgumentTypeError(f"not a list of integers >= 0: {text!r}")
    return numbers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skylet bench", description=__doc__)
    parser.add_argument("--workloads", type=Path, default=Path("bench/workloads"))
    parser.add_argument("--skynet", type=Path, metavar="DIR", help="a skynet build to compare")
    parser.add_argument("--threads", type=_numbers, default=(1, 2), help="skylet's, e.g. 1,2")
    parser.add_argument(
        "--skynet-threads", type=_numbers, default=(2,), help="skynet's (default 2, its own)"
    )
    parser.add_argument("--suite", choices=[*SUITES, "all"], default="shared")
    parser.add_argument(
        "--only", help="comma-separated case names from any suite (e.g. flood,pairs-16)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds per case (default 3)")
    parser.add_argument("--quick", action="store_true", help="small work, for a smoke test")
    parser.add_argument("--pairs", type=_numbers, help="scale: pairs per point (1,16,256,4096)")
    parser.add_argument("--crowd", type=_numbers, help="scale: idle services (0,10000)")
    parser.add_argument(
        "--spawn-steps", type=_numbers, help="scale: services to spawn (1000,10000,100000)"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        nargs="+",
        metavar="RESULT.json",
        help="print saved runs as Markdown tables (several: one table)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config key for every skylet run (e.g. msgpack=lua)",
    )
    return parser


def _cases(args: argparse.Namespace) -> list[Case]:
    steps = QUICK_STEPS if args.quick else ScaleSteps()
    steps = ScaleSteps(
        pairs=args.pairs or steps.pairs,
        roundtrips=steps.roundtrips,
        crowd=args.crowd if args.crowd is not None else steps.crowd,
        flood=steps.flood,
        spawn=args.spawn_steps or steps.spawn,
    )
    # --only picks from every suite; --suite matters without it.
    suite = "all" if args.only else args.suite
    cases: list[Case] = []
    if suite in ("shared", "all"):
        cases += shared_cases(args.quick)
    if suite in ("scale", "all"):
        cases += scale_cases(steps)
    return select(cases, args.only)


def _commit(folder: Path) -> str | None:
    """``git rev-parse --short HEAD`` in ``folder`` (``+`` when the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _load() -> tuple[float, ...]:
    return tuple(round(x, 2) for x in os.getloadavg())


@dataclass
class Session:
    """One ``skylet bench`` run: what it was run with, and the cases measured so far."""

    header: dict[str, Any]
    json_path: Path
    results: list[CaseResult] = field(default_factory=list)

    @classmethod
    def begin(cls, args: argparse.Namespace, setup: Setup) -> Session:
        header = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cpus": os.cpu_count() or 0,
                "python": platform.python_version(),
                "load_at_start": list(_load()),
            },
            "skylet": {
                # The package that runs (``-m skylet`` with this interpreter), not the workloads'.
                "commit": _commit(Path(__file__).resolve().parent),
                "lupa": _version("lupa"),
                "threads": list(args.threads),
            },
            "skynet": (
                {
                    "dir": str(setup.skynet),
                    "commit": _commit(setup.skynet),
                    "threads": list(args.skynet_threads),
                }
                if setup.skynet
                else None
            ),
            "repeat": args.repeat,
            "order": "each round runs every runtime once; every other round in reverse",
            "extra": dict(setup.extra),
        }
        return cls(header, args.json)

    def write(self) -> None:
        """The JSON as measured so far (written after every case, and on failure)."""
        document = {**self.header, "cases": [result.to_json() for result in self.results]}
        document["machine"] = {**self.header["machine"], "load_now": list(_load())}
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(json.dumps(document, indent=2) + "\n")


def _extra(items: list[str], parser: argparse.ArgumentParser) -> tuple[tuple[str, str | int], ...]:
    extra: list[tuple[str, str | int]] = []
    for item in items:
        key, equals, value = item.partition("=")
        if not key or not equals:
            parser.error(f"--set takes KEY=VALUE, not {item!r}")
        extra.append((key, int(value) if value.isdigit() else value))
    return tuple(extra)


def _measure(
    session: Session, cases: list[Case], runtimes: list[Runtime], setup: Setup, repeat: int
) -> Iterator[CaseResult]:
    """Run each case in alternating rounds; yield it once all its runs are in."""
    for case in cases:
        result = CaseResult(case, load_before=_load())
        session.results.append(result)
        for index, order in enumerate(schedule(runtimes, repeat)):
            for runtime in order:
                before = pace()
                figures, wall = run_once(case, runtime, setup)
                after = pace()
                result.runs.append(Run(index, runtime, figures, wall, before, after))
                # Progress on stderr (a spawn-100000 run takes minutes); stdout keeps the table.
                print(
                    f"  {case.name} round {index + 1}/{repeat} {runtime.label}: {wall:.1f} s"
                    f" (pace per CPU {before} before, {after} after)",
                    file=sys.stderr,
                    flush=True,
                )
        result.load_after = _load()
        session.write()
        yield result


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.markdown:
        try:
            documents = [json.loads(path.read_text()) for path in args.markdown]
            print(render(*documents), end="")
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"cannot render {' '.join(map(str, args.markdown))}: {error!r}")
        return 0
    workloads = args.workloads.resolve()
    if not (workloads / "bench_pingpong.lua").is_file():
        parser.error(f"no workloads in {workloads} (run from the repository root)")
    skynet = args.skynet.resolve() if args.skynet else None
    if skynet and not (os.access(skynet / "skynet", os.X_OK) and (skynet / "lualib").is_dir()):
        parser.error(f"{skynet} is not a skynet build (no skynet binary and lualib/ in it)")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        cases = _cases(args)
    except ValueError as error:
        parser.error(str(error))
    setup = Setup(workloads, skynet, _extra(args.set, parser), args.timeout)
    runtimes = [Runtime("skylet", n) for n in args.threads]
    if skynet:
        runtimes += [Runtime("skynet", n) for n in args.skynet_threads]
    session = Session.begin(args, setup)
    start_load = tuple(session.header["machine"]["load_at_start"])
    print(f"load average {start_load} at the start", flush=True)
    try:
        for result in _measure(session, cases, runtimes, setup, args.repeat):
            for line in rows(result):
                print(line, flush=True)
    except BenchError as error:
        session.write()
        print(f"skylet bench: {error}", file=sys.stderr)
        return 1
    print(f"load average {_load()} at the end; figures written to {args.json}")
    return 0
