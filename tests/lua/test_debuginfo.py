"""skylet's own Lua library is cached without local-variable names; nothing
else changes: lines, upvalue names, behaviour, and user code keeps them all."""

from __future__ import annotations

from pathlib import Path

import lupa.lua54 as lupa

from skylet._core._paths import LUALIB
from skylet._lua._codecache import CodeCache
from skylet._lua._debuginfo import drop_local_names

SOURCE = b"""\
local counter = 0
local function bump(step)
  local before = counter
  counter = before + step
  return counter
end
local function fail(why)
  local message = "failed: " .. why
  error(message)
end
return bump, fail
"""

INSPECT = """
local f = ...
local upvalue = debug.getupvalue(f, 1)
return debug.getlocal(f, 1), upvalue
"""


def runtime() -> lupa.LuaRuntime:
    return lupa.LuaRuntime(register_eval=False, encoding=None)


def dump(source: bytes, name: bytes = b"@probe.lua") -> bytes:
    lua = runtime()
    return bytes(lua.eval("string.dump")(lua.eval("load")(source, name, b"t")))


def load(chunk: bytes) -> tuple[lupa.LuaRuntime, object]:
    lua = runtime()
    return lua, lua.eval("load")(chunk, b"=chunk", b"b")


def test_local_names_go_and_everything_else_stays() -> None:
    full = dump(SOURCE)
    lean = drop_local_names(full)
    assert len(lean) < len(full)
    lua, main = load(lean)
    bump, fail = main()
    assert bump(2) == 2 and bump(3) == 5  # same behaviour, live upvalue
    inspect = lua.eval(f"function(...) {INSPECT} end")
    assert inspect(bump) == (None, b"counter")  # local gone, upvalue name kept
    full_lua, full_main = load(full)
    full_bump = full_main()[0]
    assert full_lua.eval(f"function(...) {INSPECT} end")(full_bump) == (b"step", b"counter")
    traceback = lua.eval("function(f) local _, e = xpcall(f, debug.traceback, 'x') return e end")
    assert b"probe.lua:9: failed: x" in traceback(fail)  # file and line


def test_a_chunk_it_does_not_understand_comes_back_unchanged() -> None:
    full = dump(SOURCE)
    assert drop_local_names(full[:-3]) == full[:-3]  # truncated
    assert drop_local_names(full + b"\x00") == full + b"\x00"  # trailing bytes
    assert drop_local_names(b"\x1bLuaS\x00rest") == b"\x1bLuaS\x00rest"  # Lua 5.3
    assert drop_local_names(b"return 1") == b"return 1"


def test_code_cache_drops_local_names_of_skylets_library_only(tmp_path: Path) -> None:
    user = tmp_path / "user.lua"
    user.write_bytes(SOURCE)
    cache = CodeCache()
    library_chunk = cache.load(LUALIB / "skynet.lua", "skynet.lua").code
    user_chunk = cache.load(user, str(user)).code
    assert drop_local_names(library_chunk) == library_chunk  # nothing left to drop
    assert drop_local_names(user_chunk) != user_chunk
