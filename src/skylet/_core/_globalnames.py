"""Global names (``skynet.register("NAME")``) with skynet's ``harbor = 0``
semantics, on a single node.

A global name has no leading ``.`` or ``:``. A message sent to a global name
nobody has registered yet is *held* (skynet's harbor service queues it) and
delivered once the name is registered, so a call to it waits until then or
until the caller gives up (``skynet.term``). ``harbor.queryname`` waits the
same way. A name keeps pointing at its service once that service is gone, as
in skynet: sends to it then fail as sends to a dead address do, until
someone registers the name again.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from . import _ptype as ptypes
from ._book import Book
from ._errors import SkyletError
from ._native import NativeScheduler
from ._pack import pack
from ._registry import Registry
from ._scheduler import Scheduler
from ._service import Message, Service
from ._workers import ThreadedScheduler


class Node(Protocol):
    """What global names need of the node (``_node.Node`` is one)."""

    registry: Registry
    scheduler: Scheduler | ThreadedScheduler | NativeScheduler
    book: Book

    def post(self, target: Service, ptype: int, session: int, source: int, msg: Any) -> bool: ...

    def answer_error(self, dest: int, session: int, source: int, message: bytes) -> None: ...


#: skynet's GLOBALNAME_LENGTH (the name and its terminating zero).
NAME_LENGTH = 16


def is_global(name: str) -> bool:
    return bool(name) and name[0] not in ".:"


def check_global(name: str) -> None:
    """skynet's rules: shorter than 16 bytes, not a number."""
    if len(name.encode()) >= NAME_LENGTH:
        raise SkyletError(f"global name {name!r} is too long (at most {NAME_LENGTH - 1} bytes)")
    try:
        float(name)
    except ValueError:
        return
    raise SkyletError(f"global name can't be a number: {name!r}")


class GlobalNames:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._lock = threading.Lock()
        #: name -> messages sent to it before it was registered
        self._held: dict[str, list[Message]] = {}
        #: name -> (service, session) waiting in harbor.queryname
        self._queries: dict[str, list[tuple[int, int]]] = {}

    def hold(self, source: int, dest: Any, ptype: int, session: int, msg: Any) -> bool:
        """Keep a message to an unregistered global name; False if ``dest`` is
        not one (or names a service that is gone: that send fails)."""
        if not isinstance(dest, bytes):
            return False
        name = dest.decode("utf-8", "replace")
        if not is_global(name):
            return False
        with self._lock:
            # Looked at under the lock: a register on another thread binds
            # the name before it takes what is held, so this message is
            # either held before that or sees the name.
            if name in self._node.registry.names:
                return False
            self._held.setdefault(name, []).append((ptype, session, source, msg))
        return True

    def register(self, name: str, handle: int) -> None:
        """Bind ``name`` to ``handle``, then deliver what waited for it."""
        check_global(name)
        node = self._node
        target = node.registry.services.get(handle)
        if target is None:
            raise SkyletError(f"no service at :{handle:08x} to name {name}")
        node.registry.bind_global(name, handle)
        with self._lock:
            held = self._held.pop(name, [])
            queries = self._queries.pop(name, [])
        for ptype, session, source, msg in held:
            request = session and ptype not in (ptypes.RESPONSE, ptypes.ERROR)
            # Under the scheduler lock, as a send: if the target retires on
            # another thread, either its retirement answers the request or
            # the post fails and the caller is answered here.
            with node.scheduler.lock:
                if request:
                    node.book.ask(source, session, target)
                delivered = node.post(target, ptype, session, source, msg)
                if request and not delivered:
                    node.book.answer(source, session)
            if request and not delivered:
                why = f"service {target.address} ({name}) is gone".encode()
                node.answer_error(source, session, handle, why)
        answer = pack(handle)
        for waiter, session in queries:
            service = node.registry.services.get(waiter)
            if service is not None:
                node.post(service, ptypes.RESPONSE, session, 0, answer)

    def query(self, waiter: int, name: str, session: int) -> int | None:
        """The handle named ``name``; if none yet, answer ``session`` later."""
        handle = self._node.registry.names.get(name)
        if handle is not None:
            return handle
        with self._lock:
            handle = self._node.registry.names.get(name)  # (as in hold)
            if handle is not None:
                return handle
            self._queries.setdefault(name, []).append((waiter, session))
        return None

    def waiting(self) -> dict[str, int]:
        """Global names with messages or queries waiting for them: how many."""
        with self._lock:
            names = set(self._held) | set(self._queries)
            return {n: len(self._held.get(n, ())) + len(self._queries.get(n, ())) for n in names}
