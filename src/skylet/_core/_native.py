"""The native scheduler: Lua services are dispatched in C (``_lua/_lnative.c``).

Lua services keep their mailboxes in C, and Lua-to-Lua messages never enter
Python. Python services (the host endpoint, ``pyservice`` services) keep
theirs in Python and run on trio's thread, as with :class:`Scheduler`.

- ``thread = 1``: trio's thread runs both, the C dispatcher in slices of
  ``PASS_TURNS`` turns (a ctypes call, so the GIL is released while Lua
  runs), yielding to trio between slices as :class:`Scheduler` does.
- ``thread = N``: N C dispatchers on N threads, as skynet's workers; trio's
  thread runs only Python services, timers, sockets and the Python API.

``scheduler = "python"`` (config) keeps the pure-Python schedulers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import trio

from .._lua import _native as native
from .._lua._luabind import choose
from ._scheduler import PASS_TURNS, Dispatcher, DoomHandler, ErrorHandler, Scheduler
from ._service import Message, Service

if TYPE_CHECKING:
    from ._registry import Registry

#: What skylet_native_enter answers on a thread that is no C dispatcher.
NOT_A_DISPATCHER = 0xFFFFFFFF


#: Values of the config key ``scheduler``.
SCHEDULERS = ("auto", "native", "python")


def choose_scheduler(
    setting: object,
    log: Callable[[str], None],
    library: tuple[str | None, str] | None = None,
) -> bytes | None:
    """The native library's path for config ``scheduler`` (None: the Python schedulers).

    ``auto`` (default): native if its library is usable here, else Python,
    logging why. ``native``: native or :class:`SkyletError`. ``python``: always
    the pure-Python schedulers. ``library`` is what :func:`native_library`
    answers, by default its answer.
    """
    return choose(
        "scheduler",
        setting,
        SCHEDULERS,
        lambda: library or native.native_library(),
        log,
        refused='scheduler = "native" but the native library is unavailable',
        falls_back="scheduler: the native message path is unavailable, Python dispatches",
    )


class NativeDispatcher:
    """A C dispatcher as the monitor sees a :class:`Dispatcher` (read live)."""

    def __init__(self, core: native.NativeCore, index: int, registry: Registry) -> None:
        self._core = core
        self._index = index
        self._registry = registry

    @property
    def current(self) -> Service | None:
        handle = self._core.slot(self._index)[0]
        return self._registry.services.get(handle) if handle else None

    @property
    def source(self) -> int:
        return self._core.slot(self._index)[1]

    @property
    def started(self) -> float:
        return self._core.slot(self._index)[2] / 1e9

    @property
    def version(self) -> int:
        return self._core.slot(self._index)[3]


class NativeScheduler:
    def __init__(
        self,
        threads: int,
        registry: Registry,
        on_error: ErrorHandler,
        on_doomed: DoomHandler,
        on_event: Callable[[int, int, int, int, int, bytes], None],
    ) -> None:
        self.threads = threads
        self.core = native.NativeCore(threads, on_event)
        self.lib = native.library()
        #: Python services: dispatched on trio's thread, as by thread = 1.
        self.python = Scheduler(on_error, on_doomed)
        self.lock = threading.RLock()
        self.stopping = False
        self.wake: trio.Event | None = None
        self.dispatchers: list[Dispatcher | NativeDispatcher] = [
            self.python.dispatchers[0],
            *(NativeDispatcher(self.core, i, registry) for i in range(threads)),
        ]
        self._token: trio.lowlevel.TrioToken | None = None
        self._trio_thread = 0
        self._workers: list[threading.Thread] = []
        #: Lua services adopted and not released yet (they are booting).
        self._booting: set[int] = set()

    @property
    def runq(self) -> Any:
        return self.python.runq

    @property
    def warn(self) -> Callable[[int, str], None] | None:
        """Logs skynet's "May overload" for Python services (the C dispatchers
        report theirs as events)."""
        return self.python.warn

    @warn.setter
    def warn(self, log: Callable[[int, str], None] | None) -> None:
        self.python.warn = log

    # ----- services -----

    def adopt(self, service: Service) -> None:
        """Give a Lua service its C mailbox (queued until :meth:`release`)."""
        service.native = self.core.new_service(service.handle)
        self._booting.add(service.handle)

    def release(self, service: Service) -> None:
        """A service has booted: queue it if mail came meanwhile."""
        if service.native:
            self._booting.discard(service.handle)
            self.lib.skylet_native_release(service.native)
        elif threading.get_ident() != self._trio_thread and self._token is not None:
            # Launched from a dispatcher: the Python run queue and its
            # services' in_queue are trio's alone (as in deliver).
            self._token.run_sync_soon(self._release_python, service)
        else:
            self._release_python(service)

    def _release_python(self, service: Service) -> None:
        self.python.release(service)
        self._wake_trio()

    def deliver(self, service: Service, message: Message) -> bool:
        """Queue a message the node itself produces; False if the service is gone."""
        if service.dead:
            return False
        if service.native:
            ptype, session, source, msg = message
            cls = msg.__class__
            data, size, integer, number = None, 0, 0, 0.0
            if cls is bytes:
                kind, data, size = native.K_STRING, msg, len(msg)
            elif msg is None:
                kind = native.K_NIL
            elif cls is int:
                kind, integer = native.K_INTEGER, msg
            else:
                kind, number = native.K_NUMBER, float(msg)
            queued = self.core.post(
                service.native, ptype, session, source, kind, data, size, integer, number
            )
            if self.wake is not None and self.threads == 1:
                self._wake_soon()  # trio's thread runs the C dispatcher
            return bool(queued)
        if threading.get_ident() != self._trio_thread and self._token is not None:
            self._token.run_sync_soon(self._deliver_python, service, message)
            return True
        self._deliver_python(service, message)
        return True

    def _deliver_python(self, service: Service, message: Message) -> None:
        self.python.deliver(service, message)
        self._wake_trio()

    def retire(self, service: Service) -> tuple[bool, list[Message]]:
        """Stop a native service's mail: (whether a dispatcher runs it now, its
        queued messages without payloads)."""
        running = bool(self.lib.skylet_native_retire(service.native))
        queued = [(p, s, src, None) for p, s, src in native.drain(service.native)]
        return running, queued

    def forget(self, service: Service) -> None:
        """Let go of a retired service's C mailbox."""
        if service.native:
            if service.handle in self._booting:
                # It never booted: let go of the run queue's hold too.
                self.release(service)
            self.lib.skylet_native_forget(service.native)
            service.native = 0

    def doom(self, service: Service) -> None:
        if service.native:
            self.lib.skylet_native_doom(service.native)

    def stats(self, service: Service) -> tuple[int, int, float]:
        """(mailbox length, messages handled, cpu seconds)."""
        if service.native:
            return native.stats(service.native)
        return service.stats()

    def idle(self) -> bool:
        """No service waits in a run queue (native or Python)."""
        return not self.python.runq and not self.lib.skylet_native_pending(self.core.address)

    # ----- the monitor's view -----

    @contextmanager
    def running(self, service: Service) -> Iterator[None]:
        outer = self.lib.skylet_native_enter(service.handle)
        if outer == NOT_A_DISPATCHER:  # trio's thread, outside the C dispatcher
            with self.python.running(service):
                yield
            return
        try:
            yield
        finally:
            self.lib.skylet_native_leave(outer)

    def running_time(self, service: Service) -> float:
        """Seconds ``service``'s current turn has run (0.0 if not running)."""
        for index in range(self.threads):
            current, _, started, _ = self.core.slot(index)
            if current == service.handle:
                return (self.lib.skylet_native_clock() - started) / 1e9
        return self.python.running_time(service)

    # ----- running -----

    def stop(self) -> None:
        self.stopping = True
        self.python.stop()
        self.lib.skylet_native_stop(self.core.address)
        if self._token is not None:
            with suppress(trio.RunFinishedError):  # stopped after trio's run ended
                self._token.run_sync_soon(self._wake_trio)

    def _wake_soon(self) -> None:
        if threading.get_ident() == self._trio_thread:
            self._wake_trio()
        elif self._token is not None:
            self._token.run_sync_soon(self._wake_trio)

    def _wake_trio(self) -> None:
        wake = self.wake
        if wake is not None:
            wake.set()

    async def run(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._trio_thread = threading.get_ident()
        self.python.dispatchers[0].thread = self._trio_thread
        if self.threads > 1:
            for index in range(self.threads):
                thread = threading.Thread(
                    target=self.lib.skylet_native_work,
                    args=(self.core.address, index),
                    name=f"skylet-dispatcher-{index}",
                    daemon=True,
                )
                self._workers.append(thread)
                thread.start()
        try:
            await self._loop()
        finally:
            self.stop()
            if self._workers:  # (a thread round trip would let a virtual clock jump)
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(self._join)

    async def _loop(self) -> None:
        python = self.python
        runq = python.runq
        me = python.dispatchers[0]
        run_native = self.lib.skylet_native_run
        core = self.core.address
        alone = self.threads == 1
        while not self.stopping:
            budget = PASS_TURNS
            while runq and budget and not self.stopping:
                python._turn(me, runq.popleft())
                budget -= 1
            done = run_native(core, PASS_TURNS) if alone and not self.stopping else 0
            if self.stopping:
                return
            if not done and not runq:
                wake = self.wake = trio.Event()
                if runq or (alone and self.lib.skylet_native_pending(core)):
                    self.wake = None
                    continue
                await wake.wait()
                self.wake = None
                continue
            await trio.lowlevel.checkpoint()

    def _join(self) -> None:
        for thread in self._workers:
            thread.join()
