"""Binding skylet's Lua C modules to lupa's Lua 5.4 (see ``_lua54.h``).

The modules (``_lmsgpack``, ``_lwatchdog``) are package extensions that do
not link against Lua: lupa's ``lua54`` extension carries Lua 5.4 statically
and its symbols are private to it. Rather than making them global for the
whole process (which would let them interpose on any Lua library loaded
later, such as ``lupa.lua55``, and crash it), each module lists the Lua API
functions it calls, and :func:`bind_lua_api` hands it their addresses in
lupa's library, once per process.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
from collections.abc import Callable
from pathlib import Path

import lupa.lua54 as lupa

from .._core._errors import SkyletError

HERE = Path(__file__).resolve().parent


def find_extension(name: str) -> Path | None:
    """The built extension ``name`` (e.g. ``_lwatchdog``) beside this file, if any."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = HERE / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def bind_lua_api(module: ctypes.CDLL, prefix: str) -> None:
    """Point ``module``'s Lua API table (``prefix_symbol``/``prefix_bind``) at lupa's Lua.

    Raises :class:`OSError` if lupa lacks a function or the module refuses.
    """
    symbol = getattr(module, f"{prefix}_symbol")
    symbol.restype = ctypes.c_char_p
    symbol.argtypes = [ctypes.c_int]
    # lupa.lua54 is imported, so this finds the loaded copy, never a new one.
    lua = ctypes.CDLL(lupa.__file__, mode=os.RTLD_NOW | os.RTLD_NOLOAD)
    names: list[bytes] = []
    while (name := symbol(len(names))) is not None:
        names.append(name)
    addresses = (ctypes.c_void_p * len(names))()
    for i, name in enumerate(names):
        try:
            addresses[i] = ctypes.cast(getattr(lua, name.decode()), ctypes.c_void_p).value
        except AttributeError:
            raise OSError(f"lupa's Lua 5.4 does not export {name.decode()}") from None
    if getattr(module, f"{prefix}_bind")(addresses, len(names)) != 0:
        raise OSError("binding the Lua API failed")


#: Values of the config keys that pick a C module or its Lua fallback.
SETTINGS = ("auto", "c", "lua")


def choose(
    key: str,
    setting: object,
    settings: tuple[str, str, str],
    library: Callable[[], tuple[str | None, str]],
    log: Callable[[str], None],
    *,
    refused: str,
    falls_back: str,
) -> bytes | None:
    """The path of a C library for config ``key`` (None: do without it).

    ``settings`` names the three values: auto (the default), on, off. auto:
    the library if ``library()`` finds it, else None, logging ``falls_back``
    and why; on: the library or :class:`SkyletError` (``refused`` and why);
    off: None, without looking for the library.
    """
    auto, on, off = settings
    setting = auto if setting is None else str(setting)
    if setting not in settings:
        raise SkyletError(f"{key} must be one of {', '.join(settings)}, not {setting!r}")
    if setting == off:
        return None
    path, why = library()
    if path is None:
        if setting == on:
            raise SkyletError(f"{refused}: {why}")
        log(f"{falls_back} ({why})")
        return None
    return path.encode()


def choose_library(
    key: str,
    setting: object,
    library: tuple[str | None, str],
    log: Callable[[str], None],
    module: str,
    fallback: str,
) -> bytes | None:
    """The path of a C module for config ``key`` (None: use the Lua fallback).

    ``auto`` (default): the module if ``library`` found it, else the fallback,
    logging why. ``c``: the module or :class:`SkyletError`. ``lua``: always
    the fallback. ``module`` and ``fallback`` name the two in messages.
    """
    return choose(
        key,
        setting,
        SETTINGS,
        lambda: library,
        log,
        refused=f'{key} = "c" but the {module} is unavailable',
        falls_back=f"{key}: {module} unavailable, {fallback}",
    )
