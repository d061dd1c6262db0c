"""skynet.timeout / sleep: one heap of deadlines on trio's clock.

One tick is 1/100 s, as in skynet. Deadlines live on trio's clock, so tests
on ``MockClock(autojump_threshold=0)`` run timer logic in no real time.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import trio

TICKS_PER_SECOND = 100


def ticks_at(seconds: float) -> int:
    """Whole ticks in ``seconds`` (0.03 s is 3 ticks, not 2.9999...)."""
    return math.floor(seconds * TICKS_PER_SECOND + 1e-6)


class Timers:
    """Fires ``expire(handle, session)`` when a timer's deadline passes.

    Timers with the same deadline fire in the order they were set.
    """

    def __init__(self, expire: Callable[[int, int], None]) -> None:
        self._expire = expire
        #: trio's clock; set by the node before anything can add a timer.
        self.clock: trio.abc.Clock | None = None
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = itertools.count()
        self._scope: trio.CancelScope | None = None
        #: The clock's time at tick 0 (the node's start; set by the node).
        self.origin = 0.0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, ticks: int, handle: int, session: int) -> None:
        """Set a timer; must be called on the trio thread."""
        assert self.clock is not None, "timers have no clock yet"
        # As in skynet, a timer fires on a tick: `ticks` after the current
        # tick began, so skynet.now() has moved by exactly `ticks` when it does.
        origin = self.origin
        tick = ticks_at(self.clock.current_time() - origin)
        deadline = origin + (tick + ticks) / TICKS_PER_SECOND
        heapq.heappush(self._heap, (deadline, next(self._seq), handle, session))
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline

    async def run(self) -> None:
        clock = self.clock = trio.lowlevel.current_clock()
        heap = self._heap
        while True:
            with trio.CancelScope(deadline=heap[0][0] if heap else math.inf) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            now = clock.current_time()
            while heap and heap[0][0] <= now:
                _, _, handle, session = heapq.heappop(heap)
                self._expire(handle, session)
