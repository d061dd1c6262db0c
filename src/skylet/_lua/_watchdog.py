"""The C watchdog (``_lwatchdog.c``): interrupt a runaway handler from the monitor thread.

A Lua count hook would catch a runaway handler, but any hook makes Lua 5.4
trace every instruction and halves the speed of CPU-bound code. The C
watchdog installs no hook until the monitor finds a message running too
long; then :meth:`Watch.interrupt` (from the monitor's thread) sets a
count-1 hook on the lua_State the VM is running right now, which raises.

Each service VM has a :class:`Watch`: a slot in C memory, shared with the VM
and reference counted, that names the state running now. The node creates
it before booting the VM and offers it to the boot chunk
(:meth:`Watch.offered`), whose ``package.loadlib`` of the library adopts it
and installs the watchdog's ``coroutine.resume``/``coroutine.wrap``.

Without the library (no compiler at install) or with config
``runaway_check = "lua"``, services run under the boot chunk's Lua count
hook instead, polling the node; see :func:`choose_watchdog`.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa

from ._luabind import HERE, bind_lua_api, choose_library, find_extension

#: Name of the entry point the boot chunk passes to ``package.loadlib``.
ENTRY = "luaopen_skylet_watchdog"
#: Values of the config key ``runaway_check``.

_library: ctypes.CDLL | None = None


class Watch:
    """One VM's watch slot; the VM holds it too, so it outlives either."""

    __slots__ = ("_address", "_library")

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library
        self._address: int | None = None
        self._address = library.skylet_watchdog_new()
        if not self._address:
            raise MemoryError("skylet_watchdog_new")

    def __del__(self) -> None:
        if self._address:
            self._library.skylet_watchdog_release(self._address)
            self._address = None

    def interrupt(self, why: str) -> bool:
        """Make the VM's running Lua raise ``why`` (any thread). False: no VM adopted it."""
        return bool(self._library.skylet_watchdog_interrupt(self._address, why.encode()))

    def pending(self) -> bool:
        """Whether the last interrupt still waits for the VM to run (not taken yet)."""
        return bool(self._library.skylet_watchdog_pending(self._address))

    def doom(self, why: str) -> bool:
        """From now on every Lua instruction the VM runs raises ``why`` (any thread)."""
        return bool(self._library.skylet_watchdog_doom(self._address, why.encode()))

    @contextmanager
    def offered(self) -> Iterator[None]:
        """The next VM that opens the watchdog on this thread adopts this slot."""
        self._library.skylet_watchdog_offer(self._address)
        try:
            yield
        finally:
            self._library.skylet_watchdog_offer(None)


def new_watch() -> Watch:
    """A slot for the next VM; the library must have loaded (:func:`watchdog_library`)."""
    assert _library is not None, "the C watchdog is not loaded"
    return Watch(_library)


def open_in(runtime: Any, path: str, watch: Watch) -> Any:
    """Open the watchdog in a lupa runtime that still has ``package.loadlib``.

    Returns the module table (``resume``, ``wrap``), the VM having adopted ``watch``.
    """
    loaded: Any = runtime.eval("package.loadlib")(path.encode(), ENTRY.encode())
    if isinstance(loaded, tuple):  # (nil, message, where)
        raise OSError(f"package.loadlib failed: {loaded[1]!r}")
    with watch.offered():
        module = loaded()
    if module is None:
        raise OSError("the watchdog refused to open (Lua API not bound)")
    return module


def _load(path: Path) -> ctypes.CDLL:
    library = ctypes.CDLL(str(path))  # stays loaded: ctypes never closes it
    bind_lua_api(library, "skylet_watchdog")
    library.skylet_watchdog_new.restype = ctypes.c_void_p
    library.skylet_watchdog_new.argtypes = []
    library.skylet_watchdog_release.restype = None
    library.skylet_watchdog_release.argtypes = [ctypes.c_void_p]
    library.skylet_watchdog_offer.restype = None
    library.skylet_watchdog_offer.argtypes = [ctypes.c_void_p]
    library.skylet_watchdog_interrupt.restype = ctypes.c_int
    library.skylet_watchdog_interrupt.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    library.skylet_watchdog_pending.restype = ctypes.c_int
    library.skylet_watchdog_pending.argtypes = [ctypes.c_void_p]
    library.skylet_watchdog_doom.restype = ctypes.c_int
    library.skylet_watchdog_doom.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return library


def _self_test(library: ctypes.CDLL, path: str) -> None:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    watch = Watch(library)
    module = open_in(runtime, path, watch)
    check = runtime.eval(
        """function(wd)
            local co = coroutine.create(function(a, b)
                local c = coroutine.yield(a + b)
                return c * 2, "done"
            end)
            local ok1, sum = wd.resume(co, 1, 2)
            local ok2, double, tag = wd.resume(co, 5)
            local ok3, err = wd.resume(co)
            return ok1 and sum == 3 and ok2 and double == 10 and tag == "done"
                and not ok3 and err == "cannot resume dead coroutine"
        end"""
    )
    if check(module) is not True:
        raise OSError("self-test failed: resume does not behave as coroutine.resume")
    # Interrupting an idle VM arms its main thread: the next Lua code raises.
    # (The loop is bounded so that a broken hook cannot hang the process.)
    if not watch.interrupt("self-test interrupt"):
        raise OSError("self-test failed: the VM did not adopt its watch slot")
    try:
        runtime.execute(b"local n = 0 for i = 1, 1000 do n = n + i end return n")
    except lupa.LuaError as exc:
        if "self-test interrupt" in str(exc):
            return
        raise
    raise OSError("self-test failed: the interrupt did not raise")


@functools.cache
def watchdog_library() -> tuple[str | None, str]:
    """``(path, "")`` if the C watchdog is usable in this process, else ``(None, why)``."""
    return load_library(find_extension("_lwatchdog"))


def load_library(path: Path | None) -> tuple[str | None, str]:
    """Bind and self-test the watchdog library at ``path``: ``(path, "")`` or ``(None, why)``."""
    global _library
    if path is None:
        return None, f"the _lwatchdog extension is not in {HERE} (not built at install?)"
    try:
        library = _load(path)
        _self_test(library, str(path))
    except (OSError, AttributeError, MemoryError, lupa.LuaError) as exc:
        return None, f"{path.name}: {exc}"
    _library = library
    return str(path), ""


def choose_watchdog(
    setting: object,
    log: Callable[[str], None],
    library: tuple[str | None, str] | None = None,
) -> bytes | None:
    """The watchdog path the boot chunk gets for config ``runaway_check`` (None: Lua hook).

    ``auto`` (default): the C watchdog if usable, else the Lua count hook,
    logging why. ``c``: the C watchdog or :class:`SkyletError`. ``lua``:
    always the Lua count hook. ``library`` is what :func:`watchdog_library`
    returns, by default its answer.
    """
    if setting in (None, "auto", "c"):
        library = library or watchdog_library()
    return choose_library(
        "runaway_check",
        setting,
        library or (None, ""),
        log,
        "C watchdog",
        "services run under a Lua count hook",
    )
