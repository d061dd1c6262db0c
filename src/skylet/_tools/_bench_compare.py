"""Alternating runs, their medians, and the median of per-round ratios.

A machine's speed drifts (on the project's VM, up to 2x over minutes), so
comparing one runtime's figures from one hour with the other's from another
says little. Each case is run in rounds: in every round each runtime runs
once, back to back, and the order flips each round (A B, B A, A B...) so
neither side always runs first. A ratio is taken within each round, where
both runs saw the same machine, and the median of those ratios is reported:
steadier than the ratio of the medians when the machine changes pace
between rounds.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from ._bench_cases import BETTER, Case
from ._bench_runtimes import Runtime


def schedule(runtimes: list[Runtime], repeat: int) -> list[list[Runtime]]:
    """The order of the runs: one round per repeat, every other one reversed."""
    forward = list(runtimes)
    return [forward if index % 2 == 0 else forward[::-1] for index in range(repeat)]


@dataclass
class Run:
    round: int
    runtime: Runtime
    figures: dict[str, float]
    wall_s: float
    #: The machine's pace per CPU just before and just after the run
    #: (:func:`._bench_runtimes.pace`; empty: not probed).
    pace_before: list[float] = field(default_factory=list)
    pace_after: list[float] = field(default_factory=list)


@dataclass
class CaseResult:
    """Every run of one case, with its load averages before and after."""

    case: Case
    runs: list[Run] = field(default_factory=list)
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()

    def labels(self) -> list[str]:
        return list(dict.fromkeys(run.runtime.label for run in self.runs))

    def medians(self) -> dict[str, dict[str, float]]:
        """label -> figure -> median over that runtime's runs."""
        result: dict[str, dict[str, float]] = {}
        for label in self.labels():
            runs = [run for run in self.runs if run.runtime.label == label]
            keys = dict.fromkeys(key for run in runs for key in run.figures)
            result[label] = {
                key: statistics.median(run.figures[key] for run in runs if key in run.figures)
                for key in keys
            }
        return result

    def ratios(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``skylet@N/skynet@M`` -> figure -> per-round ratios and their median."""
        by_round: dict[tuple[str, int], dict[str, float]] = {
            (run.runtime.label, run.round): run.figures for run in self.runs
        }
        ours = [label for label in self.labels() if label.startswith("skylet@")]
        theirs = [label for label in self.labels() if label.startswith("skynet@")]
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for mine in ours:
            for other in theirs:
                per_figure: dict[str, dict[str, Any]] = {}
                for key, better in BETTER.items():
                    per_round = [
                        by_round[(mine, r)][key] / by_round[(other, r)][key]
                        for r in sorted({run.round for run in self.runs})
                        if key in by_round.get((mine, r), {})
                        and by_round.get((other, r), {}).get(key)
                    ]
                    if per_round:
                        per_figure[key] = {
                            "median": statistics.median(per_round),
                            "per_round": per_round,
                            "better": better,
                        }
                result[f"{mine}/{other}"] = per_figure
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            "start": self.case.start,
            "params": self.case.params,
            "shown": list(self.case.shown),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "runs": [
                {
                    "round": run.round,
                    "runtime": run.runtime.kind,
                    "threads": run.runtime.threads,
                    "figures": run.figures,
                    "wall_s": round(run.wall_s, 3),
                    **(
                        {"pace": {"before": run.pace_before, "after": run.pace_after}}
                        if run.pace_before or run.pace_after
                        else {}
                    ),
                }
                for run in self.runs
            ],
            "medians": self.medians(),
            "ratios": self.ratios(),
        }


def verdict(ratio: float, better: str) -> str:
    """Which runtime a skylet/skynet ratio favours, in words."""
    if better == "higher":
        return "skylet ahead" if ratio > 1 else "skylet behind"
    return "skylet ahead" if ratio < 1 else "skylet behind"


def _figure(value: float) -> str:
    return f"{value:>10,.0f}" if abs(value) >= 100 else f"{value:>10.3f}"


def rows(result: CaseResult) -> list[str]:
    """The lines printed for a finished case."""
    medians = result.medians()
    ratios = result.ratios()
    lines = []
    for key in result.case.shown:
        cells = [f"{label} {_figure(figures[key])}" for label, figures in medians.items()]
        line = f"{result.case.name:<13} {key:<18} " + "  ".join(cells)
        for pair, figures in ratios.items():
            if key in figures:
                ratio = figures[key]
                line += (
                    f"  {pair} {ratio['median']:.2f}x ({ratio['better']} is better:"
                    f" {verdict(ratio['median'], ratio['better'])})"
                )
        lines.append(line)
    return lines
