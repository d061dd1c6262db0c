"""The ``debug`` protocol for Python services, as ``skynet.debug`` answers it
for Lua ones: what the console's ``stat``, ``mem``, ``info``, ``task``,
``ping``, ``exit`` and ``inject`` ask of a service."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from .._pack import unpack
from ._reload import reload

if TYPE_CHECKING:
    from ._host import ServiceHost

#: What MEM answers: a Python service has no VM of its own to measure.
NO_MEMORY_FIGURE = "python service (memory is the node's)"


async def debug_request(host: ServiceHost, session: int, source: int, msg: Any) -> None:
    try:
        cmd, *args = unpack(msg) or (None,)
        values = _answer(host, cmd, args)
    except Exception as exc:
        host._failed(exc, session, source)
        return
    if cmd == "EXIT":
        await host.exit()
    host.answer(source, session, *values)


def _answer(host: ServiceHost, cmd: Any, args: list[Any]) -> tuple[Any, ...]:
    service = host.service
    if cmd == "PING" or cmd == "EXIT":
        return ()
    if cmd == "MEM":
        return (NO_MEMORY_FIGURE,)
    if cmd == "GC":
        gc.collect()
        return (NO_MEMORY_FIGURE,)
    if cmd == "STAT":
        stat = {
            "task": len(host.tasks) - 1,  # not counting this one
            "mqlen": len(service.mailbox) + len(host.held),
            "cpu": service.cpu,
            "message": service.message_count,
        }
        return (stat,)
    if cmd == "INFO":
        return ({"module": host.path, "class": host.class_name},)
    if cmd == "TASK":
        tasks = [label for label in host.tasks.values() if not label.startswith("debug ")]
        return ({str(i): label for i, label in enumerate(tasks, 1)},)
    if cmd == "RUN":
        source = args[0] if args else None
        filename = args[1] if len(args) > 1 else None
        return reload(host, source, filename)
    raise LookupError(f"unknown debug command {cmd!r}")
