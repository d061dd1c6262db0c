"""Functions handed from one service to a new one (``skynet.service``).

skynet's ``service.new`` dumps a function and loads the bytecode in a new
service. skylet loads only bytecode the node made itself: the node dumps the
function with the source VM's own ``string.dump`` and keeps the bytes under
a token; the new service hands the token back and the node loads the bytes
into it with that VM's own binary ``load``. Lua code never holds the bytes,
so it cannot slip forged bytecode in. Tokens are random 62-bit numbers, not
a sequence, so one service cannot guess another's and load its function.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from ._errors import SkyletError
from ._service import Service


class FunctionStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: dict[int, bytes] = {}

    def dump(self, service: Service, function: Any) -> int:
        """Keep the bytecode of ``function`` (a function of ``service``'s VM)."""
        assert service.bytecode is not None
        dump, _ = service.bytecode
        code = bytes(dump(function))
        with self._lock:
            token = secrets.randbits(62) | 1
            while token in self._chunks:
                token = secrets.randbits(62) | 1
            self._chunks[token] = code
        return token

    def load(self, service: Service, token: int) -> Any:
        """The function behind ``token``, loaded into ``service``'s VM (once)."""
        with self._lock:
            code = self._chunks.pop(token, None) if token.__class__ is int else None
        if code is None:
            raise SkyletError(f"no function under token {token}")
        assert service.bytecode is not None
        _, load = service.bytecode
        function = load(code, b"=service.new", b"b")
        if isinstance(function, tuple):  # (nil, message)
            raise SkyletError(function[1].decode(errors="replace"))
        return function
