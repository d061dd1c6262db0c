"""``SHARED``: read-only tables shared by name (sharetable, sharedata, datasheet).

skynet shares such a table between VMs in C memory (a patched Lua for
sharetable, C structures read through userdata for sharedata and
datasheet). Here the node keeps, per name, the latest version of the
table: the whole of it as ``skynet.pack`` bytes (sharetable copies it into
each VM that queries it) and the same table cut into nodes, one per Lua
table, so a proxy materializes only the subtables a VM touches
(sharedata, datasheet). A node is two msgpack objects: the table's plain
values, then a map from key to the node id of each subtable.

Only the latest version is kept: a VM asking for a node of an older version
is told the current version and re-reads from the root.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgpack

from .._core._errors import SkyletError

if TYPE_CHECKING:
    from .._core._service import Service
    from ._host import Host as Node


@dataclass(frozen=True)
class _Version:
    number: int
    blob: bytes
    nodes: tuple[bytes, ...]


def _cut(root: Any) -> tuple[bytes, ...]:
    """The nodes of a decoded table; node 1 is the root."""
    packer = msgpack.Packer(use_bin_type=True)
    nodes: list[bytes] = []

    def visit(value: Any) -> int:
        index = len(nodes)
        nodes.append(b"")
        items = enumerate(value, 1) if isinstance(value, list) else value.items()
        plain: dict[Any, Any] = {}
        children: dict[Any, int] = {}
        for key, item in items:
            if isinstance(item, (list, dict)):
                children[key] = visit(item)
            else:
                plain[key] = item
        # Children and length only where needed (nil otherwise): a VM
        # materializing thousands of leaf nodes should not pay a table each.
        if not children:
            nodes[index] = packer.pack(value if isinstance(value, list) else plain)
        else:
            if isinstance(value, list):
                length = len(value)
            else:
                length = 0
                while length + 1 in value:
                    length += 1
            tail = packer.pack(length) if length else b""  # none: # of the plain part
            nodes[index] = packer.pack(plain) + packer.pack(children) + tail
        return index + 1

    visit(root)
    return tuple(nodes)


class SharedStore:
    """The shared tables of one node, by name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[bytes, _Version] = {}
        self.counter = 0

    def put(self, name: bytes, blob: bytes) -> int:
        try:
            root = msgpack.unpackb(blob, raw=False, strict_map_key=False)
        except (ValueError, TypeError, msgpack.ExtraData) as exc:
            raise SkyletError(f"shared table {name!r}: {exc}") from None
        if not isinstance(root, (list, dict)):
            raise SkyletError(f"shared table {name!r} must be a table")
        nodes = _cut(root)
        with self.lock:
            self.counter += 1
            self.tables[name] = _Version(self.counter, blob, nodes)
            return self.counter


_stores: weakref.WeakKeyDictionary[Node, SharedStore] = weakref.WeakKeyDictionary()


def _name(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise SkyletError("shared table names are strings")
    return value


def shared(node: Node, service: Service, op: Any, name: Any = None, *args: Any) -> Any:
    """put(name, bytes) -> version; get(name) -> version, bytes; version(name) -> version;
    node(name, version, id) -> version[, bytes]; delete(name); names(prefix) -> packed list.
    An absent name answers nil."""
    store = _stores.get(node)
    if store is None:
        store = _stores.setdefault(node, SharedStore())
    key = _name(name)
    if op == b"put":
        (blob,) = args
        if not isinstance(blob, bytes):
            raise SkyletError("SHARED put needs the table as skynet.pack bytes")
        return store.put(key, blob)
    if op == b"names":
        with store.lock:
            found = [n for n in store.tables if n.startswith(key)]
        return msgpack.packb([n[len(key) :] for n in found], use_bin_type=True)
    with store.lock:
        if op == b"delete":
            store.tables.pop(key, None)
            return None
        version = store.tables.get(key)
    if version is None:
        return None
    if op == b"get":
        return version.number, version.blob
    if op == b"version":
        return version.number
    if op == b"node":
        wanted, index = args
        if wanted != version.number:
            return version.number
        if not isinstance(index, int) or not 1 <= index <= len(version.nodes):
            raise SkyletError(f"shared table {key!r} has no node {index!r}")
        return version.number, version.nodes[index - 1]
    raise SkyletError(f"SHARED: unknown operation {op!r}")
