"""``MULTICAST``: one published message delivered to every subscriber.

skynet's multicastd hands each local subscriber a pointer to one
reference-counted copy of the message (``skynet.multicast.core``). Here a
payload is an immutable ``bytes`` object, so every subscriber's mailbox can
hold the same object: the daemon crosses into Python once per publish,
with the subscribers' addresses packed as little-endian uint32s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core import _ptype as ptypes
from .._core._errors import SkyletError

if TYPE_CHECKING:
    from .._core._service import Service
    from ._host import Host as Node


def multicast(node: Node, service: Service, dests: Any, source: Any, channel: Any, msg: Any) -> int:
    """Post ``msg`` as a multicast message from ``source`` on ``channel``; the count delivered."""
    if not isinstance(dests, bytes) or len(dests) % 4:
        raise SkyletError("MULTICAST needs the destinations packed as uint32s")
    if not isinstance(msg, bytes) or not isinstance(source, int) or not isinstance(channel, int):
        raise SkyletError("MULTICAST needs (dests, source, channel, message bytes)")
    delivered = 0
    for i in range(0, len(dests), 4):
        target = node.resolve(int.from_bytes(dests[i : i + 4], "little"))
        # (a subscriber may retire on another thread meanwhile: post says so)
        if target is not None and node.post(target, ptypes.MULTICAST, channel, source, msg):
            delivered += 1
    return delivered
