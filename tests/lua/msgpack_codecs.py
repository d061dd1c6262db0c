"""Lua runtimes with one of skylet's two msgpack codecs, for the codec tests.

``"lua"`` is ``lualib/skylet/msgpack.lua``; ``"c"`` is ``skylet/_lua/_lmsgpack.c``,
opened the way a service VM opens it (bound by ``skylet._lua._accel``, then
``package.loadlib`` in the VM).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua54 as lupa

from skylet._lua import _accel

LUALIB = Path(__file__).resolve().parents[2] / "src" / "skylet" / "lualib"
CODECS = ("lua", "c")


def new_runtime() -> lupa.LuaRuntime:
    # encoding=None: Lua strings come back as bytes, byte strings go in as-is
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    path = str(LUALIB / "?.lua").replace("\\", "/")
    runtime.execute(f'package.path = "{path}"'.encode())
    return runtime


def open_codec(runtime: lupa.LuaRuntime, codec: str) -> Any:
    """The codec's module table (``pack``, ``unpack``, ``unpack_one``) in ``runtime``."""
    if codec == "lua":
        return runtime.eval('(require "skylet.msgpack")')
    path, why = _accel.codec_library()
    assert path is not None, f"the C codec must be built and usable here: {why}"
    return _accel.open_in(runtime, path)
