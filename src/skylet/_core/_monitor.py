"""Catches runaway handlers, as skynet's monitor thread does.

A thread (not a trio task: a runaway handler blocks trio's thread too)
watches the scheduler. If the same message has been running for
``runaway_timeout`` seconds, the monitor interrupts the service: with the C
watchdog (``_lua/_watchdog.py``) the Lua state running right now raises at its
next instruction; under the Lua count hook (no C watchdog), the service is
flagged and the hook raises at its next check.

A handler can swallow that error (a ``pcall`` inside the loop). So while the
same message still runs and has met its last interrupt (a stalled thread or a
long C call has not: it is left alone until it runs), the monitor interrupts
again once ``grace`` has passed (``runaway_timeout``, at most a second), and after
``STRIKES`` interrupts it dooms the service: every Lua instruction it runs
raises from then on, so the message unwinds through every ``pcall`` up to
the dispatcher, which retires the service (its callers get errors) as if it
had been killed.
"""

from __future__ import annotations

import threading
import time

from ._logger import Logger
from ._native import NativeScheduler
from ._scheduler import Scheduler
from ._service import Service
from ._warnings import ENDLESS_AFTER, endless
from ._workers import ThreadedScheduler

#: Interrupts a message may swallow before its service is doomed.
STRIKES = 3


def interrupt(service: Service, why: str) -> None:
    """Make ``service``'s running handler raise ``why`` (from any thread)."""
    watch = service.watch
    if watch is None or not watch.interrupt(why):
        service.interrupt = why.encode()  # for the Lua count hook's CHECK


def taken(service: Service) -> bool:
    """Whether the service's Lua ran since its last interrupt (and so met it).

    A thread the OS stalls, or a long C call, has not: that message is not
    swallowing anything, and is not interrupted again until it runs.
    """
    if service.watch is not None and service.watch.pending():
        return False
    return service.interrupt is None


def doom(service: Service, why: str) -> None:
    """From now on every Lua instruction ``service`` runs raises ``why``."""
    service.doomed = why.encode()  # the dispatcher retires it; the Lua hook's CHECK
    if service.watch is not None:
        service.watch.doom(why)


class Monitor:
    def __init__(
        self,
        scheduler: Scheduler | ThreadedScheduler | NativeScheduler,
        timeout: float,
        logger: Logger,
    ) -> None:
        self._scheduler = scheduler
        self._timeout = timeout
        self._logger = logger
        #: Seconds between two looks at the scheduler (read at every look).
        self.period = min(1.0, timeout / 4) if timeout > 0 else 1.0
        #: Seconds between two interrupts of one message: time for an error
        #: that was not swallowed to unwind, even on a loaded machine.
        self.grace = min(1.0, timeout)
        #: Seconds one message runs before skynet's endless-loop warning.
        self.endless_after = ENDLESS_AFTER
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Runs even without runaway_timeout (0: never interrupt), for skynet's
        # endless-loop warning.
        self._thread = threading.Thread(target=self._watch, name="skylet-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        # Per dispatcher: the message counter last seen, since when, and how
        # many interrupts that message has had.
        seen = [(-1, time.monotonic(), 0) for _ in self._scheduler.dispatchers]
        warned = [0.0 for _ in self._scheduler.dispatchers]  # last endless warning
        while not self._stop.wait(self.period):
            now = time.monotonic()
            for index, dispatcher in enumerate(self._scheduler.dispatchers):
                service = dispatcher.current
                version = dispatcher.version
                last, since, strikes = seen[index]
                if service is None or version != last:
                    seen[index] = (version, now, 0)
                    warned[index] = now
                    continue
                if now - warned[index] >= self.endless_after:
                    # skynet warns at every check while one message runs
                    warned[index] = now
                    endless(service, dispatcher.source, version, self._logger.log)
                if self._timeout <= 0:
                    continue
                if strikes == 0 and now - since >= self._timeout:
                    why = (
                        f"service {service.address} interrupted: one message ran for more "
                        f"than {self._timeout:g}s (endless loop?)"
                    )
                    self._logger.log(service.handle, why)
                    interrupt(service, why)
                    seen[index] = (version, now, 1)
                elif strikes and (now - since < max(self.grace, self.period) or not taken(service)):
                    continue  # too soon, or the last interrupt has not reached running Lua
                elif 0 < strikes < STRIKES:
                    why = (
                        f"service {service.address} interrupted again: the message goes on "
                        f"after {strikes} interrupt(s) (an error handler swallows them?)"
                    )
                    self._logger.log(service.handle, why)
                    interrupt(service, why)
                    seen[index] = (version, now, strikes + 1)
                elif strikes == STRIKES:
                    why = (
                        f"service {service.address} killed: its message went on after "
                        f"{STRIKES} interrupts"
                    )
                    self._logger.log(service.handle, why)
                    if isinstance(self._scheduler, NativeScheduler):
                        # First: what it sends as it unwinds must find it doomed.
                        self._scheduler.doom(service)
                    doom(service, why)
                    seen[index] = (version, since, strikes + 1)
