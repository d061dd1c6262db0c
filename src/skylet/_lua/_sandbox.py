"""The sandbox in C (``_lsandbox.c``, in the watchdog's library): find it, bind it, vouch for it.

The boot chunk's last seal on a VM (opaque loader functions, protected
userdata metatables; ``lualib/skylet/sandbox.lua`` says what and why) is a
set of ``debug`` wrappers. Written in Lua they cost each VM ~14 KB of heap;
``_lsandbox.c`` installs the same rules as light C functions and one small
table. The boot chunk opens it with ``package.loadlib`` before it removes
``package.loadlib``; without the library (no compiler at install) or with
config ``sandbox = "lua"``, it runs ``skylet/sandbox.lua`` instead.
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
ENTRY = "luaopen_skylet_sandbox"


def install_in(runtime: Any, path: str, sealed: Any, *protect: Any) -> bool:
    """Seal ``runtime`` (which still has ``package.loadlib``): ``sealed`` is a Lua list
    of functions made opaque; the metatables of ``protect`` get protected."""
    loaded: Any = runtime.eval("package.loadlib")(path.encode(), ENTRY.encode())
    if isinstance(loaded, tuple):  # (nil, message, where)
        raise OSError(f"package.loadlib failed: {loaded[1]!r}")
    return bool(loaded(runtime.globals()[b"debug"], sealed, None, None, *protect))


def _self_test(path: str) -> None:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    secret = runtime.eval("function() local hidden = {} return function() return hidden end end")()
    sealed = runtime.table(secret)
    if not install_in(runtime, path, sealed, runtime.eval("io.stdout")):
        raise OSError("the sandbox refused to install (Lua API not bound)")
    check = runtime.eval(
        """function(secret)
            local mine = function() return secret end
            return debug.getupvalue(secret, 1) == nil
                and debug.getupvalue(mine, 1) == "secret"
                and not pcall(debug.setupvalue, secret, 1, 1)
                and not pcall(debug.upvaluejoin, mine, 1, secret, 1)
                and debug.getinfo(secret, "f").func == nil
                and debug.getinfo(1, "S").what == "Lua"
                and getmetatable(io.stdout) == "protected"
                and debug.getmetatable(io.stdout) == "protected"
                and not pcall(debug.setmetatable, io.stdout, {})
        end"""
    )
    if check(secret) is not True:
        raise OSError("self-test failed: the debug wrappers do not hold")


def load_library(path: Path | None) -> tuple[str | None, str]:
    """Bind and self-test the library at ``path``: ``(path, "")`` or ``(None, why)``."""
    if path is None:
        return None, f"the _lwatchdog extension is not in {HERE} (not built at install?)"
    try:
        bind_lua_api(ctypes.CDLL(str(path)), "skylet_sandbox")  # ctypes never closes it
        _self_test(str(path))
    except (OSError, AttributeError, lupa.LuaError) as exc:
        return None, f"{path.name}: {exc}"
    return str(path), ""


@functools.cache
def sandbox_library() -> tuple[str | None, str]:
    """``(path, "")`` if the C sandbox is usable in this process, else ``(None, why)``."""
    return load_library(find_extension("_lwatchdog"))


def choose_sandbox(setting: object, log: Callable[[str], None]) -> bytes | None:
    """The C sandbox path the boot chunk gets for config ``sandbox`` (None: the Lua one)."""
    library = sandbox_library() if setting in (None, "auto", "c") else (None, "")
    return choose_library(
        "sandbox", setting, library, log, "C sandbox", "services use skylet/sandbox.lua"
    )
