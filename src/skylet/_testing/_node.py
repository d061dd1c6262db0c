"""What the ``skylet_node`` fixture hands a test: a starter of nodes, and
nodes with a few testing helpers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

from .._core._config import load_config
from .._core._errors import ServiceNotFound
from .._core._node import Node

Config = str | os.PathLike[str] | Mapping[str, object]


class TestNode(Node):
    """A :class:`skylet.Node` started by ``skylet_node``, keeping its output.

    ``log_lines`` are the node's log lines (``[:0000000a] message``) and
    ``printed`` what its services printed, both in order.
    """

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(self, config: Config, label: str) -> None:
        self.label = label
        self.log_lines: list[str] = []
        self.printed: list[str] = []
        self.finished = trio.Event()
        super().__init__(config, log=self.log_lines.append, stdout=self.printed.append)

    async def wait_stopped(self) -> int:
        """Wait until the node has stopped (``skynet.abort()``, ``stop``); its exit status."""
        await self.finished.wait()
        return self.exit_status

    def logs(self, address: int | str) -> list[str]:
        """The messages one service logged, without the ``[:address]`` prefix.

        ``address`` is a handle, ``":0000000a"``, or a ``.name`` still bound.
        """
        if isinstance(address, str) and address.startswith("."):
            service = self.resolve(address)
            if service is None:
                raise ServiceNotFound(f"no service named {address}")
            address = service.handle
        handle = int(address[1:], 16) if isinstance(address, str) else address
        prefix = f"[:{handle:08x}] "
        return [line[len(prefix) :] for line in self.log_lines if line.startswith(prefix)]

    async def wait_idle(self) -> None:
        """Wait until nothing on the node can run without time passing: every
        mailbox empty and every task blocked (timers may still be pending).

        A task waiting for a socket counts as blocked: bytes on their way
        through the kernel are not seen here.
        """
        while True:
            await trio.testing.wait_all_tasks_blocked()
            if self._idle():
                return
            await trio.lowlevel.checkpoint()  # worker threads still busy (thread > 1)

    def _idle(self) -> bool:
        if self.scheduler.runq or getattr(self.scheduler, "heavyq", None):
            return False
        native_idle = getattr(self.scheduler, "idle", None)
        if native_idle is not None and not native_idle():
            return False  # a Lua service waits in the native run queue
        if getattr(self.scheduler, "parallel", False):
            return False
        return not any(service.mailbox for service in list(self.registry.services.values()))


class NodeStarter:
    """``await skylet_node(config, **keys)``: boot a node for this test.

    ``config`` is a config file (a path) or a mapping of config keys, as for
    :func:`skylet.open_node`; ``keys`` override keys of either. The node has
    booted (its start service launched) when the await returns, and it is
    stopped when the test ends. Raises :class:`skylet.LaunchError` if it
    could not boot.
    """

    def __init__(self) -> None:
        self.nodes: list[TestNode] = []
        self._nursery: trio.Nursery | None = None

    async def __call__(self, config: Config, **keys: Any) -> TestNode:
        if self._nursery is None:
            raise RuntimeError(
                "skylet_node starts nodes inside an async test function (async def test_...)"
            )
        if keys:
            if isinstance(config, Mapping):
                config = {**config, **keys}
            else:
                values: dict[str, object] = dict(load_config(config))
                values.setdefault("start", "main")  # as a config file has it
                config = {**values, **keys}
        node = TestNode(config, f"node {len(self.nodes) + 1}")
        self.nodes.append(node)
        await self._nursery.start(self._run, node)
        return node

    async def _run(self, node: TestNode, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await node.run(task_status=task_status)
        finally:
            node.finished.set()

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()

    def report(self) -> list[tuple[str, str]]:
        """(section title, text) for each node that logged or printed anything."""
        sections = []
        for node in self.nodes:
            text = "\n".join(node.log_lines)
            if node.printed:
                text += "\n--- printed ---\n" + "\n".join(node.printed)
            if text:
                sections.append((f"skylet {node.label} log", text))
        return sections
