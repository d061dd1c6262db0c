"""Where skylet's own Lua code lives, installed or in a source checkout."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

_PACKAGE = Path(__file__).resolve().parents[1]

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


class Found(NamedTuple):
    """What :func:`search` found: ``path`` as the pattern spelled it (None if
    no candidate is a file), every candidate tried, and the file's ``stat``."""

    path: str | None
    tried: list[str]
    stat: os.stat_result | None


def search(name: str, patterns: str) -> Found:
    """Resolve ``name`` against ``;``-separated ``?`` patterns, as Lua's searchpath.

    Plain strings and one ``stat`` per candidate: this runs for every
    ``require`` of every service, and the code cache reuses the ``stat``.
    """
    tried = []
    dotted = name.replace(".", "/")
    for pattern in patterns.split(";"):
        if not pattern:
            continue
        candidate = pattern.replace("?", dotted)
        tried.append(candidate)
        try:
            found = os.stat(candidate)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(found.st_mode):
            return Found(candidate, tried, found)
    return Found(None, tried, None)
