"""Shared by the debug protocol, inject, hotfix and console tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import skylet

SERVICES = Path(__file__).parent / "services" / "hotfix"


@asynccontextmanager
async def hotfix_node(
    lines: list[str] | None = None, printed: list[str] | None = None, **config: Any
) -> AsyncIterator[skylet.Node]:
    """A node whose service and module paths include tests/services/hotfix."""
    settings = {
        "luaservice": f"{SERVICES}/?.lua",
        "lua_path": f"{SERVICES}/?.lua",
        **config,
    }
    log = lines.append if lines is not None else (lambda line: None)
    stdout = printed.append if printed is not None else (lambda text: None)
    async with skylet.open_node(settings, log=log, stdout=stdout) as node:
        yield node
