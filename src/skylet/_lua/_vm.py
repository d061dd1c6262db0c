"""A service's Lua VM: a sealed lupa runtime running skylet's boot chunk.

The VM knows nothing of the node: :func:`boot_service` gets the node as a
:class:`VMHost` (the few things booting reads of it) and the service's
``send`` and ``command``, which the core makes (``_core/_commands.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NoReturn, Protocol

import lupa.lua54 as lupa

from .._core._errors import LaunchError
from .._core._paths import LUALIB
from .._core._service import Service
from ._codecache import CodeCache, CompileError
from ._native import offered as native_offered
from ._watchdog import Watch, new_watch

BOOT = LUALIB / "skylet" / "boot.lua"


class Running(Protocol):
    def running(self, service: Service) -> AbstractContextManager[Any]:
        """Mark ``service`` as the one this thread runs (the monitor watches it)."""
        ...


class Log(Protocol):
    def log(self, source: int, message: str) -> None: ...


class VMHost(Protocol):
    """What booting a service's VM reads of the node."""

    @property
    def memlimit(self) -> int: ...

    @property
    def codecache(self) -> CodeCache: ...

    @property
    def codec_path(self) -> bytes | None: ...

    @property
    def watchdog_path(self) -> bytes | None: ...

    @property
    def sproto_path(self) -> bytes | None: ...

    @property
    def sandbox_path(self) -> bytes | None: ...

    @property
    def lua_path(self) -> str: ...

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def native_path(self) -> bytes | None: ...

    @property
    def codeshare_path(self) -> bytes | None: ...

    @property
    def scheduler(self) -> Running: ...

    @property
    def logger(self) -> Log: ...


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> NoReturn:
    # Lua holds a few Python callables (the core); it may call them, never
    # look inside them.
    raise AttributeError("Python objects are not accessible from Lua")


def new_runtime(max_memory: int) -> Any:
    """A fresh Lua 5.4 state that exchanges only bytes, numbers and booleans."""
    return lupa.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        encoding=None,
        attribute_filter=_deny_attributes,
        max_memory=max_memory if max_memory > 0 else None,
    )


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _offering(watch: Watch | None) -> AbstractContextManager[None]:
    return nullcontext() if watch is None else watch.offered()


def boot_service(
    node: VMHost,
    service: Service,
    send: Callable[..., Any],
    command: Callable[..., Any],
) -> None:
    """Run the boot chunk, which loads the service file and runs its main chunk.

    ``send`` and ``command`` are all the service may call of the host.

    Raises :class:`LaunchError` with a one-line message (file and line for
    Lua mistakes); the full traceback goes to the log.
    """
    runtime = new_runtime(node.memlimit)
    service.runtime = runtime
    service.memlimit = max(node.memlimit, 0)
    try:
        chunk = node.codecache.load(BOOT, str(BOOT))
    except CompileError as exc:  # pragma: no cover - skylet's own file
        raise LaunchError(str(exc)) from None
    lua_globals = runtime.globals()
    raw_load = lua_globals[b"load"]
    # Kept before the boot chunk seals the VM: skynet.service moves a function
    # between VMs as bytecode that only the node dumps and loads (_core/_functions.py).
    service.bytecode = (lua_globals[b"string"][b"dump"], raw_load)
    boot = raw_load(chunk.code, b"@" + str(BOOT).encode(), chunk.mode)
    if isinstance(boot, tuple):  # (nil, message)  # pragma: no cover - skylet's own file
        raise LaunchError(boot[1].decode(errors="replace"))
    if node.watchdog_path is not None:
        service.watch = new_watch()
    # The main chunk runs now, inside whatever turn launches the service:
    # the monitor must interrupt this VM, not the launcher, if it loops.
    try:
        with (
            node.scheduler.running(service),
            _offering(service.watch),
            native_offered(service.native),
        ):
            boot(
                send,
                command,
                service.handle,
                service.name.encode(),
                service.args.encode(),
                node.codec_path,
                node.watchdog_path,
                node.sproto_path,
                node.sandbox_path,
                node.lua_path.encode(),
                _encoded(node.env.get("preload")),
                node.native_path if service.native else None,
                node.codeshare_path,
            )
    except lupa.LuaError as exc:
        text = str(exc)
        first = text.splitlines()[0] if text else "unknown error"
        node.logger.log(service.handle, f"launch {service.name} failed: {text}")
        raise LaunchError(first) from None
    finally:
        service.settle()  # commands during boot may have made room (Service.make_room)
    if service.dispatch is None:
        raise LaunchError(f"service {service.name} did not call skynet.start")
