"""Injecting a script into a running service from Python (the debug ``RUN``).

The script runs inside the service's own turn, as skynet's ``inject`` does;
see ``lualib/skylet/inject.lua`` for what it can see and
``lualib/skylet/hotfix.lua`` for replacing functions with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InjectResult:
    """What a service answered to ``RUN``.

    ``ok`` is False if the script did not compile (nothing ran), raised, or a
    hotfix in it was refused; ``output`` is what it printed, then the values
    it returned, then the error and its traceback if it failed.
    """

    ok: bool
    output: str

    @property
    def lines(self) -> list[str]:
        return self.output.split("\n") if self.output else []

    def __bool__(self) -> bool:
        return self.ok


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


async def inject(
    call: Callable[..., Awaitable[Any]],
    address: int | str,
    source: str | bytes,
    filename: str | None,
    *args: Any,
) -> InjectResult:
    """``RUN`` the script in the service at ``address``, through ``call`` (``Node.call``)."""
    answer = await call(address, "debug", "RUN", source, filename, *args)
    if not isinstance(answer, tuple) or not answer:
        raise TypeError(f"unexpected answer to RUN from {address!r}: {answer!r}")
    return InjectResult(bool(answer[0]), _text(answer[1] if len(answer) > 1 else None))
