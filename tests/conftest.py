"""Shared fixtures: nodes running real Lua services from tests/services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

import skylet

SERVICES = Path(__file__).parent / "services"


class Lines(list[str]):
    """Collected log lines, with a helper to search them."""

    def matching(self, text: str) -> list[str]:
        return [line for line in self if text in line]


@pytest.fixture
def log() -> Lines:
    return Lines()


@pytest.fixture
def printed() -> Lines:
    return Lines()


NodeFactory = Callable[..., AbstractAsyncContextManager[skylet.Node]]


@pytest.fixture
def node_with(log: Lines, printed: Lines) -> NodeFactory:
    """``async with node_with(**config) as node``: a node on tests/services/core."""

    def factory(**config: Any) -> AbstractAsyncContextManager[skylet.Node]:
        base: dict[str, Any] = {
            "luaservice": f"{SERVICES / 'core'}/?.lua",
            "lua_path": f"{SERVICES / 'core'}/?.lua",
        }
        base.update(config)
        return skylet.open_node(base, log=log.append, stdout=printed.append)

    return factory


@pytest.fixture
async def node(node_with: NodeFactory) -> AsyncIterator[skylet.Node]:
    async with node_with() as running:
        yield running
