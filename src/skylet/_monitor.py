"""Catches runaway handlers, as skynet's monitor thread does.

A thread (not a trio task: a runaway handler blocks trio's thread too)
watches the scheduler. If the same message has been running for
``runaway_timeout`` seconds, the monitor interrupts the service: with the C
watchdog (``_watchdog.py``) the Lua state running right now raises at its
next instruction; under the Lua count hook (no C watchdog), the service is
flagged and the hook raises at its next check.
"""

from __future__ import annotations

import threading
import time

from ._logger import Logger
from ._scheduler import Scheduler
from ._service import Service
from ._warnings import ENDLESS_AFTER, endless
from ._workers import ThreadedScheduler


def interrupt(service: Service, why: str) -> None:
    """Make ``service``'s running handler raise ``why`` (from any thread)."""
    watch = service.watch
    if watch is None or not watch.interrupt(why):
        service.interrupt = why.encode()  # for the Lua count hook's CHECK


class Monitor:
    def __init__(
        self, scheduler: Scheduler | ThreadedScheduler, timeout: float, logger: Logger
    ) -> None:
        self._scheduler = scheduler
        self._timeout = timeout
        self._logger = logger
        #: Seconds between two looks at the scheduler (read at every look).
        self.period = min(1.0, timeout / 4) if timeout > 0 else 1.0
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
        # Per dispatcher: the message counter last seen, and since when.
        seen = [(-1, time.monotonic()) for _ in self._scheduler.dispatchers]
        warned = [0.0 for _ in self._scheduler.dispatchers]  # last endless warning
        while not self._stop.wait(self.period):
            now = time.monotonic()
            for index, dispatcher in enumerate(self._scheduler.dispatchers):
                service = dispatcher.current
                version = dispatcher.version
                last, since = seen[index]
                if service is None or version != last:
                    seen[index] = (version, now)
                    warned[index] = now
                    continue
                if now - warned[index] >= self.endless_after:
                    # skynet warns at every check while the message runs
                    warned[index] = now
                    endless(service, dispatcher.source, version, self._logger.log)
                if self._timeout > 0 and now - since >= self._timeout:
                    why = (
                        f"service {service.address} interrupted: one message ran for more "
                        f"than {self._timeout:g}s (endless loop?)"
                    )
                    self._logger.log(service.handle, why)
                    interrupt(service, why)
                    seen[index] = (version, now)
