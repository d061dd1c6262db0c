"""The config keys the node itself reads: each one's type and range, checked once.

A config can hold any key (services read their own with ``skynet.getenv``);
the keys below steer the node, so a wrong one must stop it before it starts,
with one line naming the key and the value (:class:`ConfigError`, exit
status 2 from the CLI). As in skynet, a number may be written as a string
(``thread = "2"``). Keys that other modules check where they are used
(``msgpack``, ``sproto_core``, ``runaway_check``, ``sandbox``, ``codecache``,
``codecache_reload``, the socket buffer limits) are not repeated here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from ._errors import ConfigError

#: More dispatcher threads than this is a typo, not a machine.
MAX_THREADS = 256
#: A per-service memory limit above this (1 TiB) is a typo too.
MAX_MEMLIMIT = 1 << 40

_SERVICE_LINE = re.compile(r"^snlua\s+\S+$")
_ENDPOINT = re.compile(r"^(\d+|\[[^\]]+\]:\d+|[^:\s]+:\d+)$")

Value = str | int | float | bool


def _integer(value: Value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(value.strip(), 0)
    except ValueError:
        return None


def _number(value: Value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _integer_in(low: int, high: int) -> Callable[[Value], str | None]:
    def check(value: Value) -> str | None:
        number = _integer(value)
        if number is None or not low <= number <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return check


def _seconds(value: Value) -> str | None:
    number = _number(value)
    if number is None or number < 0:
        return "must be a number of seconds (0 turns the check off)"
    return None


def _text(value: Value) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _search_path(value: Value) -> str | None:
    if not isinstance(value, str) or "?" not in value:
        return "must be a string of ';'-separated patterns with '?'"
    return None


def _service_line(value: Value) -> str | None:
    if not isinstance(value, str) or not _SERVICE_LINE.match(value.strip()):
        return 'must be "snlua NAME"'
    return None


def _file_or_off(value: Value) -> str | None:
    return None if isinstance(value, str) or value is False else "must be a file name or false"


def _endpoint(value: Value) -> str | None:
    number = _integer(value)
    if number is not None and not isinstance(value, str):
        return None if 0 <= number <= 65535 else "must be a port from 0 to 65535 or HOST:PORT"
    if isinstance(value, str) and _ENDPOINT.match(value.strip()):
        port = int(value.strip().rsplit(":", 1)[-1])
        return None if port <= 65535 else "must be a port from 0 to 65535 or HOST:PORT"
    return "must be a port from 0 to 65535 or HOST:PORT"


def _flag(value: Value) -> str | None:
    return (
        None if isinstance(value, bool) or value in ("true", "false") else "must be true or false"
    )


#: key -> check (None when the value is fine, else what it must be).
CHECKS: dict[str, Callable[[Value], str | None]] = {
    "thread": _integer_in(1, MAX_THREADS),
    "harbor": _integer_in(0, 255),
    "service_memlimit": _integer_in(0, MAX_MEMLIMIT),
    "runaway_timeout": _seconds,
    "bootstrap": _service_line,
    "start": _text,
    "luaservice": _search_path,
    "lua_path": _search_path,
    "pyservice": _search_path,
    "logger": _file_or_off,
    "debug_console": _endpoint,
    "debug_console_address": _text,
    "debug_console_public": _flag,
    "cluster": _text,
    "cluster_call_timeout": _seconds,
}


def check_settings(config: Mapping[str, Value], source: str = "<config>") -> None:
    """Raise :class:`ConfigError` for the first node key with a wrong value.

    ``source`` names where the config came from (a file, or ``file:line``
    places per key through ``places``).
    """
    places = getattr(config, "places", {})
    for key, check in CHECKS.items():
        if key not in config:
            continue
        value = config[key]
        problem = check(value)
        if problem is not None:
            where = places.get(key, source)
            raise ConfigError(f"{where}: config key '{key}' {problem}, not {value!r}")


def integer(config: Mapping[str, Value], key: str, default: int) -> int:
    """A checked integer key (as :func:`check_settings` let it through)."""
    value = config.get(key, default)
    number = _integer(value)
    assert number is not None, key
    return number


def seconds(config: Mapping[str, Value], key: str, default: float) -> float:
    """A checked number-of-seconds key."""
    number = _number(config.get(key, default))
    assert number is not None, key
    return number
