"""The node's sproto slots: schema bundles shared by index (``sprotoloader``).

skynet's ``sprotoloader.save(bin, index)`` keeps a C schema object in a
process-wide array of 16 slots that every service's ``sprotoloader.load``
reads. skylet keeps the bundle's bytes instead (Lua never holds a Python
object); each service builds its own schema object from them. Reached from
Lua through the core command ``SPROTO``.
"""

from __future__ import annotations

import threading
from typing import Any

from ._errors import SkyletError

#: Slots 0..15, as skynet's MAX_GLOBALSPROTO.
SLOTS = 16


class SprotoSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bundles: dict[int, bytes] = {}

    def save(self, index: int, bundle: bytes) -> None:
        with self._lock:
            self._bundles[index] = bundle

    def load(self, index: int) -> bytes | None:
        with self._lock:
            return self._bundles.get(index)


def _slot(index: Any) -> int:
    if index.__class__ is not int or not 0 <= index < SLOTS:
        raise SkyletError(f"Invalid global slot index {index!r}")
    return int(index)


def sproto_command(slots: SprotoSlots, op: Any, index: Any = None, bundle: Any = None) -> Any:
    """``SPROTO save index bundle`` -> None; ``SPROTO load index`` -> bundle or None."""
    if op == b"save":
        if bundle.__class__ is not bytes:
            raise SkyletError("sprotoloader.save needs the schema bundle (a string)")
        slots.save(_slot(index), bundle)
        return None
    if op == b"load":
        return slots.load(_slot(index))
    raise SkyletError(f"unknown SPROTO operation {op!r}")
