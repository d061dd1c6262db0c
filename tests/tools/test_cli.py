"""``skylet run``: exit statuses and one-line errors, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = Path(__file__).parents[1] / "services" / "core"


def skylet(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skylet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], status: int, text: str) -> None:
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.stderr


def test_demo_runs_and_aborts_with_status_zero(tmp_path: Path) -> None:
    config = tmp_path / "demo_once.lua"
    config.write_text(
        f'include "{REPO / "config" / "demo.lua"}"\ndemo_exit = true\ndemo_port = 0\n'
    )
    result = skylet("run", str(config))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "demo: 3 players online, total score 18" in result.stdout


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = skylet("run", str(tmp_path / "nope.lua"))
    assert_one_line_error(result, 2, "config file not found")


def test_config_syntax_error_names_file_and_line_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.lua"
    config.write_text('thread = 1\nstart = "main"\nluaservice = = "x"\n')
    result = skylet("run", str(config))
    assert_one_line_error(result, 2, "bad.lua:3:")


def test_unknown_include_names_the_including_line_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "inc.lua"
    config.write_text('thread = 1\ninclude "missing.lua"\n')
    result = skylet("run", str(config))
    assert_one_line_error(result, 2, "inc.lua:2: include: cannot open")


def test_bad_thread_value_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "threads.lua"
    config.write_text("thread = 0\n")
    result = skylet("run", str(config))
    assert_one_line_error(
        result, 2, "threads.lua:1: config key 'thread' must be an integer from 1 to 256, not 0"
    )


@pytest.mark.parametrize("args", [(), ("run",), ("fly",), ("run", "a", "b")])
def test_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    result = skylet(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_service_that_fails_exits_1_with_its_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "boom.lua"
    config.write_text(f'luaservice = "{SERVICES}/?.lua"\nstart = "start_raises"\n')
    result = skylet("run", str(config))
    assert_one_line_error(result, 1, "start_raises.lua:5: start failed on purpose")
