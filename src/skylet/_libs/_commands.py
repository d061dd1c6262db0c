"""Core commands that skynet's service libraries need from the node.

skynet implements these libraries partly in C (``multicast.core``,
``stm``); here what they need of the host is a handful of core commands,
taking and returning only strings, numbers, booleans and nil. ``_core``
merges :data:`COMMANDS` into its table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _crypt
from ._multicast import multicast
from ._mysqlauth import mysqlauth
from ._nodename import nodename
from ._shared import shared
from ._stm import stm
from ._tls import tls

COMMANDS: dict[bytes, Callable[..., Any]] = {
    b"MULTICAST": multicast,
    b"STM": stm,
    b"SHARED": shared,
    b"CRYPT": _crypt.command,
    b"MYSQLAUTH": mysqlauth,  # skynet.db.mysql
    b"TLS": tls,
    b"CLUSTERNODENAME": nodename,  # skynet.cluster trace tags
}
