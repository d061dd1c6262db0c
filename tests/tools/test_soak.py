"""``bench/soak.py``: the soak workload, tiny, through the real CLI.

Each run is a fresh ``python -m skylet run`` node; the figures come from the
node's own SOAK lines, so the tool and its Lua services keep working.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
FAULTY = REPO / "tests" / "services" / "soak"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", REPO / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = load_soak()


def run(*args: str) -> list:
    return soak.soak(soak.arguments(["--interval", "20", "--timeout", "60", *args]))


def test_a_tiny_soak_loses_nothing_at_thread_1_and_2(capsys: pytest.CaptureFixture[str]) -> None:
    results = run("--messages", "20000", "--threads", "1,2")
    assert [r["thread"] for r in results] == ["1", "2"]
    for result in results:
        assert result.ok, result.figures
        assert result["lost"] == "0" and result["bad"] == "0"
        # every request, answer, one-way send and sync call counted, exactly
        assert int(result["messages"]) == 20000
        assert result.samples[0].messages == 0
        assert result.samples[-1].messages == 20000
        assert result.number("rss_kb_max") >= result.number("rss_kb_end") > 0
        assert result.number("msgs_per_s") > 0
    printed = capsys.readouterr().out
    assert "thread=1: " in printed and "thread=2: " in printed
    assert "| thread |" in soak.table(results)


def test_a_count_that_splits_unevenly_is_carried_exactly() -> None:
    (result,) = run("--messages", "12346", "--threads", "2", "--pairs", "3", "--senders", "1")
    assert result.ok, result.figures
    assert int(result["messages"]) == 12346


def test_payloads_too_long_to_travel_inside_the_message_arrive_whole() -> None:
    (result,) = run("--messages", "10000", "--threads", "2", "--payload", "100")
    assert result.ok, result.figures
    assert result["payload"] == "100"


def test_an_unanswered_request_is_reported_lost_not_waited_for() -> None:
    (result,) = run(
        *("--messages", "20000", "--threads", "2", "--stall", "1"),
        *("--services", str(FAULTY), "--set", "soak_callee=soak_deaf_callee"),
    )
    # each of the 8 callers waits forever for its answer to request 1000
    assert result["complete"] == "0"
    assert result["lost"] == "8"
    assert not result.ok


def test_parse_reads_the_soak_line_and_the_samples() -> None:
    result = soak.parse(
        "noise\n"
        "SOAK_SAMPLE t=0.00 messages=0 rss_kb=100 lua_kb=10 unanswered=0\n"
        "SOAK_SAMPLE t=1.00 messages=30 rss_kb=200 lua_kb=20 unanswered=0\n"
        "SOAK_SAMPLE t=2.00 messages=100 rss_kb=210 lua_kb=19 unanswered=0\n"
        "SOAK thread=2 scheduler=auto messages=100 secs=2.000 msgs_per_s=50 lost=0 bad=0 "
        "complete=1 rss_kb_start=100 rss_kb_end=210 rss_kb_max=210\n"
    )
    assert result.ok
    assert result.warm().rss_kb == 200  # the first sample past 25% of the messages
    assert result.growth("rss_kb") == pytest.approx(0.05)
    assert result.growth("lua_kb") == pytest.approx(-0.05)
    with pytest.raises(ValueError):
        soak.parse("SOAK_SAMPLE t=0.00 messages=0 rss_kb=1 lua_kb=1 unanswered=0\n")


def test_the_python_schedulers_carry_the_soak_too() -> None:
    (result,) = run("--messages", "20000", "--threads", "2", "--scheduler", "python")
    assert result.ok, result.figures
    assert result["scheduler"] == "python"
    assert int(result["messages"]) == 20000


def test_a_node_that_never_reports_is_killed_at_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "soak_main.lua").write_text(
        'local skynet = require "skynet"\nskynet.start(function() print("stuck") end)\n'
    )
    args = soak.arguments(["--threads", "1", "--timeout", "1", "--services", str(tmp_path)])
    config = soak.write_config(tmp_path, 1, args)  # its soak_main wins
    with pytest.raises(SystemExit, match=r"no SOAK line \(killed after 1 s\)\n.*stuck"):
        soak.run(config, verbose=False, timeout=1)
