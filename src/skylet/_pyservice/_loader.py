"""Running a Python service's module and finding its one service class."""

from __future__ import annotations

import itertools
import sys
import types
from typing import Any

from ._base import Service

_serial = itertools.count(1)

#: Names on the base class that are its API, never commands.
_BASE_NAMES = frozenset(vars(Service))


class ServiceModuleError(Exception):
    """The module did not load, or does not define exactly one service class."""


def run_module(name: str, path: str, source: bytes | str) -> types.ModuleType:
    """Compile and run ``source`` as a fresh module named after the service.

    Each load is a module of its own (a unique name in ``sys.modules``, so
    dataclasses, pickling and ``typing.get_type_hints`` work), never shared
    with another node or an earlier load. Raises what compiling or running
    raised.
    """
    safe = "".join(c if c.isalnum() else "_" for c in name)
    module_name = f"skylet_pyservice_{next(_serial)}_{safe}"
    module = types.ModuleType(module_name)
    module.__file__ = path
    code = compile(source, path, "exec", dont_inherit=True)
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def forget_module(module: types.ModuleType) -> None:
    if sys.modules.get(module.__name__) is module:
        del sys.modules[module.__name__]


def service_class(module: types.ModuleType, path: str) -> type[Service]:
    """The one subclass of :class:`skylet.Service` the module defines."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Service)
        and value is not Service
        and value.__module__ == module.__name__
    ]
    if len(found) != 1:
        names = ", ".join(sorted(c.__qualname__ for c in found)) or "none"
        raise ServiceModuleError(
            f"{path} must define exactly one subclass of skylet.Service (found {names})"
        )
    return found[0]


def commands(cls: type[Service]) -> list[str]:
    """The command names of a service class, sorted."""
    return sorted(name for name in dir(cls) if command_of(cls, name) is not None)


def command_of(cls: type[Service], name: Any) -> Any:
    """The function behind command ``name``, or None if it is not one."""
    if not isinstance(name, str) or name.startswith("_") or name == "init":
        return None
    if name in _BASE_NAMES:
        return None
    value = getattr(cls, name, None)
    return value if callable(value) else None
