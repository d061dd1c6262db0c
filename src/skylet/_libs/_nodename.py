"""``CLUSTERNODENAME``: this process's name in cluster trace tags.

skynet's ``cluster.nodename()`` (hostname, blanks and controls made ``_``,
then the pid): a traced call leaving for another node is tagged
``(nodename-node-session)tag``, so the remote side's trace lines say which
process they came from.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def nodename(node: Any, service: Any) -> str:
    try:
        host = socket.gethostname()
    except OSError:
        host = ""
    if not host:
        return f"noname{os.getpid()}"
    return "".join("_" if ch <= " " else ch for ch in host) + str(os.getpid())
