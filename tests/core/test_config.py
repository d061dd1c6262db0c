"""Tests for skylet._core._config: skynet-format config files, dict configs, getenv strings."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from skylet._core._config import env_string, load_config, normalize_config
from skylet._core._errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | str) -> str:
    """Load ``path`` expecting a ConfigError; return its (single-line) message."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert "Traceback" not in message and "loader" not in message
    return message


# --- values -----------------------------------------------------------------


def test_plain_keys_of_each_type(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "config",
        'thread = 8\nratio = 0.25\nname = "gate"\ndaemon = false\nstandalone = true\n',
    )
    values = load_config(cfg)
    assert values == {
        "thread": 8,
        "ratio": 0.25,
        "name": "gate",
        "daemon": False,
        "standalone": True,
    }
    assert type(values["thread"]) is int
    assert type(values["ratio"]) is float
    assert type(values["daemon"]) is bool


def test_pathlike_and_str_paths(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config", "a = 1\n")
    assert load_config(cfg) == load_config(str(cfg)) == {"a": 1}


def test_expressions(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "config",
        "\n".join(
            [
                "n = 2 * 3 + 1",
                "half = 1 / 2",
                "floor = 7 // 2",
                "big = 2^10",
                'root = "./"',
                'path = root .. "service/?.lua;" .. root .. "lib/?.lua"',
                'up = ("abc"):upper()',
                'rep = ("ab"):rep(3, "-")',
                'fmt = ("%d-%s"):format(5, "x")',
                "len = #path",
                'utf = "h\\u{e9}llo"',
                "local tmp = 40",
                "answer = tmp + 2",
                "copy = n",
                "nothing = nil",
            ]
        ),
    )
    values = load_config(cfg)
    assert values["n"] == 7
    assert values["half"] == 0.5
    assert values["floor"] == 3 and type(values["floor"]) is int
    assert values["big"] == 1024.0 and type(values["big"]) is float
    assert values["path"] == "./service/?.lua;./lib/?.lua"
    assert values["up"] == "ABC"
    assert values["rep"] == "ab-ab-ab"
    assert values["fmt"] == "5-x"
    assert values["len"] == len("./service/?.lua;./lib/?.lua")
    assert values["utf"] == "héllo"
    assert values["answer"] == 42
    assert values["copy"] == 7
    assert "tmp" not in values and "nothing" not in values


def test_reassignment_to_nil_removes_key(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config", "t = {1, 2}\nfirst = t[1]\nt = nil\n")
    assert load_config(cfg) == {"first": 1}


# --- include ----------------------------------------------------------------


def test_include_relative_to_including_file_and_override_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "etc" / "main.lua",
        'a = "main"\nb = "main"\ninclude "sub/one.lua"\nc = "main"\n',
    )
    write(tmp_path / "etc" / "sub" / "one.lua", 'b = "one"\nc = "one"\ninclude "two.lua"\n')
    write(tmp_path / "etc" / "sub" / "two.lua", 'd = "two"\nseen = b\n')
    # Same name next to main.lua and in the cwd: neither may be picked up.
    write(tmp_path / "etc" / "two.lua", 'd = "wrong"\n')
    write(tmp_path / "two.lua", 'd = "wrong"\n')
    monkeypatch.chdir(tmp_path)
    values = load_config("etc/main.lua")
    assert values == {"a": "main", "b": "one", "c": "main", "d": "two", "seen": "one"}


def test_include_absolute_path(tmp_path: Path) -> None:
    other = write(tmp_path / "elsewhere" / "x.lua", "x = 1\n")
    cfg = write(tmp_path / "dir" / "config", f"include {str(other)!r}\ny = x + 1\n")
    assert load_config(cfg) == {"x": 1, "y": 2}


def test_same_file_included_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "common.lua", "n = (n or 0) + 1\n")
    cfg = write(tmp_path / "config", 'include "common.lua"\ninclude "common.lua"\n')
    assert load_config(cfg) == {"n": 2}


def test_missing_include_names_including_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.lua", 'x = 1\n\ninclude "nope.lua"\n')
    cfg = write(tmp_path / "config", 'y = 2\ninclude "sub/a.lua"\n')
    message = config_error(cfg)
    a_path = os.path.join(str(tmp_path), "sub/a.lua")
    assert (
        message
        == f"{a_path}:3: include: cannot open {os.path.join(str(tmp_path), 'sub', 'nope.lua')}"
    )


def test_missing_include_at_top_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", '\n\n\ninclude "missing.lua"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == "config:4: include: cannot open missing.lua"


