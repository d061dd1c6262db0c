"""A node whose services come from tests/services/api (then core)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import skylet
from conftest import SERVICES, THREADS, Lines

API = SERVICES / "api"


def api_node(
    log: Lines | None = None, printed: Lines | None = None, **config: Any
) -> AbstractAsyncContextManager[skylet.Node]:
    base: dict[str, Any] = {
        "luaservice": f"{API}/?.lua;{API}/?/init.lua;{SERVICES / 'core'}/?.lua",
        "lua_path": f"{SERVICES / 'core'}/?.lua",
    }
    if THREADS:
        base["thread"] = int(THREADS)
    base.update(config)
    return skylet.open_node(
        base,
        log=(log if log is not None else Lines()).append,
        stdout=(printed if printed is not None else Lines()).append,
    )


async def run_lua(node: skylet.Node, code: str, *args: Any) -> Any:
    """Run `code` in a fresh probe service's request coroutine; its result."""
    probe = await node.newservice("probe")
    return await node.call(probe, "lua", "eval", code, *args)
