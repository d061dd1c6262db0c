"""A node's Python services: finding them, launching them, their tasks.

The node makes one :class:`PythonServices` when its config has ``pyservice``
and calls it from two places: ``Node.launch`` (is there a Python service by
that name? then boot it) and ``Node.retire`` (stop its tasks).
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from typing import Any

import trio

from .._core._paths import search
from .._core._service import Service as Actor
from ._base import Service
from ._host import Node, ServiceHost
from ._loader import forget_module, run_module, service_class


class PythonServices:
    """The Python services of one node; their tasks live in its nursery."""

    def __init__(self, node: Node, patterns: str) -> None:
        self.node = node
        self.patterns = patterns
        self.hosts: dict[int, ServiceHost] = {}
        self._nursery: trio.Nursery | None = None
        # path -> (file's (mtime, size), its service class): one load per file
        # version per node; nodes never share a module.
        self._classes: dict[str, tuple[tuple[int, int], type[Service]]] = {}
        self._modules: list[types.ModuleType] = []

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The nursery every Python service's tasks run in, for the node's life."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            for module in self._modules:
                forget_module(module)

    def find(self, name: str) -> str | None:
        """The Python file for service ``name``; None if a Lua file wins or none is found."""
        if search(name, self.node.luaservice).path is not None:
            return None
        return search(name, self.patterns).path

    def boot(self, actor: Actor, path: str) -> None:
        """Make ``actor`` a Python service; its module loads and ``init`` runs in a
        task on trio's thread, which tells the launcher how that went."""
        host = ServiceHost(self.node, self, actor, path)
        actor.dispatch = host.dispatch
        self.hosts[actor.handle] = host
        self.node.on_trio(self.spawn, host.run, actor.args)

    def retired(self, actor: Actor) -> None:
        host = self.hosts.pop(actor.handle, None)
        if host is not None:
            host.close()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._nursery is None:  # the node is stopping
            return
        self._nursery.start_soon(fn, *args)

    def service_class(self, name: str, path: str) -> type[Service]:
        """Run the module at ``path`` (once per version of the file) and pick its class."""
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._classes.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        with open(path, "rb") as f:
            source = f.read()
        module = run_module(name, path, source)
        try:
            cls = service_class(module, path)
        except Exception:
            forget_module(module)
            raise
        self.adopt(module)
        self._classes[path] = (version, cls)
        return cls

    def adopt(self, module: types.ModuleType) -> None:
        """Forget ``module`` from ``sys.modules`` when the node stops."""
        self._modules.append(module)
