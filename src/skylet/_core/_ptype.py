"""Message type numbers, as skynet numbers them (skynet.h)."""

from __future__ import annotations

TEXT = 0
RESPONSE = 1
MULTICAST = 2
CLIENT = 3
SYSTEM = 4
HARBOR = 5
SOCKET = 6
ERROR = 7
QUEUE = 8
DEBUG = 9
LUA = 10
SNAX = 11
TRACE = 12

BY_NAME: dict[str, int] = {
    "text": TEXT,
    "response": RESPONSE,
    "multicast": MULTICAST,
    "client": CLIENT,
    "system": SYSTEM,
    "harbor": HARBOR,
    "socket": SOCKET,
    "error": ERROR,
    "queue": QUEUE,
    "debug": DEBUG,
    "lua": LUA,
    "snax": SNAX,
    "trace": TRACE,
}


def resolve(ptype: int | str) -> int:
    """Turn a protocol name or number into skynet's number."""
    if isinstance(ptype, int):
        return ptype
    try:
        return BY_NAME[ptype]
    except KeyError:
        raise ValueError(f"unknown protocol {ptype!r}") from None
