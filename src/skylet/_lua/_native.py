"""The native message path (``_lnative.c``): mailboxes, ``send`` and dispatchers in C.

The C library keeps one :class:`NativeCore` per node: every Lua service's
mailbox, the run queue, the request book and the dispatchers' slots. A Lua
service's VM opens the library at boot (``luaopen_skylet_native``, handed
the Python ``send``), which gives it a C ``send`` and ``callback``. See
``docs/architecture.md`` ("The native message path").

The library is usable only if it binds to lupa's Lua and lupa's allocator
state reads as this module expects (lupa 2.x's ``MemoryStatus``): the
dispatchers lift a VM's memory limit around the payload they write, as
``Service.make_room`` does. Otherwise the node runs the Python scheduler.
"""

from __future__ import annotations

import ctypes
import functools
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa

from ._luabind import HERE, bind_lua_api, find_extension

ENTRY = b"luaopen_skylet_native"

# Payload kinds (K_* in _lnative.c)
K_NIL, K_STRING, K_INTEGER, K_NUMBER = 0, 1, 2, 3

# Events a dispatcher reports (EV_* in _lnative.c)
EV_ERROR, EV_MEMORY, EV_DOOMED, EV_CLOSE, EV_OVERLOAD, EV_LOG = 1, 2, 3, 4, 5, 6

#: (kind, handle, ptype, session, source, text, length)
EventFn = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int,
    ctypes.c_uint32,
    ctypes.c_int,
    ctypes.c_longlong,
    ctypes.c_uint32,
    ctypes.c_void_p,
    ctypes.c_size_t,
)

_library: ctypes.CDLL | None = None

_u32 = ctypes.c_uint32
_ll = ctypes.c_longlong
_p = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "skylet_native_new": (_p, [ctypes.c_int, EventFn]),
    "skylet_native_free": (None, [_p]),
    "skylet_native_service": (_p, [_p, _u32]),
    "skylet_native_forget": (None, [_p]),
    "skylet_native_offer": (None, [_p]),
    "skylet_native_release": (None, [_p]),
    "skylet_native_post": (
        ctypes.c_int,
        [
            _p,
            ctypes.c_int,
            _ll,
            _u32,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_size_t,
            _ll,
            ctypes.c_double,
        ],
    ),
    "skylet_native_retire": (ctypes.c_int, [_p]),
    "skylet_native_drain": (
        ctypes.c_int,
        [_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_ll), ctypes.POINTER(_u32)],
    ),
    "skylet_native_doom": (None, [_p]),
    "skylet_native_log": (None, [_p, ctypes.c_int]),
    "skylet_native_stats": (None, [_p] + [ctypes.POINTER(_ll)] * 5),
    "skylet_native_ask": (ctypes.c_int, [_p, _u32, _ll, _u32]),
    "skylet_native_answer": (_u32, [_p, _u32, _ll, ctypes.c_int]),
    "skylet_native_callers": (
        ctypes.c_size_t,
        [_p, _u32, ctypes.POINTER(_u32), ctypes.POINTER(_ll), ctypes.c_size_t],
    ),
    "skylet_native_run": (ctypes.c_int, [_p, ctypes.c_int]),
    "skylet_native_work": (None, [_p, ctypes.c_int]),
    "skylet_native_pending": (ctypes.c_int, [_p]),
    "skylet_native_stop": (None, [_p]),
    "skylet_native_slot": (
        ctypes.c_int,
        [
            _p,
            ctypes.c_int,
            ctypes.POINTER(_u32),
            ctypes.POINTER(_u32),
            ctypes.POINTER(_ll),
            ctypes.POINTER(ctypes.c_ulonglong),
        ],
    ),
    "skylet_native_enter": (_u32, [_u32]),
    "skylet_native_leave": (None, [_u32]),
    "skylet_native_clock": (ctypes.c_int64, []),
}


