"""``thread = N > 1``: trio's thread dispatches, N-1 workers run heavy services.

The pure-Python threaded scheduler (config ``scheduler = "python"``); by
default Lua services run on the native path's C dispatchers (``_native.py``).

lupa releases the GIL while Lua runs, so services dispatched by different
threads run Lua in parallel. Three measured costs shape the design (see
docs/architecture.md): a Python->Lua call is about 30% slower from any
thread but the main one; two threads running message-bound services fight
over the GIL and deliver less than one; and a lock on every send costs a
quarter of a message. So:

- trio's thread dispatches everything, as with ``thread = 1``, while it is
  alone: the node is *serial* and the queues need no lock;
- each service carries an estimate of what one of its messages costs. Light
  services wait in ``runq``, which only trio's thread serves; heavy services
  (or services not known yet) wait in ``heavyq``;
- trio's dispatcher hands heavy work to parked workers, which makes the node
  *parallel* until every worker has parked again; workers only ever take
  heavy work. While parallel, every queue change holds ``lock``.

Exclusivity: a service is in a queue at most once (``in_queue``), stays
marked while it is dispatched, and a worker only runs what it was handed or
took from ``heavyq`` under the lock, so no two threads run one service.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any

import trio

from ._scheduler import (
    PASS_TURNS,
    TURN_MESSAGES,
    Dispatcher,
    DoomHandler,
    ErrorHandler,
    running,
    running_time,
)
from ._service import OVERLOAD, Message, Service
from ._warnings import check_overload

#: A service whose messages cost more than this on average runs in parallel.
HEAVY_MESSAGE = 0.00005
#: Messages before a service's cost is trusted. A new service's first message
#: (its start function) stays on trio's thread; after that, until its cost is
#: known, it counts as heavy.
KNOWN_AFTER = 4


class _Worker:
    __slots__ = ("dispatcher", "handed", "thread", "wake")

    def __init__(self) -> None:
        self.dispatcher = Dispatcher()
        self.wake = threading.Event()
        self.handed: Service | None = None
        self.thread: threading.Thread | None = None


class ThreadedScheduler:
    def __init__(self, threads: int, on_error: ErrorHandler, on_doomed: DoomHandler) -> None:
        self.threads = threads
        self.runq: deque[Service] = deque()
        self.heavyq: deque[Service] = deque()
        self.lock = threading.Lock()
        #: True while a worker may touch the queues; only trio's thread sets it.
        self.parallel = False
        #: Set while trio's dispatch loop waits for work.
        self.wake: trio.Event | None = None
        self.stopping = False
        self._workers = [_Worker() for _ in range(threads - 1)]
        self._parked = list(self._workers)
        self.dispatchers = [Dispatcher()] + [w.dispatcher for w in self._workers]
        self._on_error = on_error
        self._on_doomed = on_doomed
        #: Logs skynet's "May overload" warning (set by the node).
        self.warn: Callable[[int, str], None] | None = None
        self._token: trio.lowlevel.TrioToken | None = None

    # ----- making services runnable -----

    def enqueue(self, service: Service) -> None:
        """Queue a service that got mail (holding ``lock`` when parallel)."""
        service.in_queue = True
        if service.light:
            self.runq.append(service)
        else:
            self.heavyq.append(service)
        if self.wake is not None:
            self._wake_trio_soon()

    def _wake_trio_soon(self) -> None:
        if self._token is None:
            return
        if threading.get_ident() == self.dispatchers[0].thread:
            assert self.wake is not None
            self.wake.set()
        else:
            self._token.run_sync_soon(self._wake_trio)

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
        on_trio = threading.get_ident() == self.dispatchers[0].thread
        if not self.parallel and not on_trio and self._token is not None:
            # While serial only trio's thread touches the queues.
            self._token.run_sync_soon(self.deliver, service, message)
            return
        with self.lock:
            if service.dead:
                return
            service.mailbox.append(message)
            if not service.in_queue:
                self.enqueue(service)

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for worker in self._workers:
                worker.wake.set()
            if self.wake is not None and self._token is not None:
                self._token.run_sync_soon(self._wake_trio)

    def running_time(self, service: Service) -> float:
        """Seconds ``service``'s current turn has run (0.0 if not running)."""
        return running_time(self.dispatchers, service)

    def running(self, service: Service) -> Any:
        return running(self.dispatchers, service)

    # ----- trio's dispatcher -----

    async def run(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        me = self.dispatchers[0]
        me.thread = threading.get_ident()
        for number, worker in enumerate(self._workers, 1):
            worker.thread = threading.Thread(
                target=self._work, args=(worker,), name=f"skylet-worker-{number}", daemon=True
            )
            worker.thread.start()
        try:
            budget = PASS_TURNS
            runq, heavyq = self.runq, self.heavyq
            while not self.stopping:
                if runq and not self.parallel and not heavyq:
                    # Serial and nothing heavy waiting: as thread = 1 does.
                    self._turn(me, runq.popleft())
                    budget -= 1
                    if not budget:
                        await trio.lowlevel.checkpoint()
                        budget = PASS_TURNS
                    continue
                with self.lock:
                    service = self._next_for_trio()
                    if service is None:
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

    def _next_for_trio(self) -> Service | None:
        # Called with ``lock`` held. Heavy work goes to parked workers, but only
        # while trio has other work: alone, it runs as fast here as anywhere.
        heavyq, parked = self.heavyq, self._parked
        while parked and heavyq and (len(heavyq) > 1 or self.runq):
            worker = parked.pop()
            self.parallel = True
            worker.handed = heavyq.popleft()
            worker.wake.set()
        if self.parallel and len(parked) == len(self._workers):
            self.parallel = False  # every worker is parked: serial again
        if self.runq:
            return self.runq.popleft()
        if heavyq:
            return heavyq.popleft()
        return None

    def _join(self) -> None:
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join()

    # ----- workers -----

    def _work(self, worker: _Worker) -> None:
        me = worker.dispatcher
        me.thread = threading.get_ident()
        while True:
            worker.wake.wait()
            worker.wake.clear()
            if self.stopping:
                return
            service = worker.handed
            worker.handed = None
            while service is not None:
                try:
                    self._turn(me, service)
                except Exception as exc:
                    # Only a bug of the scheduler's own gets here (dispatch
                    # errors are handled in the turn): the service goes back
                    # to the queues, and this worker parks and lives on.
                    self._on_error(service, exc, (0, 0, 0, None))
                    with self.lock:
                        self._requeue(service)
                with self.lock:
                    service = self.heavyq.popleft() if self.heavyq and not self.stopping else None
                    if service is None:
                        self._parked.append(worker)
                        if self.wake is not None:
                            # trio may be waiting: let it see the node is serial again.
                            self._wake_trio_soon()

    # ----- one turn, on either kind of thread -----

    def _turn(self, me: Dispatcher, service: Service) -> None:
        mailbox = service.mailbox
        dispatch = service.dispatch
        limited = service.memlimit > 0
        me.current = service
        me.started = started = perf_counter()
        done = 0
        if len(mailbox) > service.overload:
            check_overload(service, len(mailbox), self.warn)
        try:
            # Test for mail before taking it: an exception per turn costs more
            # than the message. (Only retire() on another thread can still
            # empty the mailbox in between.)
            while mailbox and done < TURN_MESSAGES and not service.dead and not self.stopping:
                try:
                    message = mailbox.popleft()
                except IndexError:
                    break
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
        finally:
            me.current = None
            elapsed = perf_counter() - started
            service.cpu += elapsed
            service.message_count += done
            if done:
                service.cost = (service.cost + elapsed / done) / 2
                service.light = (
                    service.message_count >= KNOWN_AFTER and service.cost < HEAVY_MESSAGE
                )
            if self.parallel:
                with self.lock:
                    self._requeue(service)
            else:
                self._requeue(service)

    def _requeue(self, service: Service) -> None:
        if service.mailbox and not service.dead:
            (self.runq if service.light else self.heavyq).append(service)
        else:
            service.in_queue = False
            service.overload = OVERLOAD
