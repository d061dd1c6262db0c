"""The run-queue of services with mail, and the loop that dispatches it.

The hot path is a plain loop: no trio task switch per message. It yields to
trio (timers, sockets, the Python API) between passes over the run-queue.
A service is in the run-queue at most once (``in_queue``), so only one
worker ever dispatches it at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import lupa.lua54 as lupa
import trio

from ._service import Service

#: Messages a service may handle in one turn before others get theirs.
TURN_MESSAGES = 64
#: Service turns between two yields to trio.
PASS_TURNS = 32


class Scheduler:
    def __init__(self, on_error: Callable[[Service, BaseException], None]) -> None:
        self.runq: deque[Service] = deque()
        self.wake: trio.Event | None = None
        self.stopping = False
        # Read by the runaway monitor: what is running now, and a counter
        # that moves with every message.
        self.current: Service | None = None
        self.version = 0
        self._on_error = on_error

    def schedule(self, service: Service) -> None:
        """Put a service that just got mail on the run-queue."""
        service.in_queue = True
        self.runq.append(service)
        wake = self.wake
        if wake is not None:
            wake.set()

    @contextmanager
    def running(self, service: Service) -> Iterator[None]:
        """Another service's Lua runs inside the current turn (a launch runs
        the new service's main chunk): the monitor watches that one meanwhile."""
        outer = self.current
        self.current = service
        self.version += 1
        try:
            yield
        finally:
            self.current = outer
            self.version += 1

    async def run(self) -> None:
        runq = self.runq
        while not self.stopping:
            if not runq:
                self.wake = trio.Event()
                await self.wake.wait()
                self.wake = None
                continue
            for _ in range(min(len(runq), PASS_TURNS)):
                self._turn(runq.popleft())
                if self.stopping:
                    return
            await trio.lowlevel.checkpoint()

    def _turn(self, service: Service) -> None:
        mailbox = service.mailbox
        dispatch = service.dispatch
        count = min(len(mailbox), TURN_MESSAGES)
        self.current = service
        started = time.perf_counter()
        done = 0
        try:
            while done < count:
                ptype, session, source, msg = mailbox.popleft()
                done += 1
                self.version += 1
                try:
                    dispatch(ptype, session, source, msg)  # type: ignore[misc]
                except lupa.LuaError as exc:
                    self._on_error(service, exc)
                if service.dead or self.stopping:
                    break
        finally:
            self.current = None
            service.cpu += time.perf_counter() - started
            service.message_count += done
            if mailbox and not service.dead:
                self.runq.append(service)
            else:
                service.in_queue = False
