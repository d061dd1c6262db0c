"""The request book: which service owes which caller an answer.

Every request (a message with a session that is not an answer) is booked
when it is sent, and struck when its answer goes out. When a service
retires, the requests it still holds are answered with errors: that is how
every request gets one answer. The Python schedulers keep the book in a dict;
the native scheduler keeps it in C, where its ``send`` books Lua-to-Lua
requests (``_lua/_lnative.c``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ._service import Service

if TYPE_CHECKING:
    from .._lua._native import NativeCore
    from ._registry import Registry

Key = tuple[int, int]  # (caller, session)


class Book(Protocol):
    def ask(self, caller: int, session: int, callee: Service) -> None:
        """``caller`` waits for ``callee``'s answer to ``session``."""

    def answer(self, caller: int, session: int) -> None:
        """The answer to (caller, session) is on its way."""

    def owes(self, caller: int, session: int, callee: Service) -> bool:
        """Whether ``callee`` still owes (caller, session) its answer."""

    def settle(self, caller: int, session: int, callee: Service) -> bool:
        """Strike the request if ``callee`` still owes it; whether it did."""

    def drop(self, callee: Service) -> list[Key]:
        """Strike and return every request ``callee`` holds (it retires)."""


class PythonBook:
    """A dict, plus each callee's set of keys (``Service.callers``)."""

    def __init__(self) -> None:
        #: (caller, session) -> callee. The Python schedulers' sends use it inline.
        self.pending: dict[Key, Service] = {}

    def ask(self, caller: int, session: int, callee: Service) -> None:
        self.pending[(caller, session)] = callee
        callee.callers.add((caller, session))

    def answer(self, caller: int, session: int) -> None:
        callee = self.pending.pop((caller, session), None)
        if callee is not None:
            callee.callers.discard((caller, session))

    def owes(self, caller: int, session: int, callee: Service) -> bool:
        return self.pending.get((caller, session)) is callee

    def settle(self, caller: int, session: int, callee: Service) -> bool:
        if self.pending.get((caller, session)) is not callee:
            return False
        del self.pending[(caller, session)]
        callee.callers.discard((caller, session))
        return True

    def drop(self, callee: Service) -> list[Key]:
        keys = list(callee.callers)
        callee.callers.clear()
        for key in keys:
            self.pending.pop(key, None)
        return keys


class NativeBook:
    """The C request book of a :class:`NativeCore`, by handle."""

    def __init__(self, core: NativeCore, registry: Registry) -> None:
        self._core = core
        self._registry = registry

    def ask(self, caller: int, session: int, callee: Service) -> None:
        self._core.ask(caller, session, callee.handle)

    def answer(self, caller: int, session: int) -> None:
        self._core.answer(caller, session)

    def owes(self, caller: int, session: int, callee: Service) -> bool:
        return self._core.answer(caller, session, keep=True) == callee.handle

    def settle(self, caller: int, session: int, callee: Service) -> bool:
        # Only the callee's own turn answers for it, so look-then-strike holds.
        if self._core.answer(caller, session, keep=True) != callee.handle:
            return False
        self._core.answer(caller, session)
        return True

    def drop(self, callee: Service) -> list[Key]:
        return self._core.callers(callee.handle)
