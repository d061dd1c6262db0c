"""Shared fixtures: nodes running real Lua services from tests/services."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

import skylet

# pytester: tests/testing/test_pytest_kit.py tries the pytest kit on throwaway projects.
pytest_plugins = ["pytester", "db.dbservers"]  # db: the database servers (tests/db)

SERVICES = Path(__file__).parent / "services"
#: Run the node-based tests on N worker threads (e.g. SKYLET_TEST_THREADS=4).
THREADS = os.environ.get("SKYLET_TEST_THREADS")


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
        if THREADS:
            base["thread"] = int(THREADS)
        base.update(config)
        return skylet.open_node(base, log=log.append, stdout=printed.append)

    return factory


@pytest.fixture
async def node(node_with: NodeFactory) -> AsyncIterator[skylet.Node]:
    async with node_with() as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not THREADS:
        return
    # trio's autojump clock only sees trio tasks: it would jump while worker
    # threads are still busy, so virtual-time tests run on thread = 1 only.
    skip = pytest.mark.skip(reason="virtual clock needs thread = 1")
    for item in items:
        if "autojump_clock" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)
