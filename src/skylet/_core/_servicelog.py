"""The debug console's ``logon``/``logoff``/``signal``/``cmem`` on the node.

``logon`` writes every message a service gets to ``logpath/XXXXXXXX.log``
(config ``logpath``, default the current folder), one line per message as
skynet's ``skynet_log.c`` does: ``:source type session ticks hex-payload``.
It wraps the service's dispatch function, so services not logged pay nothing.

Thread-safe: ``logon``/``logoff`` may come from any dispatcher (the console,
the launcher) while another runs the service and writes its lines; one lock
orders them, so a service is wrapped at most once, a line is never written
to a closed file, and a retired service is never logged on again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from .._lua._native import log_messages
from ._errors import SkyletError
from ._registry import Registry
from ._service import Service


class Node(Protocol):
    """What the service log needs of the node (``_node.Node`` is one)."""

    registry: Registry
    env: dict[str, str]

    def now(self) -> int: ...


Dispatch = Callable[[int, int, int, Any], Any]

#: Orders logon, logoff and the writes of every logged service.
_lock = threading.Lock()


class _Logged:
    """A service's dispatch, writing each message to its log file first."""

    def __init__(self, node: Node, inner: Dispatch, file: IO[str]) -> None:
        self.node = node
        self.inner = inner
        self.file = file

    def __call__(self, ptype: int, session: int, source: int, msg: Any) -> Any:
        self.write(ptype, session, source, msg)
        return self.inner(ptype, session, source, msg)

    def write(self, ptype: int, session: int, source: int, msg: Any) -> None:
        data = msg if isinstance(msg, bytes) else b"" if msg is None else str(msg).encode()
        line = f":{source:08x} {ptype} {session} {self.node.now()} {data.hex()}\n"
        with _lock:
            if not self.file.closed:  # (logged off since this message began)
                self.file.write(line)
                self.file.flush()


def logon(node: Node, service: Service) -> None:
    with _lock:
        # Dead: retired meanwhile (its logoff has run or runs after this).
        if isinstance(service.dispatch, _Logged) or service.dispatch is None or service.dead:
            return
        folder = node.env.get("logpath", ".")
        path = os.path.join(folder, f"{service.handle:08x}.log")
        try:
            file = open(path, "a", encoding="ascii")  # noqa: SIM115 - closed by logoff/exit
        except OSError as exc:
            why = f"logon {service.address}: can't open {path}: {exc.strerror}"
            raise SkyletError(why) from None
        file.write(f"open time: {int(time.time())}\n")
        service.dispatch = _Logged(node, service.dispatch, file)
        if service.native:
            # The C dispatcher calls the VM itself: it reports each message.
            log_messages(service.native, True)


def log_message(service: Service, ptype: int, session: int, source: int, msg: bytes) -> None:
    """A native dispatcher's report of a message to a logged service."""
    logged = service.dispatch
    if isinstance(logged, _Logged):
        logged.write(ptype, session, source, msg)


def logoff(service: Service) -> None:
    with _lock:
        logged = service.dispatch
        if isinstance(logged, _Logged):
            if service.native:
                log_messages(service.native, False)
            service.dispatch = logged.inner
            logged.file.write(f"close time: {int(time.time())}\n")
            logged.file.close()


def memory(node: Node) -> tuple[int, ...]:
    """(handle, Lua bytes, handle, Lua bytes, ...) for every Lua service."""
    flat: list[int] = []
    for handle, service in sorted(node.registry.services.items()):
        runtime = service.runtime
        if runtime is not None:
            flat += (handle, int(runtime.get_memory_used()))
    return tuple(flat)
