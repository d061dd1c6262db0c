"""A service: an address, its Lua VM's dispatch entry and its mailbox."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._lua._codecache import CodeCacheMode
    from .._lua._watchdog import Watch

#: Mailbox length past which skynet logs "May overload" (then doubles).
OVERLOAD = 1024

#: (ptype, session, source, payload)
Message = tuple[int, int, int, Any]

#: Lua memory beyond a VM's limit that lupa may use to write into it (see
#: Service.make_room).
HEADROOM = 256 * 1024


class Service:
    """One actor on the node.

    ``dispatch`` is the Lua function registered by ``skynet.start`` (or a
    Python function for the node's own endpoint); the scheduler calls it once
    per message, never from two workers at once.
    """

    __slots__ = (
        "args",
        "bytecode",
        "callers",
        "codecache_mode",
        "cost",
        "cpu",
        "dead",
        "dispatch",
        "doomed",
        "endless",
        "essential",
        "handle",
        "in_queue",
        "interrupt",
        "lifted",
        "light",
        "mailbox",
        "memlimit",
        "message_count",
        "name",
        "native",
        "overload",
        "runtime",
        "watch",
    )

    def __init__(self, handle: int, name: str, args: str) -> None:
        self.handle = handle
        self.name = name
        self.args = args
        self.runtime: Any = None
        #: The VM's own string.dump and binary load, out of its code's reach.
        self.bytecode: tuple[Any, Any] | None = None
        self.dispatch: Callable[[int, int, int, Any], Any] | None = None
        self.mailbox: deque[Message] = deque()
        # The address of its C mailbox (the native scheduler, Lua services
        # only; see _lua/_native.py), or 0: its mail is in `mailbox`.
        self.native = 0
        self.in_queue = False
        self.dead = False
        # Requests this service received and has not answered: (caller, session).
        self.callers: set[tuple[int, int]] = set()
        self.message_count = 0
        self.cpu = 0.0
        # How the monitor interrupts a runaway handler: the VM's C watch slot,
        # or (without one) a flag the VM's Lua count hook polls.
        self.watch: Watch | None = None
        self.interrupt: bytes | None = None
        # Set by the monitor once the service swallowed its interrupts: its
        # running message unwinds (every instruction raises this) and the
        # dispatcher retires it.
        self.doomed: bytes | None = None
        # The node cannot run without it (the host endpoint, .launcher, ...):
        # no service can kill it or make it exit.
        self.essential = False
        # Its Lua memory limit in bytes (0: none); skynet.memlimit only lowers it.
        self.memlimit = 0
        # The limit lupa enforces while lupa itself writes into the VM (see
        # make_room), or 0 while that is memlimit.
        self.lifted = 0
        # Threaded scheduler: average seconds per message, and whether that
        # is known to be small enough to keep the service on trio's thread.
        self.cost = 0.0
        self.light = True  # its start function runs where thread = 1 would run it
        # skynet's warnings: a message ran long (skynet.stat "endless"); the
        # mailbox length past which "May overload" is logged next.
        self.endless = False
        self.overload = OVERLOAD
        # skynet.codecache.mode() of this service; None: the node's default.
        self.codecache_mode: CodeCacheMode | None = None

    def stats(self) -> tuple[int, int, float]:
        """(mailbox length, messages handled, cpu seconds) as the Python schedulers keep them."""
        return len(self.mailbox), self.message_count, self.cpu

    def make_room(self, extra: int) -> None:
        """Room in the VM for ``extra`` bytes lupa is about to write into it.

        lupa writes a message's payload (calling into Lua) and a command's
        results (returning to Lua) where a Lua memory error cannot be
        caught: the process aborts ("unprotected error in call to Lua API")
        or deadlocks on the GIL. So while a VM is near its limit, the limit
        is lifted by what lupa needs plus :data:`HEADROOM`, until
        :meth:`settle` after the message. A service overshoots its limit by
        at most that much; its own allocations still fail, in Lua, as
        "not enough memory".
        """
        runtime = self.runtime
        if runtime is None:
            return
        need = runtime.get_memory_used() + extra + HEADROOM
        if need > (self.lifted or self.memlimit):
            runtime.set_max_memory(need)
            self.lifted = need

    def settle(self) -> None:
        """Back to its own memory limit after :meth:`make_room`."""
        if self.lifted:
            self.lifted = 0
            if self.runtime is not None:
                self.runtime.set_max_memory(self.memlimit)

    @property
    def address(self) -> str:
        return f":{self.handle:08x}"

    def __repr__(self) -> str:
        return f"<Service {self.address} {self.name}>"
