"""Running one case once, on skylet or on a skynet build.

Every run is a fresh process (so each RSS figure is that run's own) on a
config written to a temporary directory. The workload prints one
``BENCH name key=value ...`` line and aborts the node.

The skynet config is the one ``shared/bench/run-skynet`` writes: skynet's
own service and library paths under its root, the workloads folder appended
to ``luaservice`` and ``lua_path``, ``harbor = 0``, and each parameter as a
string key (skynet's ``getenv`` returns strings; the workloads ``tonumber``
them). The project holds no skynet code: the user points at a build.

:func:`pace` times a fixed Lua loop on each CPU, before and after every
run: on the project's VM each CPU's speed steps between two levels about
1.6x apart, independently, for a tenth of a second to minutes at a time (a
hardware thread shared below the guest; docs/benchmarks.md, "Two speeds"),
and a run's figures move with it. The probes say which speeds a session saw.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import lupa.lua54 as lupa

from ._bench_cases import Case

Kind = Literal["skylet", "skynet"]


class BenchError(Exception):
    """A run that gave no figures: the message is one line for the user."""


@dataclass(frozen=True)
class Runtime:
    """A runtime at one thread count (``skylet@2``)."""

    kind: Kind
    threads: int

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.threads}"


@dataclass(frozen=True)
class Setup:
    """What every run of a session shares."""

    workloads: Path
    skynet: Path | None = None
    #: Extra config keys for the skylet runs (``--set``); skynet ignores them.
    extra: tuple[tuple[str, str | int], ...] = ()
    timeout: float = 900.0


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal (paths go into configs this way)."""
    if any(ch in text for ch in "\n\r\0"):
        raise BenchError(f"cannot put {text!r} in a config: it holds a line break or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def skylet_config(case: Case, threads: int, setup: Setup) -> str:
    folder = lua_string(f"{setup.workloads}/?.lua")
    lines = [
        f"thread = {threads}",
        f"start = {lua_string(case.start)}",
        f"luaservice = {folder}",
        f"lua_path = {folder}",
    ]
    for key, value in [*case.params.items(), *setup.extra]:
        text = json.dumps(value) if isinstance(value, int) else lua_string(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def skynet_config(case: Case, threads: int, setup: Setup) -> str:
    assert setup.skynet is not None
    root = str(setup.skynet).rstrip("/") + "/"
    workloads = f"{setup.workloads}/?.lua"
    lines = [
        f"root = {lua_string(root)}",
        f"thread = {threads}",
        "harbor = 0",
        f"start = {lua_string(case.start)}",
        'bootstrap = "snlua bootstrap"',
        'cpath = root.."cservice/?.so"',
        f'luaservice = root.."service/?.lua;"..{lua_string(workloads)}',
        'lualoader = root.."lualib/loader.lua"',
        f'lua_path = root.."lualib/?.lua;"..root.."lualib/?/init.lua;"..{lua_string(workloads)}',
        'lua_cpath = root.."luaclib/?.so"',
    ]
    lines += [f"{key} = {lua_string(str(value))}" for key, value in case.params.items()]
    return "\n".join(lines) + "\n"


def parse(output: str, report: str) -> dict[str, float]:
    """The figures on the ``BENCH report ...`` line of ``output``."""
    for line in output.splitlines():
        if line.startswith(f"BENCH {report} "):
            pairs = (item.split("=", 1) for item in line.split()[2:])
            return {key: float(value) for key, value in pairs}
    raise BenchError(f"no 'BENCH {report}' line in the output")


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if "LAUNCH" not in line]
    return " | ".join(kept[-lines:]) or "(no output)"


#: One pass of the pace probe: integer arithmetic and small tables, as a
#: service's Lua does (about 22 ms on the project's VM at its faster speed).
PACE_LOOP = """function()
  local s = 0
  for i = 1, 1000000 do s = (s + i * i) % 1000003 end
  local t = {}
  for i = 1, 100000 do t[i & 1023] = {i} end
  return s
end"""


@cache
def _pace_pass() -> Any:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False)
    return runtime.eval(PACE_LOOP)


def pace(passes: int = 3) -> list[float]:
    """The machine's pace now, per CPU this process may use (in CPU order):
    passes per second of :data:`PACE_LOOP`, the median of ``passes``."""
    run = _pace_pass()
    allowed = sorted(os.sched_getaffinity(0))
    paces = []
    try:
        for cpu in allowed:
            os.sched_setaffinity(0, {cpu})
            rates = []
            for _ in range(passes):
                started = time.perf_counter()
                run()
                rates.append(1.0 / (time.perf_counter() - started))
            paces.append(round(statistics.median(rates), 2))
    finally:
        os.sched_setaffinity(0, allowed)
    return paces


def run_once(case: Case, runtime: Runtime, setup: Setup) -> tuple[dict[str, float], float]:
    """Run ``case`` once on ``runtime``: its figures and the wall time in seconds."""
    with tempfile.TemporaryDirectory(prefix="skylet-bench-") as tmp:
        config = Path(tmp) / "config.lua"
        if runtime.kind == "skylet":
            config.write_text(skylet_config(case, runtime.threads, setup))
            command, cwd = [sys.executable, "-m", "skylet", "run", str(config)], None
        else:
            assert setup.skynet is not None
            config.write_text(skynet_config(case, runtime.threads, setup))
            command, cwd = [str(setup.skynet / "skynet"), str(config)], setup.skynet
        where = f"{case.name} on {runtime.label}"
        started = time.perf_counter()
        try:
            result = subprocess.run(
                command,
                cwd=cwd,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=setup.timeout,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except subprocess.TimeoutExpired as timeout:
            out = timeout.stdout or ""
            text = out.decode(errors="replace") if isinstance(out, bytes) else out
            raise BenchError(
                f"{where}: no result within {setup.timeout:g} s; last output: {_tail(text)}"
            ) from None
        wall = time.perf_counter() - started
    output = result.stdout + result.stderr
    try:
        figures = parse(result.stdout, case.report)
    except BenchError as error:
        raise BenchError(
            f"{where}: {error} (exit status {result.returncode}); last output: {_tail(output)}"
        ) from None
    return figures, wall
