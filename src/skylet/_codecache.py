"""Compile each Lua file once per process; every VM loads a clone of the chunk.

skynet shares the compiled prototype between VMs. lupa VMs cannot share
memory, so skylet keeps the next best thing: the chunk compiled once, as
``string.dump`` bytecode with debug info (tracebacks keep file and line),
which each VM loads without reading or parsing the file again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import lupa.lua54 as lupa


class CompileError(Exception):
    """A Lua file could not be read or compiled; the message names file and line."""


class CodeCache:
    """A thread-safe map from resolved file path to compiled chunk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: dict[Path, bytes] = {}
        self._compile_fn = None
        self._dump_fn = None

    def _compiler(self):  # type: ignore[no-untyped-def]
        if self._compile_fn is None:
            runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
            # Always two results, so lupa hands back a tuple.
            self._compile_fn = runtime.eval(
                "function(src, name) local f, e = load(src, name, 't') return f or false, e end"
            )
            self._dump_fn = runtime.eval("string.dump")
        return self._compile_fn, self._dump_fn

    def load(self, path: Path, chunkname: str) -> bytes:
        """The compiled chunk for ``path``, compiling it on first use.

        ``chunkname`` is what tracebacks call the file (usually the path as
        the search pattern produced it).
        """
        key = path.resolve()
        chunk = self._chunks.get(key)
        if chunk is not None:
            return chunk
        with self._lock:
            chunk = self._chunks.get(key)
            if chunk is None:
                chunk = self._compile(key, chunkname)
                self._chunks[key] = chunk
            return chunk

    def _compile(self, path: Path, chunkname: str) -> bytes:
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise CompileError(f"cannot read {chunkname}: {exc.strerror}") from None
        compile_fn, dump_fn = self._compiler()
        fn, err = compile_fn(source, b"@" + chunkname.encode())
        if not fn:
            raise CompileError(err.decode(errors="replace"))
        return bytes(dump_fn(fn))
