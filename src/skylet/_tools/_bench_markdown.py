"""``skylet bench --markdown RESULT.json...``: saved runs as Markdown tables.

One row per case and headline figure: each runtime's median, then each
skylet/skynet ratio as its median with the range of the per-round ratios,
and the one-minute load average before and after the case, so a table in
the docs says how loaded the machine was when it was measured; and the
range of the pace probes (a fixed Lua loop on each CPU before and after
every run), which says whether the CPUs changed speed meanwhile: the load
average does not see that (docs/benchmarks.md, "Two speeds").
"""

from __future__ import annotations

from typing import Any

from ._bench_cases import BETTER


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _ratio(ratio: dict[str, Any]) -> str:
    low, high = min(ratio["per_round"]), max(ratio["per_round"])
    return f"{ratio['median']:.2f}x ({low:.2f}-{high:.2f})"


def _rounds(count: int) -> str:
    return f"{count} round" if count == 1 else f"{count} rounds"


def _measured(document: dict[str, Any]) -> str:
    skynet = document.get("skynet") or {}
    machine = document["machine"]
    return (
        f"Measured {document['when']}, skylet {document['skylet']['commit']}"
        + (f", skynet {skynet['commit']} ({skynet['dir']})" if skynet else "")
        + f"; {_rounds(document['repeat'])} per case, the order flipped every round;"
        f" {machine['cpus']} CPUs, load average {tuple(machine['load_at_start'])} at the"
        f" start and {tuple(machine['load_now'])} at the end"
        f" ({', '.join(case['name'] for case in document['cases'])})."
    )


def _paces(document: dict[str, Any]) -> str:
    paces = [
        value
        for case in document["cases"]
        for run in case["runs"]
        for side in ("before", "after")
        for value in run.get("pace", {}).get(side, [])
    ]
    if not paces:  # saved before the probe
        return ""
    low, high = min(paces), max(paces)
    return (
        f" Pace probes {low:.1f}-{high:.1f} passes/s"
        f" ({high / low:.2f}x between the slowest and the fastest)."
    )


def render(*documents: dict[str, Any]) -> str:
    """One table for the cases of all ``documents`` (runs saved by ``skylet bench``)."""
    cases = [case for document in documents for case in document["cases"]]
    labels = list(dict.fromkeys(label for case in cases for label in case["medians"]))
    pairs = list(dict.fromkeys(pair for case in cases for pair in case["ratios"]))
    lines = [_measured(document) + _paces(document) for document in documents]
    lines += [
        "",
        "| case | figure | better | " + " | ".join([*labels, *pairs, "load before-after"]) + " |",
        "|" + " --- |" * (4 + len(labels) + len(pairs)),
    ]
    for case in cases:
        params = ", ".join(f"{k}={v}" for k, v in case["params"].items())
        for key in case["shown"]:
            medians = [case["medians"].get(label, {}).get(key) for label in labels]
            cells = [f"{case['name']} ({params})", key, BETTER.get(key, "")]
            cells += ["" if median is None else _number(median) for median in medians]
            cells += [
                _ratio(case["ratios"][pair][key]) if key in case["ratios"].get(pair, {}) else ""
                for pair in pairs
            ]
            cells.append(f"{case['load_before'][0]:.1f}-{case['load_after'][0]:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
    lines += _growth(cases, labels)
    return "\n".join(lines) + "\n"


def _growth(cases: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """How each runtime's figure moves along a curve (``pairs-1``, ``pairs-16``...).

    Each point is given as a multiple of the curve's smallest point, per
    runtime: how cost grows with the work, apart from where each starts.
    """
    curves: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for case in cases:
        stem, dash, size = case["name"].rpartition("-")
        if dash and size.isdigit():
            curves.setdefault(stem, []).append((int(size), case))
    rows = []
    for sized in curves.values():
        if len(sized) < 2:
            continue
        points = [case for _, case in sorted(sized, key=lambda point: point[0])]
        first = points[0]
        for case in points[1:]:
            for key in case["shown"]:
                cells = [f"{case['name']} / {first['name']}", key]
                for label in labels:
                    now = case["medians"].get(label, {}).get(key)
                    then = first["medians"].get(label, {}).get(key)
                    cells.append(f"{now / then:.2f}" if now is not None and then else "")
                rows.append("| " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "",
        "Along each curve, each runtime's median as a multiple of its own at the smallest point:",
        "",
        "| points | figure | " + " | ".join(labels) + " |",
        "|" + " --- |" * (2 + len(labels)),
        *rows,
    ]