def test_include_of_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "adir").mkdir()
    write(tmp_path / "config", 'include "adir"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:1: include: cannot open adir")


def test_include_as_tail_call_names_including_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `return include "x"` is a tail call: the caller's frame (and line) is gone.
    write(tmp_path / "config", 'x = 1\nreturn include "missing.lua"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == "config: include: cannot open missing.lua"


def test_include_of_a_non_regular_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A FIFO would block and /dev/zero would never end: only regular files are read.
    write(tmp_path / "config", 'include "/dev/zero"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:1: include: cannot open /dev/zero")


def test_include_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.lua", 'x = 1\ninclude "b.lua"\n')
    write(tmp_path / "b.lua", '\ninclude "a.lua"\n')
    monkeypatch.chdir(tmp_path)
    message = config_error("a.lua")
    assert message.startswith("b.lua:2: include:")
    assert "cycle" in message and "a.lua" in message


def test_self_include_is_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", 'include "config"\n')
    monkeypatch.chdir(tmp_path)
    message = config_error("config")
    assert message.startswith("config:1: include:") and "cycle" in message


def test_include_non_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", "include({})\n")
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:1: include:")


# --- $NAME substitution -----------------------------------------------------


def test_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYLET_TEST_ROOT", "/srv/game")
    monkeypatch.setenv("SKYLET_TEST_N", "12")
    monkeypatch.setenv("SKYLET_TEST_F", "2.5")
    cfg = write(
        tmp_path / "config",
        'root = "$SKYLET_TEST_ROOT/"\n'
        'lua = "$SKYLET_TEST_ROOT/lualib/?.lua;$SKYLET_TEST_ROOT/x"\n'
        "n = $SKYLET_TEST_N\n"
        "m = $SKYLET_TEST_N * 2\n"
        "f = $SKYLET_TEST_F\n",
    )
    assert load_config(cfg) == {
        "root": "/srv/game/",
        "lua": "/srv/game/lualib/?.lua;/srv/game/x",
        "n": 12,
        "m": 24,
        "f": 2.5,
    }


def test_env_substitution_in_included_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYLET_TEST_PORT", "8888")
    write(tmp_path / "sub" / "net.lua", "port = $SKYLET_TEST_PORT\n")
    cfg = write(tmp_path / "config", 'include "sub/net.lua"\n')
    assert load_config(cfg) == {"port": 8888}


def test_missing_env_variable_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYLET_TEST_UNSET", raising=False)
    write(tmp_path / "config", 'a = 1\nb = "x"\n\nc = "$SKYLET_TEST_UNSET/y"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == "config:4: environment variable SKYLET_TEST_UNSET is not set"


def test_missing_env_variable_line_counts_crlf_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYLET_TEST_UNSET", raising=False)
    (tmp_path / "config").write_bytes(b"a = 1\r\nb = 2\r\nc = $SKYLET_TEST_UNSET\r\n")
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:3: environment variable SKYLET_TEST_UNSET")


def test_missing_env_variable_in_included_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYLET_TEST_UNSET", raising=False)
    write(tmp_path / "inc.lua", "x = 1\ny = $SKYLET_TEST_UNSET\n")
    write(tmp_path / "config", 'include "inc.lua"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == "inc.lua:2: environment variable SKYLET_TEST_UNSET is not set"


# --- errors -----------------------------------------------------------------


def test_missing_top_level_file(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "config"
    assert config_error(missing) == f"config file not found: {missing}"


def test_syntax_error_has_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", "a = 1\nb = 2\nc = = 3\n")
    monkeypatch.chdir(tmp_path)
    message = config_error("config")
    assert message.startswith("config:3: ")
    assert "near '='" in message


def test_syntax_error_in_included_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "bad.lua", "\n\nx = 'unterminated\ny = 1\n")
    cfg = write(tmp_path / "config", 'include "sub/bad.lua"\n')
    message = config_error(cfg)
    assert message.startswith(os.path.join(str(tmp_path), "sub/bad.lua") + ":3: ")
    assert "unfinished string" in message


def test_runtime_error_has_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", "a = 1\n\nb = undefined_function()\n")
    monkeypatch.chdir(tmp_path)
    message = config_error("config")
    assert message.startswith("config:3: ")
    assert "undefined_function" in message


def test_runtime_error_arithmetic_on_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "config", 'x = "a" + 1\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:1: ")


def test_long_paths_are_not_truncated(tmp_path: Path) -> None:
    # Lua shortens chunk names over 60 bytes to "...tail" in its own messages.
    deep = tmp_path / ("d" * 40) / ("e" * 40) / ("f" * 40)
    write(deep / "runtime.lua", "\nx = nope()\n")
    write(deep / "syntax.lua", "x = = 1\n")
    write(deep / "value.lua", "x = {}\n")
    write(deep / "loop.lua", "\n\nwhile true do end\n")
    for name, line in [("runtime", 2), ("syntax", 1), ("value", 1), ("loop", 3)]:
        cfg = write(tmp_path / "config", f'include "{deep.relative_to(tmp_path)}/{name}.lua"\n')
        message = config_error(cfg)
        assert message.startswith(f"{deep}/{name}.lua:{line}: "), message
        assert "..." not in message


def test_table_value_rejected_with_key_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "config", "a = 1\nopts = {1, 2}\n")
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == (
        "config:2: config key 'opts' must be a string, number or boolean, not table"
    )


def test_function_value_rejected_line_of_last_assignment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "inc.lua", "\n\nf = function() end\n")
    write(tmp_path / "config", 'f = 1\ninclude "inc.lua"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == (
        "inc.lua:3: config key 'f' must be a string, number or boolean, not function"
    )


def test_non_string_key_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", "\n_ENV[1] = 2\n")
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:2: config key")


def test_invalid_utf8_string_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", 's = "\\xff"\n')
    monkeypatch.chdir(tmp_path)
    assert config_error("config") == "config:1: config key 's' is not valid UTF-8"


# --- sandbox ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "os",
        "io",
        "python",
        "require",
        "load",
        "loadfile",
        "dofile",
        "print",
        "debug",
        "package",
        "string",
        "getmetatable",
        "setmetatable",
        "rawset",
        "pcall",
        "error",
        "_G",
    ],
)
def test_config_code_sees_no_globals(tmp_path: Path, name: str) -> None:
    cfg = write(tmp_path / "config", f"visible = {name} ~= nil\n")
    assert load_config(cfg) == {"visible": False}


def test_calling_os_is_a_runtime_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", 'x = os.getenv("HOME")\n')
    monkeypatch.chdir(tmp_path)
    message = config_error("config")
    assert message.startswith("config:1: ") and "os" in message


def test_endless_loop_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", "a = 1\nwhile true do end\n")
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    message = config_error("config")
    assert time.monotonic() - start < 30
    assert message.startswith("config:2: ")


def test_endless_recursion_via_tail_calls_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "config", "local function f() return f() end\nf()\n")
    monkeypatch.chdir(tmp_path)
    assert config_error("config").startswith("config:1: ")


