"""``thread = 1``: the run-queue of services with mail, dispatched on trio's thread.

The pure-Python scheduler (config ``scheduler = "python"``); the native
one (``_native.py``) uses it for Python services.

The hot path is a plain loop: no trio task switch per message. It yields to
trio (timers, sockets, the Python API) every ``PASS_TURNS`` service turns.
A service is in the run-queue at most once (``in_queue``), so it is only
ever dispatched by one loop at a time. ``thread = N > 1`` uses
``_workers.ThreadedScheduler`` instead, which keeps the same interface.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from time import perf_counter
from typing import Any

import trio

from ._service import OVERLOAD, Message, Service
from ._warnings import check_overload

#: What a scheduler calls when an error escapes a dispatch: (service, error,
#: the message it was dispatching). It must not raise.
ErrorHandler = Callable[[Service, BaseException, Message], None]
#: What it calls after a turn of a service the monitor doomed (it must be retired).
DoomHandler = Callable[[Service], None]

#: Messages a service may handle in one turn before others get theirs.
TURN_MESSAGES = 64
#: Service turns between two yields to trio (timers, sockets, the Python API).
PASS_TURNS = 1024


class Dispatcher:
    """What one dispatch loop is doing, read by the runaway monitor."""

    __slots__ = ("current", "source", "started", "thread", "version")

    def __init__(self) -> None:
        self.current: Service | None = None
        self.started = 0.0
        self.source = 0  # the sender of the message running
        self.version = 0  # moves with every message
        self.thread = 0  # the thread running this loop


@contextmanager
def running(dispatchers: list[Dispatcher], service: Service) -> Iterator[None]:
    """Another service's Lua runs inside the current turn (a launch runs the
    new service's main chunk): the monitor watches that one meanwhile."""
    ident = threading.get_ident()
    me = next((d for d in dispatchers if d.thread == ident), None)
    if me is None:
        yield
        return
    outer = me.current
    me.current = service
    me.version += 1
    try:
        yield
    finally:
        me.current = outer
        me.version += 1


def running_time(dispatchers: list[Dispatcher], service: Service) -> float:
    for dispatcher in dispatchers:
        if dispatcher.current is service:
            return perf_counter() - dispatcher.started
    return 0.0


class Scheduler:
    threads = 1

    def __init__(self, on_error: ErrorHandler, on_doomed: DoomHandler) -> None:
        self.runq: deque[Service] = deque()
        self.wake: trio.Event | None = None
        self.stopping = False
        self.dispatchers = [Dispatcher()]
        # No other thread touches the queues; retire() still asks for a lock.
        self.lock: Any = nullcontext()
        self._on_error = on_error
        self._on_doomed = on_doomed
        #: Logs skynet's "May overload" warning (set by the node).
        self.warn: Callable[[int, str], None] | None = None

    def schedule(self, service: Service) -> None:
        """Put a service that just got mail on the run-queue."""
        service.in_queue = True
        self.runq.append(service)
        wake = self.wake
        if wake is not None:
            wake.set()

    def release(self, service: Service) -> None:
        """A service has booted: queue it if mail came meanwhile."""
        if service.mailbox and not service.dead:
            self.schedule(service)
        else:
            service.in_queue = False

    def deliver(self, service: Service, message: Message) -> None:
        """Queue a message the node itself produces (timers, errors, Python)."""
        if service.dead:
            return
        service.mailbox.append(message)
        if not service.in_queue:
            self.schedule(service)

    def stop(self) -> None:
        self.stopping = True

    def running(self, service: Service) -> Any:
        return running(self.dispatchers, service)

    def running_time(self, service: Service) -> float:
        """Seconds ``service``'s current turn has run (0.0 if not running)."""
        return running_time(self.dispatchers, service)

    async def run(self) -> None:
        runq = self.runq
        turn = self._turn
        me = self.dispatchers[0]
        me.thread = threading.get_ident()
        while not self.stopping:
            if not runq:
                self.wake = trio.Event()
                await self.wake.wait()
                self.wake = None
                continue
            # Dispatch while there is mail, yielding to trio every so often:
            # a call and its answer are two turns, so yielding after each pass
            # over the run-queue would cost a trio round per message.
            budget = PASS_TURNS
            while runq and budget:
                turn(me, runq.popleft())
                budget -= 1
                if self.stopping:
                    return
            await trio.lowlevel.checkpoint()

    def _turn(self, me: Dispatcher, service: Service) -> None:
        mailbox = service.mailbox
        dispatch = service.dispatch
        limited = service.memlimit > 0
        count = len(mailbox)
        if count > service.overload:
            check_overload(service, count, self.warn)
        if count > TURN_MESSAGES:
            count = TURN_MESSAGES
        me.current = service
        me.started = started = perf_counter()
        done = 0
        try:
            while done < count:
                message = mailbox.popleft()
                done += 1
                me.version += 1
                ptype, session, source, msg = message
                me.source = source
                if limited:
                    # lupa writes the payload into the VM before any Lua runs
                    service.make_room(len(msg) if msg.__class__ is bytes else 0)
                try:
                    dispatch(ptype, session, source, msg)  # type: ignore[misc]
                except Exception as exc:
                    # Lua's errors and Python's alike: nothing escapes a dispatcher.
                    self._on_error(service, exc, message)
                if service.lifted:
                    service.settle()
                if service.doomed is not None:
                    self._on_doomed(service)
                if service.dead or self.stopping:
                    break
        finally:
            me.current = None
            service.cpu += perf_counter() - started
            service.message_count += done
            if mailbox and not service.dead:
                self.runq.append(service)
            else:
                service.in_queue = False
                service.overload = OVERLOAD
