"""The soak: millions of checked messages per thread count, no lost reply, flat RSS.

Runs ``bench/soak/soak_main.lua`` in a fresh ``python -m skylet run`` process
for each thread count: 8 caller/callee pairs and 4 one-way senders to 2 sinks
carry ``--messages`` messages in all (a request and its answer count two, a
one-way send one), every answer (i -> i + 1) and every sequence number
checked. The node samples its RSS and the Lua heaps of its services every
second (``SOAK_SAMPLE`` lines) and ends with one ``SOAK`` line. A run that
stops moving is stopped by the node itself and reports what is missing.

Usage::

    python bench/soak.py                                 # 10M messages at thread = 1, 2, 4
    python bench/soak.py --messages 2000000 --scheduler python
    python bench/soak.py --threads 2 --messages 100000 --verbose

Prints a table: messages/s, lost (requests never answered + sequence gaps +
one-way messages missing), RSS at the start, end and maximum, and the RSS and
Lua heap growth from the 25% mark (the first sample with a quarter of the
messages carried; RSS right after launch grows while the heaps warm up) to
the end. Exits 1 if any run lost a message, got a wrong answer or stopped.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SOAK = BENCH / "soak"
WORKLOADS = BENCH / "workloads"  # common.lua, the workloads' helpers


@dataclass
class Sample:
    t: float
    messages: int
    rss_kb: int
    lua_kb: int


@dataclass
class Result:
    """One run's ``SOAK`` line, its samples, and what is derived from them."""

    figures: dict[str, str]
    samples: list[Sample] = field(default_factory=list)

    def __getitem__(self, key: str) -> str:
        return self.figures[key]

    def number(self, key: str) -> float:
        return float(self.figures[key])

    @property
    def ok(self) -> bool:
        return (
            self.figures["lost"] == "0"
            and self.figures["bad"] == "0"
            and self.figures["complete"] == "1"
        )

    def warm(self, share: float = 0.25) -> Sample:
        """The first sample with ``share`` of the messages carried."""
        total = int(self.figures["messages"])
        for sample in self.samples:
            if sample.messages >= share * total and sample.messages > 0:
                return sample
        return self.samples[-1]

    def growth(self, what: str = "rss_kb") -> float:
        """Relative growth of ``what`` from the 25% mark to the last sample."""
        start, end = getattr(self.warm(), what), getattr(self.samples[-1], what)
        return end / start - 1 if start > 0 else 0.0


def parse(output: str) -> Result:
    """The ``SOAK`` and ``SOAK_SAMPLE`` lines of a node's output."""
    figures: dict[str, str] | None = None
    samples: list[Sample] = []
    for line in output.splitlines():
        words = line.split()
        if not words or words[0] not in ("SOAK", "SOAK_SAMPLE"):
            continue
        pairs = dict(word.split("=", 1) for word in words[1:])
        if words[0] == "SOAK":
            figures = pairs
        else:
            samples.append(
                Sample(
                    float(pairs["t"]),
                    int(pairs["messages"]),
                    int(pairs["rss_kb"]),
                    int(pairs["lua_kb"]),
                )
            )
    if figures is None or not samples:
        raise ValueError("no SOAK line in the output")
    return Result(figures, samples)


