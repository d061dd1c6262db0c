"""skynet's two load warnings: a mailbox that may be overloaded, and a
message that may be in an endless loop.

Both only log (and, for the second, set ``skynet.stat "endless"``); what
stops a runaway handler is the monitor's interrupt after ``runaway_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable

from ._service import OVERLOAD, Service

#: Seconds one message runs before skynet's monitor calls it a possible
#: endless loop (skynet checks every 5 s: it warns after 5 to 10 s).
ENDLESS_AFTER = 5.0

Log = Callable[[int, str], None]


def check_overload(service: Service, length: int, log: Log | None) -> None:
    """A turn starts with ``length`` messages queued: past the service's
    threshold, log skynet's warning and double the threshold (a mailbox that
    empties resets it, see :func:`drained`)."""
    length -= 1  # as skynet measures it: after taking the turn's first message
    threshold = service.overload
    if length <= threshold:
        return
    while length > threshold:
        threshold *= 2
    service.overload = threshold
    if log is not None:
        log(service.handle, f"error: May overload, message queue length = {length}")


def drained(service: Service) -> None:
    """The mailbox is empty: the next overload warning is at 1024 again."""
    service.overload = OVERLOAD


def endless(service: Service, source: int, version: int, log: Log) -> None:
    """The monitor saw one message run for :data:`ENDLESS_AFTER` seconds."""
    service.endless = True
    log(
        0,
        f"error: A message from [ :{source:08x} ] to [ {service.address} ] "
        f"maybe in an endless loop (version = {version})",
    )