def test_memory_hog_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config", 'x = ("x"):rep(200 * 1024 * 1024)\n')
    monkeypatch.chdir(tmp_path)
    message = config_error("config")
    assert message.startswith("config") and "memory" in message


# --- normalize_config -------------------------------------------------------


def test_normalize_config_accepts_good_dict() -> None:
    given = {"thread": 4, "name": "node1", "ratio": 0.5, "daemon": False}
    result = normalize_config(given)
    assert result == given
    assert result is not given
    assert type(result["daemon"]) is bool


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, b"bytes", object()])
def test_normalize_config_rejects_bad_values(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_config({"ok": 1, "bad_key": value}, source="node config")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("node config: ") and "'bad_key'" in message


def test_normalize_config_rejects_non_string_key() -> None:
    bad: dict[object, object] = {1: "x"}
    with pytest.raises(ConfigError) as info:
        normalize_config(bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("<config>: ") and "1" in message


# --- env_string -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (8, "8"),
        (-3, "-3"),
        (2**62, str(2**62)),
        (0.5, "0.5"),
        (1e100, "1e+100"),
        (2.0, "2.0"),
        (-2.0, "-2.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1e15, "1e+15"),
        (123456789012345.0, "1.2345678901234e+14"),
        (0.1, "0.1"),
        (1 / 3, "0.33333333333333"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        ("", ""),
        ("hello $HOME", "hello $HOME"),
    ],
)
def test_env_string(value: bool | int | float | str, text: str) -> None:
    assert env_string(value) == text


def test_env_string_matches_lua_tostring(tmp_path: Path) -> None:
    numbers = ["2.0", "0.5", "1e100", "1/3", "-0.0", "2^53", "1e15", "123456789012345.0", "7"]
    # tostring is hidden from config code, but `n .. ''` converts the same way
    source = "\n".join(f"n{i} = {n}\ns{i} = n{i} .. ''" for i, n in enumerate(numbers))
    values = load_config(write(tmp_path / "config", source))
    for i in range(len(numbers)):
        assert env_string(values[f"n{i}"]) == values[f"s{i}"]
