"""Handles (32-bit addresses) and local names of the services on a node."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._errors import SkyletError

if TYPE_CHECKING:
    from ._service import Service

#: The low 24 bits of a handle number a service; the high 8 name the harbor.
HANDLE_MASK = 0xFFFFFF


class Registry:
    """Maps handles to live services and ``.name`` local names to handles.

    Handles are never reused while the node runs, so a stale handle can only
    ever mean "that service is gone".
    """

    def __init__(self, harbor: int = 0) -> None:
        self._harbor = (harbor & 0xFF) << 24
        self._next = 1
        self._lock = threading.Lock()
        self.services: dict[int, Service] = {}
        self.names: dict[str, int] = {}

    def new_handle(self) -> int:
        with self._lock:
            if self._next > HANDLE_MASK:
                raise SkyletError("out of service handles")
            handle = self._harbor | self._next
            self._next += 1
            return handle

    def add(self, service: Service) -> None:
        self.services[service.handle] = service

    def remove(self, handle: int) -> Service | None:
        """Retire a handle and every name bound to it."""
        with self._lock:
            service = self.services.pop(handle, None)
            # Local names go with the service; global names stay, pointing at
            # a dead handle, as in skynet (sends to them fail).
            for name in [n for n, h in self.names.items() if h == handle and n[:1] == "."]:
                del self.names[name]
            return service

    def bind_name(self, name: str, handle: int) -> None:
        """Give ``handle`` the local name ``name`` (``.name``); names are unique."""
        if not name.startswith("."):
            raise SkyletError(f"local names start with '.': {name!r}")
        with self._lock:
            # Under the lock that remove takes: a service retiring on another
            # thread either gets the name first (and remove drops it) or fails this.
            if handle not in self.services:
                raise SkyletError(f"no service at :{handle:08x} to name {name}")
            old = self.names.get(name)
            if old is not None and old != handle:
                raise SkyletError(f"name {name} is already bound to :{old:08x}")
            self.names[name] = handle

    def bind_global(self, name: str, handle: int) -> None:
        """Give ``handle`` the global name ``name`` (see ``_globalnames``): a
        name a live service holds is taken; one left by a dead service is not."""
        with self._lock:
            if handle not in self.services:  # (as in bind_name)
                raise SkyletError(f"no service at :{handle:08x} to name {name}")
            old = self.names.get(name)
            if old is not None and old != handle and old in self.services:
                raise SkyletError(f"global name {name} is already bound to :{old:08x}")
            self.names[name] = handle

    def resolve(self, address: int | str) -> Service | None:
        """The live service at a handle or local name, or None."""
        if isinstance(address, str):
            handle = self.names.get(address)
            if handle is None:
                if address.startswith(":"):
                    try:
                        handle = int(address[1:], 16)
                    except ValueError:
                        return None
                else:
                    return None
            return self.services.get(handle)
        return self.services.get(address)