def write_config(folder: Path, thread: int, args: argparse.Namespace) -> Path:
    services = ";".join(f"{path}/?.lua" for path in [*args.services, SOAK])
    lines = [
        f"thread = {thread}",
        'start = "soak_main"',
        f'luaservice = "{services}"',
        f'lua_path = "{WORKLOADS}/?.lua"',
        f"soak_messages = {args.messages}",
        f"soak_pairs = {args.pairs}",
        f"soak_senders = {args.senders}",
        f"soak_payload = {args.payload}",
        f"soak_interval = {args.interval}",
        f"soak_stall = {args.stall}",
    ]
    if args.scheduler:
        lines.append(f'scheduler = "{args.scheduler}"')
    for item in args.set:
        key, _, value = item.partition("=")
        lines.append(f'{key} = "{value}"')
    path = folder / f"soak_{thread}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(config: Path, verbose: bool, timeout: float) -> Result:
    """Run one node to its ``skynet.abort()``, echoing its lines if ``verbose``.

    A node still running after ``timeout`` seconds is killed (the node stops
    a stalled soak itself; this is for a node that stops answering at all).
    """
    command = [sys.executable, "-m", "skylet", "run", str(config)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as node:
        assert node.stdout is not None
        killer = threading.Timer(timeout, node.kill)
        killer.start()
        lines = []
        try:
            for line in node.stdout:
                lines.append(line)
                if verbose:
                    print("  " + line, end="", flush=True)
            node.wait()
        finally:
            killed = not killer.is_alive()
            killer.cancel()
    output = "".join(lines)
    try:
        return parse(output)
    except ValueError:
        why = f"killed after {timeout:g} s" if killed else f"exit {node.returncode}"
        tail = "".join(lines[-20:])
        raise SystemExit(f"{config.name}: no SOAK line ({why})\n{tail}") from None


def table(results: list[Result]) -> str:
    header = (
        "| thread | scheduler | messages | secs | messages/s | lost | bad | complete "
        "| RSS MB start | RSS MB end | RSS MB max | RSS 25%->end | Lua heap 25%->end |"
    )
    rows = [header, "| " + " | ".join(["---"] * 13) + " |"]
    for r in results:
        mb = [f"{r.number(key) / 1024:.1f}" for key in ("rss_kb_start", "rss_kb_end", "rss_kb_max")]
        rows.append(
            "| "
            + " | ".join(
                [
                    r["thread"],
                    r["scheduler"],
                    f"{int(r['messages']):,}",
                    r["secs"],
                    f"{int(r['msgs_per_s']):,}",
                    r["lost"],
                    r["bad"],
                    r["complete"],
                    *mb,
                    f"{r.growth('rss_kb'):+.1%}",
                    f"{r.growth('lua_kb'):+.1%}",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def series(result: Result, points: int = 12) -> str:
    """The RSS series in MB, thinned to about ``points`` samples."""
    samples = result.samples
    step = max(1, len(samples) // points)
    chosen = samples[::step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    return " ".join(f"{s.t:.1f}s:{s.rss_kb / 1024:.1f}" for s in chosen)


def soak(args: argparse.Namespace) -> list[Result]:
    """One node per thread count, one after the other."""
    results = []
    with tempfile.TemporaryDirectory(prefix="skylet-soak-") as tmp:
        for thread in (int(t) for t in args.threads.split(",")):
            result = run(write_config(Path(tmp), thread, args), args.verbose, args.timeout)
            results.append(result)
            print(
                f"thread={thread}: {int(result['msgs_per_s']):,} messages/s, "
                f"lost={result['lost']}, RSS MB {series(result)}",
                flush=True,
            )
    return results


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2,4", help="thread counts, one node each")
    parser.add_argument("--messages", type=int, default=10_000_000, help="messages per run")
    parser.add_argument("--scheduler", choices=("auto", "native", "python"), help="config key")
    parser.add_argument("--pairs", type=int, default=8, help="caller/callee pairs")
    parser.add_argument("--senders", type=int, default=4, help="one-way senders (to 2 sinks)")
    parser.add_argument(
        "--payload", type=int, default=0, help="bytes added to each message (40+: none inline)"
    )
    parser.add_argument("--interval", type=int, default=100, help="centiseconds between samples")
    parser.add_argument("--stall", type=int, default=10, help="seconds without progress: stop")
    parser.add_argument(
        "--services",
        action="append",
        default=[],
        help="a service folder searched before bench/soak",
    )
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE config string")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    parser.add_argument("--verbose", action="store_true", help="echo the node's output")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    results = soak(arguments(argv))
    print(table(results))
    for result in results:
        print(" ".join(f"{key}={value}" for key, value in result.figures.items()))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
