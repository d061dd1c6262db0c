"""Shared instructions (``_lcodeshare.c``, in the watchdog's library): find it, check it.

Every VM undumps skynet.lua and the other chunks the code cache compiled
into prototypes of its own. ``_lcodeshare.c`` points the read-only arrays of
those prototypes (instructions and line info) at one process-wide copy, so
each VM holds only what must be its own (constants, nested prototypes,
upvalue names). It relies on Lua 5.4's struct layouts, so before any
service uses it this module checks them against a live VM and exercises a
share end to end; if anything differs, services keep their own copies
(config ``codeshare = "auto"``, logged) or the node refuses to start
(``"on"``). ``"off"`` never shares.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import lupa.lua54 as lupa

from ._luabind import HERE, bind_lua_api, choose, find_extension

#: Name of the entry point the boot chunk passes to ``package.loadlib``.
ENTRY = "luaopen_skylet_codeshare"
SETTINGS = ("auto", "on", "off")

# A chunk whose prototype fields are known: the function it returns starts
# on line 3, ends on line 8, takes 3 parameters and nests 2 functions.
_PROBE = b"""
-- layout probe
return function(a, b, c)
  local f = function() return a end
  local g = function() return b end
  if c == nil then error("no c") end
  return f() + g() + c
end
"""
_PROBE_FIELDS = (3, 3, 8, 2, 1)  # numparams, linedefined, lastlinedefined, sizep, lineinfo


class CodeShareStats(NamedTuple):
    """The process-wide arena: bytes of shared code and distinct blocks."""

    bytes: int
    blocks: int


def _runtime() -> Any:
    return lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)


def _check_layout(path: str) -> None:
    runtime = _runtime()
    opener = runtime.eval("package.loadlib")(path.encode(), b"luaopen_skylet_codeshare_layout")
    if not callable(opener):  # (nil, message, where)
        raise OSError(f"package.loadlib failed: {opener!r}")
    layout = opener()
    probe = runtime.execute(_PROBE)
    fields = layout(probe)  # nothing if the type tags are not where they should be
    if fields != _PROBE_FIELDS:
        raise OSError(f"Lua's Proto layout is not the one expected ({fields} != {_PROBE_FIELDS})")


_SHARE_TEST = """
local share, probe = ...
local dump = string.dump(probe)
local main = load(dump, "=probe", "b")
local before = string.dump(main)
local saved = share(main)
local f = main()
local _, err = pcall(f, 1, 2, nil)
return saved, f(1, 2, 3), string.dump(main) == before, err
"""


def _check_share(path: str) -> None:
    # Two VMs load the same chunk: each frees its own arrays, both run it
    # (and report the right line) from the shared ones, and both close.
    for _ in range(2):
        runtime = _runtime()
        share = runtime.eval("package.loadlib")(path.encode(), ENTRY.encode())()
        if share is None:
            raise OSError("the shared-code arena could not be opened")
        probe = runtime.execute(b"return load(...)", _PROBE, b"=probe")
        saved, result, same, err = runtime.execute(_SHARE_TEST, share, probe)
        if not (saved > 0 and result == 6 and same and err == b"probe:6: no c"):
            raise OSError(f"self-test failed: {(saved, result, same, err)!r}")
        del runtime, share, probe


def load_library(path: Path | None) -> tuple[str | None, str]:
    """Bind and self-test the library at ``path``: ``(path, "")`` or ``(None, why)``."""
    if path is None:
        return None, f"the _lwatchdog extension is not in {HERE} (not built at install?)"
    try:
        bind_lua_api(ctypes.CDLL(str(path)), "skylet_codeshare")  # ctypes never closes it
        _check_layout(str(path))
        _check_share(str(path))
    except (OSError, AttributeError, TypeError, ValueError, lupa.LuaError) as exc:
        return None, f"{path.name}: {exc}"
    return str(path), ""


@functools.cache
def codeshare_library() -> tuple[str | None, str]:
    """``(path, "")`` if shared code is usable in this process, else ``(None, why)``."""
    return load_library(find_extension("_lwatchdog"))


def choose_codeshare(setting: object, log: Callable[[str], None]) -> bytes | None:
    """The library path the boot chunk gets for config ``codeshare`` (None: no sharing)."""
    return choose(
        "codeshare",
        setting,
        SETTINGS,
        codeshare_library,
        log,
        refused='codeshare = "on" but shared code is unavailable',
        falls_back="codeshare: shared code unavailable, each VM keeps its own",
    )


def stats() -> CodeShareStats:
    """What the arena holds now (zeros if shared code never opened)."""
    path, _ = codeshare_library()
    if path is None:
        return CodeShareStats(0, 0)
    size, blocks = ctypes.c_size_t(), ctypes.c_size_t()
    ctypes.CDLL(path).skylet_codeshare_stats(ctypes.byref(size), ctypes.byref(blocks))
    return CodeShareStats(size.value, blocks.value)
