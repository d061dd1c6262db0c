"""``inject`` into a Python service: run the module's new code and swap the
class of the live instance, so the state in ``self`` survives.

Nothing changes unless all of it works: the new code must compile and run,
define exactly one service class, with the same name as the live one and an
instance layout the live object can take (``__slots__`` and the like). A
request already running finishes in the code it started with; the next ones
run the new methods.
"""

from __future__ import annotations

import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._base import Service
from ._loader import ServiceModuleError, commands, forget_module, run_module, service_class


@dataclass(frozen=True)
class Reloaded:
    """What ``reload`` did: ``ok`` and the report ``inject`` prints; when
    ok, the new module (the node forgets it when it stops) and its file."""

    ok: bool
    report: str
    module: types.ModuleType | None = None
    path: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def reload(instance: Service, name: str, own_path: str, source: Any, filename: Any) -> Reloaded:
    """Answer ``RUN(source, filename)`` for the Python service ``instance``.

    ``source`` is the module's new text (the file ``skylet inject`` read);
    without one, the service's own file (``own_path``) is read again.
    """
    path = _text(filename) or own_path
    try:
        text = _text(source) if source else Path(own_path).read_text(encoding="utf-8")
        assert text is not None
        module = run_module(name, path, text)
    except Exception as exc:
        why = "".join(traceback.format_exception_only(exc)).rstrip()
        return Reloaded(False, f"reload {name}: {path} did not load; nothing changed\n{why}")
    try:
        cls = service_class(module, path)
        old = type(instance)
        if cls.__qualname__ != old.__qualname__:
            raise ServiceModuleError(
                f"class {cls.__qualname__} no longer matches the live {old.__qualname__}"
            )
        try:
            instance.__class__ = cls
        except TypeError as exc:
            raise ServiceModuleError(f"class {cls.__qualname__} no longer matches: {exc}") from None
    except ServiceModuleError as exc:
        forget_module(module)
        return Reloaded(False, f"reload {name}: {exc}; nothing changed")
    before, after = set(commands(old)), set(commands(cls))
    listed = ", ".join(sorted(after)) or "none"
    report = f"reloaded {name} from {path}: class {cls.__qualname__}, commands {listed}"
    if after - before:
        report += f"; added {', '.join(sorted(after - before))}"
    if before - after:
        report += f"; removed {', '.join(sorted(before - after))}"
    return Reloaded(True, report, module, path)
