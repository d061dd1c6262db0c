"""What the library commands need of the node (``_core._node.Node`` is one).

A protocol of its own, so this package never imports the node's modules:
the core's command table imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._core._service import Service


class Host(Protocol):
    def resolve(self, address: Any) -> Service | None: ...

    def post(self, target: Service, ptype: int, session: int, source: int, msg: Any) -> bool: ...
