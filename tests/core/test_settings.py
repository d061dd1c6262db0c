"""Every config key the node reads is checked: type and range, one line naming key and value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import skylet
from skylet import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thread", "abc", "'thread' must be an integer from 1 to 256, not 'abc'"),
        ("thread", 0, "'thread' must be an integer from 1 to 256, not 0"),
        ("thread", 100000, "'thread' must be an integer from 1 to 256, not 100000"),
        ("thread", 1.5, "'thread' must be an integer from 1 to 256, not 1.5"),
        ("thread", True, "'thread' must be an integer from 1 to 256, not True"),
        ("harbor", "x", "'harbor' must be an integer from 0 to 255, not 'x'"),
        ("harbor", 300, "'harbor' must be an integer from 0 to 255, not 300"),
        ("service_memlimit", "lots", "'service_memlimit' must be an integer from 0 to"),
        ("service_memlimit", -1, "'service_memlimit' must be an integer from 0 to"),
        ("runaway_timeout", "soon", "'runaway_timeout' must be a number of seconds"),
        ("runaway_timeout", -5, "'runaway_timeout' must be a number of seconds"),
        ("bootstrap", "nothing", "'bootstrap' must be \"snlua NAME\", not 'nothing'"),
        ("bootstrap", 3, "'bootstrap' must be \"snlua NAME\", not 3"),
        ("start", 5, "'start' must be a string, not 5"),
        ("luaservice", "./service/main.lua", "'luaservice' must be a string of"),
        ("lua_path", False, "'lua_path' must be a string of"),
        ("logger", 12, "'logger' must be a file name or false, not 12"),
        ("debug_console", "eight thousand", "'debug_console' must be a port from 0 to 65535"),
        ("debug_console", 70000, "'debug_console' must be a port from 0 to 65535"),
        ("debug_console_public", "yes", "'debug_console_public' must be true or false"),
    ],
)
def test_a_bad_value_is_one_line_naming_key_and_value(
    key: str, value: object, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        skylet.Node({key: value})
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thread", "2"),  # skynet reads numbers written as strings
        ("thread", 256),
        ("harbor", 0),
        ("service_memlimit", 0),
        ("runaway_timeout", 0),
        ("runaway_timeout", "2.5"),
        ("bootstrap", "snlua bootstrap"),
        ("logger", False),
        ("debug_console", 8000),
        ("debug_console", "127.0.0.1:8000"),
        ("debug_console_public", "false"),
    ],
)
def test_good_values_pass(key: str, value: object) -> None:
    skylet.Node({key: value})


def test_the_cli_names_file_line_key_and_value_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.lua"
    config.write_text('thread = 1\nharbor = "north"\n')
    result = subprocess.run(
        [sys.executable, "-m", "skylet", "run", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"skylet: {config}:2: config key 'harbor' must be an integer from 0 to 255, not 'north'"
    ]


def test_a_thread_count_far_too_high_fails_at_once(tmp_path: Path) -> None:
    config = tmp_path / "threads.lua"
    config.write_text("thread = 100000\n")
    result = subprocess.run(
        [sys.executable, "-m", "skylet", "run", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,  # it used to spend 33 s starting threads, then die
    )
    assert result.returncode == 2
    assert "must be an integer from 1 to 256, not 100000" in result.stderr
