"""The C sproto core (``_lsproto.c``): find it, bind it to lupa's Lua, vouch for it.

Like the msgpack codec (``_accel.py``): a Lua C module built as a package
extension that does not link against Lua; ``_luabind`` points it at lupa's
Lua 5.4 (``skylet_csproto_bind``). The boot chunk of each service VM opens it
with ``package.loadlib`` as ``skylet.csproto``, which ``sproto.core`` prefers
to the pure-Lua ``skylet.sprotocore``. Config ``sproto_core``: ``auto`` (default),
``c`` or ``lua``.
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
ENTRY = "luaopen_skylet_csproto"

#: The bundle sprotoparser writes for ``.P { a 0 : integer }``.
_SELF_TEST_BUNDLE = bytes.fromhex(
    "0100000026000000220000000200000000000100000050130000000f000000040000000200010002000100000061"
)


def open_in(runtime: Any, path: str) -> Any:
    """Open the C core in a lupa runtime that still has ``package.loadlib``."""
    loaded: Any = runtime.eval("package.loadlib")(path.encode(), ENTRY.encode())
    if isinstance(loaded, tuple):  # (nil, message, where)
        raise OSError(f"package.loadlib failed: {loaded[1]!r}")
    module = loaded()
    if module is None:
        raise OSError("the sproto core refused to open (Lua API not bound)")
    return module


def _self_test(path: str) -> None:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    check = runtime.eval(
        r"""function(core, bin)
            local p = core.querytype(core.newproto(bin), "P")
            local msg = core.encode(p, { a = 5 })
            return msg == "\1\0\12\0" and core.decode(p, msg).a == 5
                and core.unpack(core.pack(msg)) == msg .. "\0\0\0\0"
        end"""
    )
    if check(open_in(runtime, path), _SELF_TEST_BUNDLE) is not True:
        raise OSError("self-test failed: the sproto core does not round-trip")


def load_library(path: Path | None) -> tuple[str | None, str]:
    """Bind and self-test the library at ``path``: ``(path, "")`` or ``(None, why)``."""
    if path is None:
        return None, f"the _lsproto extension is not in {HERE} (not built at install?)"
    try:
        bind_lua_api(ctypes.CDLL(str(path)), "skylet_csproto")  # ctypes never closes it
        _self_test(str(path))
    except (OSError, AttributeError, lupa.LuaError) as exc:
        return None, f"{path.name}: {exc}"
    return str(path), ""


@functools.cache
def sproto_library() -> tuple[str | None, str]:
    """``(path, "")`` if the C core is usable in this process, else ``(None, why)``."""
    return load_library(find_extension("_lsproto"))


def choose_sproto(setting: object, log: Callable[[str], None]) -> bytes | None:
    """The C core path the boot chunk gets for config ``sproto_core`` (None: the Lua core)."""
    library = sproto_library() if setting in (None, "auto", "c") else (None, "")
    return choose_library(
        "sproto_core", setting, library, log, "C sproto core", "services use the Lua sproto core"
    )
