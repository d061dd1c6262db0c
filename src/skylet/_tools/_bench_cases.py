"""The benchmark cases: which workload runs with which parameters.

Two suites, both on the workload files in ``bench/workloads`` (they use only
skynet's core API, so the same files run on skynet and on skylet):

- ``shared``: the shared workloads, at the parameters skynet's figures were
  first taken with (pingpong, flood, spawn, cpu);
- ``scale``: how cost grows with the work: pingpong throughput over 1 to
  4,096 pairs (all launched before the clock starts), flood with thousands of
  idle services present, and spawn time and RSS per service up to 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Better = Literal["higher", "lower"]

#: Figures a runtime is judged by, and which way is better. The others a
#: workload prints (pairs, calls, services...) are its parameters echoed.
BETTER: dict[str, Better] = {
    "roundtrips_per_s": "higher",
    "msgs_per_s": "higher",
    "secs": "lower",
    "us_per_service": "lower",
    "rss_kb_per_service": "lower",
    "lua_kb_per_service": "lower",
    "spawn_secs": "lower",
}

SUITES = ("shared", "scale")


@dataclass(frozen=True)
class Case:
    """One workload run with fixed parameters; ``shown`` are its headline figures."""

    name: str
    start: str
    params: dict[str, int] = field(hash=False)
    shown: tuple[str, ...]

    @property
    def report(self) -> str:
        """The name on the workload's ``BENCH`` line."""
        return self.start.removeprefix("bench_")


@dataclass(frozen=True)
class ScaleSteps:
    """The points of the scaling curve (each one a case)."""

    pairs: tuple[int, ...] = (1, 16, 256, 4096)
    #: Round trips per pairs case, shared out between the pairs.
    roundtrips: int = 200_000
    crowd: tuple[int, ...] = (0, 10_000)
    flood: int = 200_000
    spawn: tuple[int, ...] = (1_000, 10_000, 100_000)


#: --quick: the same shape, small enough for a smoke test.
QUICK_STEPS = ScaleSteps(
    pairs=(1, 16, 256, 1024),
    roundtrips=20_000,
    crowd=(0, 1_000),
    flood=20_000,
    spawn=(500, 2_000),
)


def shared_cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    rate, spawn = ("roundtrips_per_s",), ("us_per_service", "rss_kb_per_service")
    return [
        Case("pingpong-4", "bench_pingpong", {"pairs": 4, "calls": 100_000 // scale}, rate),
        Case("pingpong-1", "bench_pingpong", {"pairs": 1, "calls": 100_000 // scale}, rate),
        Case("flood", "bench_flood", {"flood": 500_000 // scale}, ("msgs_per_s",)),
        Case("spawn", "bench_spawn", {"spawn": 2000 // scale, "spawn_warm": 200}, spawn),
        Case("cpu", "bench_cpu", {"workers": 4, "work": 20_000_000 // scale}, ("secs",)),
    ]


def scale_cases(steps: ScaleSteps) -> list[Case]:
    cases = [
        Case(
            f"pairs-{n}",
            "bench_pairs",
            {"pairs": n, "calls": max(1, steps.roundtrips // n)},
            ("roundtrips_per_s",),
        )
        for n in steps.pairs
    ]
    cases += [
        Case(f"crowd-{n}", "bench_crowd", {"idle": n, "flood": steps.flood}, ("msgs_per_s",))
        for n in steps.crowd
    ]
    cases += [
        Case(
            f"spawn-{n}",
            "bench_spawn",
            {"spawn": n, "spawn_warm": 200},
            ("us_per_service", "rss_kb_per_service"),
        )
        for n in steps.spawn
    ]
    return cases


def select(cases: list[Case], only: str | None) -> list[Case]:
    """The cases named in ``only`` (comma-separated), in suite order."""
    if not only:
        return cases
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {case.name for case in cases}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"no case {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [case for case in cases if case.name in wanted]
