"""``thread = N > 1``: N worker threads dispatch; trio keeps timers and I/O.

lupa releases the GIL while Lua runs, so services on different workers run
Lua in parallel. Python work still takes turns on the GIL, and handing the
GIL from thread to thread on every message costs more than the message
itself, so a worker keeps the mail it produces for itself (a call and its
answer stay on one thread) and an idle worker is woken only when there is
work it can do in parallel:

- a worker starting a turn while other services are runnable, or
- a turn that has run for a while (``LONG_TURN``) making new work runnable,
- anything made runnable from the trio thread (timers, sockets, Python).

Exclusivity: a service is in the run-queue at most once (``in_queue``,
changed only under ``lock``) and stays marked while a worker dispatches it,
so no two workers ever dispatch one service at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from time import perf_counter

import trio
from lupa.lua54 import LuaError

from ._scheduler import Dispatcher
from ._service import Message, Service

TURN_MESSAGES = 64
#: A turn longer than this lends its new work to idle workers (seconds).
LONG_TURN = 0.0002


class ThreadedScheduler:
    def __init__(self, threads: int, on_error: Callable[[Service, BaseException], None]) -> None:
        self.threads = threads
        self.runq: deque[Service] = deque()
        self.lock = threading.Lock()
        self._ready = threading.Condition(self.lock)
        self.idle = 0
        self.stopping = False
        self.dispatchers = [Dispatcher() for _ in range(threads)]
        self._local = threading.local()
        self._on_error = on_error
        self._workers: list[threading.Thread] = []

    # ----- making services runnable (any thread) -----

    def enqueue(self, service: Service) -> None:
        """Queue a service that got mail; the caller holds ``lock``."""
        service.in_queue = True
        self.runq.append(service)
        if self.idle and self._lend_work():
            self._ready.notify()

    def _lend_work(self) -> bool:
        mine: Dispatcher | None = getattr(self._local, "dispatcher", None)
        if mine is None:
            return True  # from trio or Python: only a worker will pick it up
        return perf_counter() - mine.started > LONG_TURN

    def lend_work(self) -> None:
        """A send to a service already queued: maybe wake an idle worker; holds ``lock``."""
        if self.runq and self._lend_work():
            self._ready.notify()

    def schedule(self, service: Service) -> None:
        with self.lock:
            if not service.in_queue and not service.dead:
                self.enqueue(service)

    def deliver(self, service: Service, message: Message) -> None:
        """Queue a message the node itself produces (timers, errors, Python)."""
        with self.lock:
            if service.dead:
                return
            service.mailbox.append(message)
            if not service.in_queue:
                self.enqueue(service)
            elif self.idle:
                self.lend_work()

    # ----- the workers -----

    async def run(self) -> None:
        for number, dispatcher in enumerate(self.dispatchers):
            worker = threading.Thread(
                target=self._work, args=(dispatcher,), name=f"skylet-worker-{number}", daemon=True
            )
            self._workers.append(worker)
            worker.start()
        try:
            await trio.sleep_forever()
        finally:
            self.stop()
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._join)

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self._ready.notify_all()

    def _join(self) -> None:
        for worker in self._workers:
            worker.join()

    def _work(self, me: Dispatcher) -> None:
        self._local.dispatcher = me
        runq = self.runq
        ready = self._ready
        while True:
            with self.lock:
                while not runq and not self.stopping:
                    self.idle += 1
                    ready.wait()
                    self.idle -= 1
                if self.stopping:
                    return
                service = runq.popleft()
                if runq and self.idle:
                    ready.notify()
            self._turn(me, service)

    def _turn(self, me: Dispatcher, service: Service) -> None:
        mailbox = service.mailbox
        dispatch = service.dispatch
        me.current = service
        me.started = started = perf_counter()
        done = 0
        try:
            while done < TURN_MESSAGES and not service.dead and not self.stopping:
                try:
                    ptype, session, source, msg = mailbox.popleft()
                except IndexError:
                    break
                done += 1
                me.version += 1
                try:
                    dispatch(ptype, session, source, msg)  # type: ignore[misc]
                except LuaError as exc:
                    self._on_error(service, exc)
        finally:
            me.current = None
            service.cpu += perf_counter() - started
            service.message_count += done
            with self.lock:
                if mailbox and not service.dead:
                    self.runq.append(service)
                    if self.idle and len(self.runq) > 1:
                        self._ready.notify()
                else:
                    service.in_queue = False
