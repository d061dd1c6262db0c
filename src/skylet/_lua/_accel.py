"""The C msgpack codec (``_lmsgpack.c``): find it, bind it to lupa's Lua, vouch for it.

``_lmsgpack`` is a Lua C module built as a package extension that does not
link against Lua; ``_luabind`` points it at lupa's own Lua 5.4 functions
(``skylet_cmsgpack_bind``). The boot chunk of each service VM then opens it
with ``package.loadlib`` (which finds the library already loaded) before it
removes ``package.loadlib``.

:func:`codec_library` is the one entry point: the path to give the boot chunk,
or the reason there is none. Either way services work; without the library
they use ``lualib/skylet/msgpack.lua``.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa

from ._luabind import HERE, bind_lua_api, choose_library, find_extension

#: Name of the entry point the boot chunk passes to ``package.loadlib``.
ENTRY = "luaopen_skylet_cmsgpack"
#: The cluster's skynet.pack codec in the same library (``skylet.cseri``).
SERI_ENTRY = "luaopen_skylet_cseri"


def _find_library() -> Path | None:
    return find_extension("_lmsgpack")


def _bind(path: Path) -> None:
    """Load the codec and point its Lua API table at lupa's Lua 5.4.

    The library also holds the cluster's skynet.pack codec (``_lseri.c``,
    ``luaopen_skylet_cseri``) and netpack's cutter (``_lnetpack.c``,
    ``luaopen_skylet_cnetpack``), bound here too.
    """
    library = ctypes.CDLL(str(path))  # ctypes never closes it
    bind_lua_api(library, "skylet_cmsgpack")
    bind_lua_api(library, "skylet_cseri")
    bind_lua_api(library, "skylet_cnetpack")


def open_in(runtime: Any, path: str) -> Any:
    """Open the codec in a lupa runtime that still has ``package.loadlib``.

    Returns the module table (``pack``, ``unpack``, ``unpack_one``).
    """
    loaded: Any = runtime.eval("package.loadlib")(path.encode(), ENTRY.encode())
    if isinstance(loaded, tuple):  # (nil, message, where)
        raise OSError(f"package.loadlib failed: {loaded[1]!r}")
    module = loaded()
    if module is None:
        raise OSError("the codec refused to open (Lua API not bound)")
    return module


def _self_test(path: str) -> None:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    module = open_in(runtime, path)
    check = runtime.eval(
        r"""function(mp)
            local msg = mp.pack("move", {7, x = 1.5}, nil, -200)
            if msg ~= "\xa4move\x82\x01\x07\xa1x\xcb\x3f\xf8\0\0\0\0\0\0\xc0\xd1\xff\x38"
               and msg ~= "\xa4move\x82\xa1x\xcb\x3f\xf8\0\0\0\0\0\0\x01\x07\xc0\xd1\xff\x38" then
                return false
            end
            local a, b, c, d = mp.unpack(msg)
            return a == "move" and b[1] == 7 and b.x == 1.5 and c == nil and d == -200
        end"""
    )
    if check(module) is not True:
        raise OSError("self-test failed: the codec does not round-trip")
    seri = runtime.eval("package.loadlib")(path.encode(), SERI_ENTRY.encode())()
    check = runtime.eval(
        r"""function(seri)
            local msg = seri.pack("move", {7, x = 1.5}, nil, -200)
            local want = "\x24move\x0e\x0a\x07\x0cx\x42\0\0\0\0\0\0\xf8\x3f\0"
            if msg ~= want .. "\0\x22\x38\xff\xff\xff" then
                return false
            end
            local a, b, c, d = seri.unpack(msg)
            return a == "move" and b[1] == 7 and b.x == 1.5 and c == nil and d == -200
        end"""
    )
    if check(seri) is not True:
        raise OSError("self-test failed: the skynet.pack codec does not round-trip")


@functools.cache
def codec_library() -> tuple[str | None, str]:
    """``(path, "")`` if the C codec is usable in this process, else ``(None, why)``.

    The library is bound and checked once per process.
    """
    return load_library(_find_library())


def load_library(path: Path | None) -> tuple[str | None, str]:
    """Bind and self-test the codec library at ``path``: ``(path, "")`` or ``(None, why)``."""
    if lupa.LUA_VERSION[:2] != (5, 4):  # pragma: no cover - lupa.lua54 is 5.4
        return None, f"lupa.lua54 is Lua {lupa.LUA_VERSION}, not 5.4"
    if path is None:
        return None, f"the _lmsgpack extension is not in {HERE} (not built at install?)"
    try:
        _bind(path)
        _self_test(str(path))
    except (OSError, AttributeError, lupa.LuaError) as exc:
        return None, f"{path.name}: {exc}"
    return str(path), ""


def choose_codec(
    setting: object,
    log: Callable[[str], None],
    library: tuple[str | None, str] | None = None,
) -> bytes | None:
    """The codec path the boot chunk gets for config ``msgpack`` (None: msgpack.lua).

    ``auto`` (default): the C codec if usable, else the Lua one, logging why.
    ``c``: the C codec or :class:`SkyletError`. ``lua``: always the Lua codec.
    ``library`` is what :func:`codec_library` returns, by default its answer.
    """
    if setting in (None, "auto", "c"):
        library = library or codec_library()
    return choose_library(
        "msgpack",
        setting,
        library or (None, ""),
        log,
        "C codec",
        "services use the Lua codec",
    )
