"""Where skylet's own Lua code lives, installed or in a source checkout."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

#: skylet's Lua library (``skynet.lua`` and friends), always on ``lua_path``.
LUALIB = _PACKAGE / "lualib"


def _find_services() -> Path:
    installed = _PACKAGE / "services"
    if installed.is_dir():
        return installed
    # A source checkout keeps system services at the top level (see pyproject).
    return _PACKAGE.parent.parent / "services"


#: skylet's system services (bootstrap, launcher, ...), always on ``luaservice``.
SERVICES = _find_services()

LUALIB_PATTERN = str(LUALIB / "?.lua")
SERVICES_PATTERN = str(SERVICES / "?.lua")


def search(name: str, patterns: str) -> tuple[str | None, list[str]]:
    """Resolve ``name`` against ``;``-separated ``?`` patterns, as Lua's searchpath.

    Returns the first candidate that is an existing file (as the pattern
    spelled it) and the list of candidates tried. Plain strings and one
    ``stat`` per candidate: this runs for every ``require`` of every service.
    """
    tried = []
    dotted = name.replace(".", "/")
    for pattern in patterns.split(";"):
        if not pattern:
            continue
        candidate = pattern.replace("?", dotted)
        tried.append(candidate)
        if os.path.isfile(candidate):
            return candidate, tried
    return None, tried
