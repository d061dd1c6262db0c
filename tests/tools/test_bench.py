"""``skylet bench``: configs, alternation, ratios, JSON, on real workload runs.

The tests marked for skynet run only when ``SKYLET_TEST_SKYNET`` names a
skynet build (made with shared/tools/build-skynet); CI has none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import skylet
from skylet._core._config import load_config
from skylet._tools._bench import main
from skylet._tools._bench_cases import Case, ScaleSteps, scale_cases
from skylet._tools._bench_compare import CaseResult, Run, schedule, verdict
from skylet._tools._bench_markdown import render
from skylet._tools._bench_runtimes import (
    BenchError,
    Runtime,
    Setup,
    pace,
    skylet_config,
    skynet_config,
)

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "bench" / "workloads"
SKYNET = os.environ.get("SKYLET_TEST_SKYNET")
needs_skynet = pytest.mark.skipif(
    not SKYNET, reason="set SKYLET_TEST_SKYNET to a skynet build to run this"
)

PINGPONG = Case("pingpong-4", "bench_pingpong", {"pairs": 4, "calls": 100}, ("roundtrips_per_s",))
SKYLET_1, SKYLET_2, SKYNET_2 = Runtime("skylet", 1), Runtime("skylet", 2), Runtime("skynet", 2)


def read_config(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "config.lua"
    path.write_text(text)
    return dict(load_config(path))


def bench(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any] | None]:
    out = tmp_path / "result.json"
    status = main(["--workloads", str(WORKLOADS), "--json", str(out), *args])
    return status, json.loads(out.read_text()) if out.exists() else None


# --- configs ---------------------------------------------------------------


def test_skynet_config_is_the_one_run_skynet_writes(tmp_path: Path) -> None:
    setup = Setup(WORKLOADS, Path("/opt/skynet"))
    config = read_config(tmp_path, skynet_config(PINGPONG, 2, setup))
    assert config["root"] == "/opt/skynet/"
    assert config["thread"] == 2
    assert config["harbor"] == 0
    assert config["start"] == "bench_pingpong"
    assert config["bootstrap"] == "snlua bootstrap"
    assert config["cpath"] == "/opt/skynet/cservice/?.so"
    assert config["luaservice"] == f"/opt/skynet/service/?.lua;{WORKLOADS}/?.lua"
    assert config["lualoader"] == "/opt/skynet/lualib/loader.lua"
    assert config["lua_path"] == (
        f"/opt/skynet/lualib/?.lua;/opt/skynet/lualib/?/init.lua;{WORKLOADS}/?.lua"
    )
    assert config["lua_cpath"] == "/opt/skynet/luaclib/?.so"
    # Parameters go in as strings, as run-skynet writes them.
    assert (config["pairs"], config["calls"]) == ("4", "100")


def test_skynet_config_ignores_skylet_only_keys(tmp_path: Path) -> None:
    setup = Setup(WORKLOADS, Path("/opt/skynet"), extra=(("msgpack", "lua"),))
    assert "msgpack" not in read_config(tmp_path, skynet_config(PINGPONG, 2, setup))
    assert read_config(tmp_path, skylet_config(PINGPONG, 1, setup))["msgpack"] == "lua"


def test_skylet_config_reads_back(tmp_path: Path) -> None:
    config = read_config(tmp_path, skylet_config(PINGPONG, 3, Setup(WORKLOADS)))
    assert config["thread"] == 3
    assert config["start"] == "bench_pingpong"
    assert config["luaservice"] == config["lua_path"] == f"{WORKLOADS}/?.lua"
    assert (config["pairs"], config["calls"]) == (4, 100)


def test_odd_paths_survive_the_config(tmp_path: Path) -> None:
    odd = Path('/tmp/a "quoted" \\ dir')
    config = read_config(tmp_path, skynet_config(PINGPONG, 2, Setup(odd, odd)))
    assert config["root"] == f"{odd}/"
    assert config["luaservice"].endswith(f";{odd}/?.lua")
    with pytest.raises(BenchError, match="line break"):
        skylet_config(PINGPONG, 1, Setup(Path("/tmp/two\nlines")))


# --- alternation and ratios --------------------------------------------------


def test_each_round_runs_every_runtime_once_in_flipped_order() -> None:
    rounds = schedule([SKYLET_1, SKYLET_2, SKYNET_2], 4)
    assert rounds == [
        [SKYLET_1, SKYLET_2, SKYNET_2],
        [SKYNET_2, SKYLET_2, SKYLET_1],
        [SKYLET_1, SKYLET_2, SKYNET_2],
        [SKYNET_2, SKYLET_2, SKYLET_1],
    ]


def result_of(figures: dict[Runtime, list[dict[str, float]]]) -> CaseResult:
    result = CaseResult(PINGPONG)
    for runtime, per_round in figures.items():
        for index, values in enumerate(per_round):
            result.runs.append(Run(index, runtime, values, 1.0))
    return result


def test_ratio_is_the_median_of_per_round_ratios() -> None:
    rate = "roundtrips_per_s"
    result = result_of(
        {
            SKYLET_1: [{rate: 100}, {rate: 200}, {rate: 300}],
            SKYNET_2: [{rate: 200}, {rate: 100}, {rate: 600}],
        }
    )
    ratio = result.ratios()["skylet@1/skynet@2"][rate]
    assert ratio["per_round"] == [0.5, 2.0, 0.5]
    assert ratio["median"] == 0.5  # the ratio of the medians would be 1.0
    assert ratio["better"] == "higher"
    assert result.medians() == {"skylet@1": {rate: 200}, "skynet@2": {rate: 200}}


def test_time_like_figures_are_better_lower() -> None:
    result = result_of(
        {
            SKYLET_1: [{"us_per_service": 300, "services": 10}],
            SKYNET_2: [{"us_per_service": 200, "services": 10}],
        }
    )
    ratios = result.ratios()["skylet@1/skynet@2"]
    assert set(ratios) == {"us_per_service"}  # echoed parameters get no ratio
    assert ratios["us_per_service"]["better"] == "lower"
    assert verdict(ratios["us_per_service"]["median"], "lower") == "skylet behind"
    assert verdict(0.8, "lower") == verdict(1.25, "higher") == "skylet ahead"


def test_a_round_missing_a_side_gives_no_ratio() -> None:
    rate = "roundtrips_per_s"
    result = result_of({SKYLET_1: [{rate: 100}, {rate: 300}], SKYNET_2: [{rate: 200}]})
    assert result.ratios()["skylet@1/skynet@2"][rate]["per_round"] == [0.5]


def test_scale_cases_share_the_round_trips_between_pairs() -> None:
    cases = scale_cases(ScaleSteps(pairs=(1, 16, 3), roundtrips=48, crowd=(), spawn=()))
    assert [(c.name, c.params["pairs"] * c.params["calls"]) for c in cases] == [
        ("pairs-1", 48),
        ("pairs-16", 48),
        ("pairs-3", 48),
    ]


# --- real runs on skylet -------------------------------------------------------


def test_real_runs_on_skylet_alternate_and_write_json(tmp_path: Path) -> None:
    status, document = bench(
        tmp_path,
        *("--suite", "scale", "--quick", "--only", "pairs-16,crowd-50", "--crowd", "50"),
        *("--repeat", "2", "--threads", "1,2"),
    )
    assert status == 0 and document is not None
    assert document["skynet"] is None
    assert document["skylet"]["threads"] == [1, 2]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if Path(skylet.__file__).resolve().is_relative_to(REPO):  # an editable install
        assert document["skylet"]["commit"].startswith(head)
    else:  # installed from a copy (CI): no git tree to name
        assert document["skylet"]["commit"] is None
    assert len(document["machine"]["load_at_start"]) == 3
    cpus = len(os.sched_getaffinity(0))
    pairs, crowd = document["cases"]
    for run in pairs["runs"] + crowd["runs"]:  # each CPU's pace, before and after
        assert [len(run["pace"]["before"]), len(run["pace"]["after"])] == [cpus, cpus]
        assert min(run["pace"]["before"] + run["pace"]["after"]) > 0
    assert [(r["round"], r["threads"]) for r in pairs["runs"]] == [(0, 1), (0, 2), (1, 2), (1, 1)]
    for run in pairs["runs"]:
        assert run["runtime"] == "skylet"
        assert run["figures"]["pairs"] == 16
        assert run["figures"]["pairs"] * run["figures"]["calls"] == 20_000
        assert run["figures"]["roundtrips_per_s"] > 0
    assert set(pairs["medians"]) == {"skylet@1", "skylet@2"}
    assert pairs["ratios"] == {}
    assert crowd["name"] == "crowd-50"
    assert {run["figures"]["idle"] for run in crowd["runs"]} == {50}
    assert {run["figures"]["messages"] for run in crowd["runs"]} == {20_000}


def write_workload(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "common.lua").write_text((WORKLOADS / "common.lua").read_text())
    (folder / "bench_pingpong.lua").write_text(
        f'local skynet = require "skynet"\nrequire "skynet.manager"\n{body}\n'
    )
    return folder


def test_a_run_without_figures_is_one_line_naming_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_workload(tmp_path / "w", "skynet.start(function() skynet.abort() end)")
    out = tmp_path / "result.json"
    status = main(
        ["--workloads", str(folder), "--json", str(out), "--only", "pingpong-1", "--threads", "1"]
    )
    assert status == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "pingpong-1 on skylet@1: no 'BENCH pingpong' line" in error
    assert json.loads(out.read_text())["cases"][0]["runs"] == []


def test_a_run_that_never_ends_is_stopped_at_the_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_workload(tmp_path / "w", 'skynet.start(function() print("stuck") end)')
    status = main(
        [
            *("--workloads", str(folder), "--json", str(tmp_path / "r.json")),
            *("--only", "pingpong-1", "--threads", "1", "--timeout", "3"),
        ]
    )
    assert status == 1
    error = capsys.readouterr().err.strip()
    assert "pingpong-1 on skylet@1: no result within 3 s; last output: stuck" in error


def skylet_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skylet", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_folder_that_is_no_skynet_build_is_a_usage_error(tmp_path: Path) -> None:
    result = skylet_bench("--skynet", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} is not a skynet build" in result.stderr


def test_an_unknown_case_is_a_usage_error() -> None:
    result = skylet_bench("--only", "pingpong-7")
    assert result.returncode == 2
    assert "no case pingpong-7 (known: " in result.stderr


def test_a_set_without_a_value_is_a_usage_error() -> None:
    result = skylet_bench("--set", "msgpack")
    assert result.returncode == 2
    assert "--set takes KEY=VALUE, not 'msgpack'" in result.stderr


# --- side by side with skynet ------------------------------------------------


@needs_skynet
def test_side_by_side_with_skynet_pairs_runs_by_round(tmp_path: Path) -> None:
    assert SKYNET
    status, document = bench(
        tmp_path,
        *("--skynet", SKYNET, "--quick", "--only", "pingpong-1", "--repeat", "2"),
        *("--threads", "1"),
    )
    assert status == 0 and document is not None
    commit = subprocess.run(
        ["git", "-C", SKYNET, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert document["skynet"] == {"dir": SKYNET, "commit": commit, "threads": [2]}
    (case,) = document["cases"]
    assert [(r["round"], r["runtime"], r["threads"]) for r in case["runs"]] == [
        (0, "skylet", 1),
        (0, "skynet", 2),
        (1, "skynet", 2),
        (1, "skylet", 1),
    ]
    runs = {(r["round"], r["runtime"]): r["figures"]["roundtrips_per_s"] for r in case["runs"]}
    ratio = case["ratios"]["skylet@1/skynet@2"]["roundtrips_per_s"]
    assert ratio["per_round"] == pytest.approx(
        [runs[(0, "skylet")] / runs[(0, "skynet")], runs[(1, "skylet")] / runs[(1, "skynet")]]
    )
    assert ratio["better"] == "higher"


@needs_skynet
def test_the_scale_workloads_run_on_skynet(tmp_path: Path) -> None:
    assert SKYNET
    status, document = bench(
        tmp_path,
        *("--skynet", SKYNET, "--suite", "scale", "--quick", "--repeat", "1", "--threads", "2"),
        *("--only", "pairs-256,crowd-50,spawn-500", "--crowd", "50"),
    )
    assert status == 0 and document is not None
    figures = {
        (case["name"], run["runtime"]): run["figures"]
        for case in document["cases"]
        for run in case["runs"]
    }
    assert figures[("pairs-256", "skynet")]["pairs"] == 256
    assert figures[("crowd-50", "skynet")]["idle"] == 50
    assert figures[("spawn-500", "skynet")]["services"] == 500
    assert figures[("spawn-500", "skynet")]["rss_kb_per_service"] > 0
    for case in document["cases"]:
        assert case["ratios"]["skylet@2/skynet@2"]


def test_markdown_gives_medians_ratio_ranges_and_load(tmp_path: Path) -> None:
    rate = "roundtrips_per_s"
    result = result_of(
        {
            SKYLET_1: [{rate: 100}, {rate: 200}, {rate: 300}],
            SKYNET_2: [{rate: 200}, {rate: 100}, {rate: 600}],
        }
    )
    result.load_before, result.load_after = (3.5, 2.0, 1.0), (4.25, 2.0, 1.0)
    document = {
        "when": "2026-11-29T18:30:00Z",
        "machine": {"cpus": 2, "load_at_start": [3.5, 2, 1], "load_now": [4.25, 2, 1]},
        "skylet": {"commit": "abc1234"},
        "skynet": {"commit": "f19d160", "dir": "/tmp/skynet"},
        "repeat": 3,
        "cases": [result.to_json()],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(document))
    status = main(["--markdown", str(path)])
    assert status == 0
    table = render(document)
    assert "skylet abc1234, skynet f19d160 (/tmp/skynet)" in table
    assert "| case | figure | better | skylet@1 | skynet@2 | skylet@1/skynet@2 |" in table
    row = "| pingpong-4 (pairs=4, calls=100) | roundtrips_per_s | higher | 200 | 200 |"
    assert f"{row} 0.50x (0.50-2.00) | 3.5-4.2 |" in table
    assert "Pace probes" not in table  # runs saved without them


def test_pace_times_the_loop_on_each_cpu_and_gives_the_process_its_cpus_back() -> None:
    allowed = os.sched_getaffinity(0)
    paces = pace(passes=1)
    assert len(paces) == len(allowed) and min(paces) > 0
    assert os.sched_getaffinity(0) == allowed


def test_markdown_gives_the_range_of_the_pace_probes() -> None:
    rate = "roundtrips_per_s"
    result = CaseResult(PINGPONG, load_before=(1.0, 1.0, 1.0), load_after=(1.0, 1.0, 1.0))
    result.runs += [
        Run(0, SKYLET_1, {rate: 300.0}, 1.0, [40.0, 25.0], [40.5, 41.0]),
        Run(0, SKYNET_2, {rate: 200.0}, 1.0, [26.0, 27.0], [41.0, 40.0]),
    ]
    document = {
        "when": "2026-11-29T21:30:00Z",
        "machine": {"cpus": 2, "load_at_start": [1, 1, 1], "load_now": [1, 1, 1]},
        "skylet": {"commit": "abc1234"},
        "skynet": {"commit": "f19d160", "dir": "/tmp/skynet"},
        "repeat": 1,
        "cases": [result.to_json()],
    }
    assert document["cases"][0]["runs"][0]["pace"] == {
        "before": [40.0, 25.0],
        "after": [40.5, 41.0],
    }
    table = render(document)
    assert "(pingpong-4). Pace probes 25.0-41.0 passes/s (1.64x between the slowest and" in table


def test_markdown_shows_each_curve_against_its_first_point() -> None:
    rate = "roundtrips_per_s"
    documents = []
    for pairs, ours, theirs in ((16, 50.0, 300.0), (1, 100.0, 200.0)):
        result = CaseResult(Case(f"pairs-{pairs}", "bench_pairs", {"pairs": pairs}, (rate,)))
        result.runs += [Run(0, SKYLET_1, {rate: ours}, 1.0), Run(0, SKYNET_2, {rate: theirs}, 1.0)]
        result.load_before = result.load_after = (1.0, 1.0, 1.0)
        documents.append(
            {
                "when": "2026-11-29T18:30:00Z",
                "machine": {"cpus": 2, "load_at_start": [1, 1, 1], "load_now": [1, 1, 1]},
                "skylet": {"commit": "abc1234"},
                "skynet": {"commit": "f19d160", "dir": "/tmp/skynet"},
                "repeat": 1,
                "cases": [result.to_json()],
            }
        )
    table = render(*documents)
    assert table.count("Measured 2026-11-29T18:30:00Z") == 2  # one line per saved run
    assert "| pairs-16 / pairs-1 | roundtrips_per_s | 0.50 | 1.50 |" in table
