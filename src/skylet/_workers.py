"""``thread = N > 1``: N dispatchers, trio's thread being the first of them.

lupa releases the GIL while Lua runs, so services dispatched by different
threads run Lua in parallel. Two costs shape the design (measured, see
docs/architecture.md): a Python->Lua call is about 30% slower from any
thread but the main one, and handing the GIL or a service from thread to
thread costs more than a message. So trio's own thread dispatches, as with
``thread = 1``, and the N-1 worker threads take only work that can run in
parallel; every dispatcher keeps the mail it makes for itself (a call and
its answer stay on one thread). Work is lent to an idle dispatcher when:

- a dispatcher starts a turn while other services are runnable, or
- a turn that has run for a while (``LONG_TURN``) makes new work runnable, or
- trio's thread makes work (timers, sockets, Python) while its dispatch
  loop is idle.

Exclusivity: a service is in the run-queue at most once (``in_queue``,
changed only under ``lock``) and stays marked while it is dispatched, so no
two dispatchers ever run one service at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any

import trio
from lupa.lua54 import LuaError

from ._scheduler import PASS_TURNS, Dispatcher, running
from ._service import Message, Service

TURN_MESSAGES = 64
#: A turn longer than this lends its new work to idle workers (seconds).
LONG_TURN = 0.001


class ThreadedScheduler:
    def __init__(self, threads: int, on_error: Callable[[Service, BaseException], None]) -> None:
        self.threads = threads
        self.runq: deque[Service] = deque()
        self.lock = threading.Lock()
        self._ready = threading.Condition(self.lock)
        self.idle = 0  # worker threads waiting for work
        #: Set while trio's dispatch loop waits for work (changed under ``lock``).
        self.wake: trio.Event | None = None
        self.stopping = False
        self.dispatchers = [Dispatcher() for _ in range(threads)]
        self._on_error = on_error
        self._workers: list[threading.Thread] = []
        self._token: trio.lowlevel.TrioToken | None = None

    # ----- making services runnable (any thread; callers hold ``lock``) -----

    def enqueue(self, service: Service, by: Dispatcher | None = None) -> None:
        """Queue a service that got mail; ``by`` is the dispatcher whose turn sent it."""
        service.in_queue = True
        self.runq.append(service)
        if self.idle or self.wake is not None:
            self.lend_work(by)

    def lend_work(self, by: Dispatcher | None) -> None:
        """New work is runnable: wake an idle dispatcher if it should not wait.

        ``by`` is the dispatcher whose turn made the work, None if unknown.
        """
        if by is None:
            by = self._here()
        if by is None or by.current is None:
            # Made outside any turn (timers, sockets, Python): nobody will come
            # for it unless woken.
            self._wake_one(on_trio=by is self.dispatchers[0])
        elif perf_counter() - by.started > LONG_TURN:
            if self.idle:
                self._ready.notify()
            elif by is not self.dispatchers[0]:
                self._wake_one(on_trio=False)

    def _here(self) -> Dispatcher | None:
        ident = threading.get_ident()
        for dispatcher in self.dispatchers:
            if dispatcher.thread == ident:
                return dispatcher
        return None

    def _wake_one(self, on_trio: bool) -> None:
        if self.wake is not None:
            if on_trio:
                self.wake.set()
            elif self._token is not None:
                self._token.run_sync_soon(self._wake_trio)
        elif self.idle:
            self._ready.notify()

    def _wake_trio(self) -> None:
        with self.lock:
            if self.wake is not None:
                self.wake.set()

    def schedule(self, service: Service) -> None:
        with self.lock:
            if not service.in_queue and not service.dead:
                self.enqueue(service)

    def release(self, service: Service) -> None:
        """A service has booted: queue it if mail came meanwhile."""
        with self.lock:
            if service.mailbox and not service.dead:
                self.enqueue(service)
            else:
                service.in_queue = False

    def deliver(self, service: Service, message: Message) -> None:
        """Queue a message the node itself produces (timers, errors, Python)."""
        with self.lock:
            if service.dead:
                return
            service.mailbox.append(message)
            if not service.in_queue:
                self.enqueue(service)
            elif self.idle or self.wake is not None:
                self.lend_work(None)

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self._ready.notify_all()
            if self.wake is not None and self._token is not None:
                self._token.run_sync_soon(self._wake_trio)

    # ----- dispatching -----

    async def run(self) -> None:
        """trio's dispatch loop; starts (and at the end joins) the worker threads."""
        self._token = trio.lowlevel.current_trio_token()
        me = self.dispatchers[0]
        me.thread = threading.get_ident()
        for number, dispatcher in enumerate(self.dispatchers[1:], 1):
            worker = threading.Thread(
                target=self._work, args=(dispatcher,), name=f"skylet-worker-{number}", daemon=True
            )
            self._workers.append(worker)
            worker.start()
        try:
            budget = PASS_TURNS
            while not self.stopping:
                with self.lock:
                    if self.runq:
                        service: Service | None = self.runq.popleft()
                        if self.runq and self.idle:
                            self._ready.notify()
                    else:
                        service = None
                        wake = self.wake = trio.Event()
                if service is None:
                    await wake.wait()
                    with self.lock:
                        self.wake = None
                    budget = PASS_TURNS
                    continue
                self._turn(me, service)
                budget -= 1
                if not budget:
                    await trio.lowlevel.checkpoint()
                    budget = PASS_TURNS
        finally:
            self.stop()
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._join)

    def _join(self) -> None:
        for worker in self._workers:
            worker.join()

    def running(self, service: Service) -> Any:
        return running(self.dispatchers, service)

    def _work(self, me: Dispatcher) -> None:
        me.thread = threading.get_ident()
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
        service.running_on = me
        me.started = started = perf_counter()
        done = 0
        try:
            # Test for mail before taking it: an exception per turn costs more
            # than the message. (Only retire() on another thread can still
            # empty the mailbox in between.)
            while mailbox and done < TURN_MESSAGES and not service.dead and not self.stopping:
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
            service.running_on = None
            service.cpu += perf_counter() - started
            service.message_count += done
            with self.lock:
                if mailbox and not service.dead:
                    self.runq.append(service)
                    if len(self.runq) > 1 and (self.idle or self.wake is not None):
                        self.lend_work(me)
                else:
                    service.in_queue = False
