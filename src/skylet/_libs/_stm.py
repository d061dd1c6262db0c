"""``STM``: skynet.stm's shared objects, one writer and many readers.

skynet keeps an stm object in C memory every VM can read without a message,
reference counted by the writer and the readers' userdata. Here the node
keeps it: the latest message bytes and a version per object. Readers fetch
the bytes only when the version moved. Lua sees ids, versions and bytes,
never a Python object.

Lifetime follows services, not Lua's collector (a ``__gc`` that calls the
node could run while a VM closes): the message goes when the writer's
service is gone (readers then read false, as in skynet), the object when
no service that holds it is alive.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._core._errors import SkyletError

if TYPE_CHECKING:
    from .._core._service import Service
    from ._host import Host as Node


@dataclass
class _Object:
    writer: int
    data: bytes | None  # None once the writer is gone
    version: int = 1
    readers: set[int] = field(default_factory=set)


class StmStore:
    """The stm objects of one node."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[int, _Object] = {}
        self.next_id = 0

    def get(self, node: Node, oid: Any) -> _Object:
        obj = self.objects.get(oid) if isinstance(oid, int) else None
        if obj is None:
            raise SkyletError(f"stm: no object {oid!r}")
        if obj.data is not None and node.resolve(obj.writer) is None:
            obj.data = None
            obj.version += 1
        return obj

    def sweep(self, node: Node) -> None:
        for oid, obj in list(self.objects.items()):
            holders = [obj.writer, *obj.readers]
            if all(node.resolve(h) is None for h in holders):
                del self.objects[oid]


_stores: weakref.WeakKeyDictionary[Node, StmStore] = weakref.WeakKeyDictionary()


def _bytes(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise SkyletError("stm: the message must be a string")
    return value


def stm(node: Node, service: Service, op: Any, oid: Any = None, arg: Any = None) -> Any:
    """new(bytes) -> id; update(id, bytes); adopt(id); read(id, version) -> version[, bytes]."""
    store = _stores.get(node)
    if store is None:
        store = _stores.setdefault(node, StmStore())
    with store.lock:
        if op == b"new":
            store.sweep(node)
            store.next_id += 1
            store.objects[store.next_id] = _Object(service.handle, _bytes(oid))
            return store.next_id
        obj = store.get(node, oid)
        if op == b"read":
            if obj.version == arg:
                return obj.version
            return obj.version, obj.data
        if op == b"update":
            if obj.writer != service.handle:
                raise SkyletError("stm: only the service that made the object may update it")
            obj.data = _bytes(arg)
            obj.version += 1
            return None
        if op == b"adopt":
            obj.readers.add(service.handle)
            return None
    raise SkyletError(f"stm: unknown operation {op!r}")