class NativeCore:
    """One node's native state: its handle table, run queue and request book."""

    def __init__(self, slots: int, on_event: Callable[[int, int, int, int, int, bytes], None]):
        assert _library is not None, "the native library is not loaded"
        self.lib = lib = _library
        self.slots = slots

        def event(
            kind: int,
            handle: int,
            ptype: int,
            session: int,
            source: int,
            text: int | None,
            length: int,
        ) -> None:
            # A ctypes callback must not raise: the dispatcher is C.
            try:
                on_event(
                    kind,
                    handle,
                    ptype,
                    session,
                    source,
                    ctypes.string_at(text, length) if text else b"",
                )
            except BaseException as exc:  # pragma: no cover - a bug of the node's
                traceback.print_exception(exc)

        self._event = EventFn(event)  # kept alive as long as the core
        self.address = lib.skylet_native_new(slots, self._event)
        if not self.address:
            raise MemoryError("skylet_native_new")
        # hot calls, bound once
        self.post = lib.skylet_native_post
        self.ask_c = lib.skylet_native_ask
        self.answer_c = lib.skylet_native_answer

    def __del__(self) -> None:
        # Only once nothing can use it: the node (and its dispatchers) are gone.
        if self.address:
            self.lib.skylet_native_free(self.address)
            self.address = None

    def new_service(self, handle: int) -> int:
        address = self.lib.skylet_native_service(self.address, handle)
        if not address:
            raise MemoryError("skylet_native_service")
        return int(address)

    def ask(self, caller: int, session: int, callee: int) -> None:
        if not self.ask_c(self.address, caller, session, callee):
            raise MemoryError("the request book is out of memory")

    def answer(self, caller: int, session: int, keep: bool = False) -> int:
        return int(self.answer_c(self.address, caller, session, 1 if keep else 0))

    def callers(self, callee: int) -> list[tuple[int, int]]:
        """Every (caller, session) waiting for ``callee``, now forgotten."""
        found: list[tuple[int, int]] = []
        cap = 256
        callers = (ctypes.c_uint32 * cap)()
        sessions = (ctypes.c_longlong * cap)()
        while True:
            n = self.lib.skylet_native_callers(self.address, callee, callers, sessions, cap)
            found += [(callers[i], sessions[i]) for i in range(n)]
            if n < cap:
                return found

    def slot(self, index: int) -> tuple[int, int, int, int]:
        """(current handle or 0, source, started ns, version) of dispatcher ``index``."""
        current, source = ctypes.c_uint32(), ctypes.c_uint32()
        started, version = ctypes.c_longlong(), ctypes.c_ulonglong()
        self.lib.skylet_native_slot(
            self.address,
            index,
            ctypes.byref(current),
            ctypes.byref(source),
            ctypes.byref(started),
            ctypes.byref(version),
        )
        return current.value, source.value, started.value, version.value


def stats(service: int) -> tuple[int, int, float]:
    """(mailbox length, messages handled, cpu seconds) of a native service."""
    mqlen, messages, cpu, _, _ = _counters(service)
    return mqlen, messages, cpu / 1e9


def sends(service: int) -> tuple[int, int]:
    """(sends its C send queued itself, sends it passed on to the Python send)."""
    return _counters(service)[3:]


def _counters(service: int) -> tuple[int, int, int, int, int]:
    values = [ctypes.c_longlong() for _ in range(5)]
    library().skylet_native_stats(service, *(ctypes.byref(v) for v in values))
    a, b, c, d, e = (v.value for v in values)
    return a, b, c, d, e


def log_messages(service: int, on: bool) -> None:
    """Have the dispatcher report each message of ``service`` (EV_LOG), or stop."""
    library().skylet_native_log(service, 1 if on else 0)


def drain(service: int) -> list[tuple[int, int, int]]:
    """The (ptype, session, source) of every message a retired service had queued."""
    assert _library is not None
    ptype, session, source = ctypes.c_int(), ctypes.c_longlong(), ctypes.c_uint32()
    out = []
    while _library.skylet_native_drain(
        service, ctypes.byref(ptype), ctypes.byref(session), ctypes.byref(source)
    ):
        out.append((ptype.value, session.value, source.value))
    return out


@contextmanager
def offered(service: int) -> Iterator[None]:
    """The next VM that opens the library on this thread adopts ``service`` (0: none)."""
    if not service:
        yield
        return
    lib = library()
    lib.skylet_native_offer(service)
    try:
        yield
    finally:
        lib.skylet_native_offer(None)


def library() -> ctypes.CDLL:
    assert _library is not None, "the native library is not loaded"
    return _library


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))  # stays loaded: ctypes never closes it
    bind_lua_api(lib, "skylet_native")
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def _self_test(path: str) -> None:
    # The dispatchers lift a VM's memory limit in lupa's allocator state:
    # it must read as expected, in a VM with a limit as the node makes them.
    runtime = lupa.LuaRuntime(
        register_eval=False, register_builtins=False, encoding=None, max_memory=1 << 30
    )
    opened: Any = runtime.eval("package.loadlib")(path.encode(), b"luaopen_skylet_native_memcheck")
    if isinstance(opened, tuple):
        raise OSError(f"package.loadlib failed: {opened[1]!r}")
    check = opened()
    if check is None:
        raise OSError("the native library refused to open (Lua API not bound)")
    limit = 3 << 20
    runtime.set_max_memory(limit, total=True)
    if check(limit) is not True:
        raise OSError(
            f"lupa {lupa.__version__ if hasattr(lupa, '__version__') else ''} keeps its "
            "allocator state in a layout this library does not know"
        )


@functools.cache
def native_library() -> tuple[str | None, str]:
    """``(path, "")`` if the native message path is usable here, else ``(None, why)``."""
    global _library
    path = find_extension("_lnative")
    if path is None:
        return None, f"the _lnative extension is not in {HERE} (not built at install?)"
    try:
        lib = _load(path)
        _library = lib
        _self_test(str(path))
    except (OSError, AttributeError, MemoryError, lupa.LuaError) as exc:
        _library = None
        return None, f"{path.name}: {exc}"
    return str(path), ""
