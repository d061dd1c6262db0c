"""Compile each Lua file once per node; every VM loads a copy of the chunk.

skynet shares the compiled prototype between VMs. lupa VMs cannot share
memory, so skylet keeps the next best thing: the chunk compiled once, as
``string.dump`` bytecode with debug info (tracebacks keep file and line),
which each VM loads without reading or parsing the file again. skylet's own
library drops its local-variable names (see ``_debuginfo``).

Modes are skynet's: ``ON`` caches everything, ``EXIST`` uses what is cached
and hands anything else to the VM as source text without caching it, ``OFF``
always hands the VM the source text. The node's default comes from config
(``codecache``); each service may change its own (``skynet.codecache.mode``).

A cached file that changed on disk since it was compiled (size or mtime) is
served as cached with a warning the first time, or recompiled if the node
runs with ``codecache_reload``. Only chunks compiled here are ever handed to
a VM as binary; source text always loads as text.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import lupa.lua54 as lupa

from .._core._errors import ConfigError, SkyletError
from .._core._paths import LUALIB
from ._debuginfo import drop_local_names

# skylet's own Lua library loads into every service; it is compiled without
# local-variable names (_debuginfo.py says why and what stays).
_LIBRARY_PREFIX = os.path.join(LUALIB, "")


class CompileError(SkyletError):
    """A Lua file could not be read or compiled; the message names file and line."""


class CodeCacheMode(enum.Enum):
    """skynet's code cache modes."""

    ON = "ON"
    EXIST = "EXIST"
    OFF = "OFF"

    @classmethod
    def parse(cls, value: object) -> CodeCacheMode:
        """The mode named ``"ON"``, ``"EXIST"`` or ``"OFF"`` (str or bytes); else ValueError."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            return cls(text)
        except ValueError:
            raise ValueError(
                f'codecache mode must be "ON", "EXIST" or "OFF", not {text!r}'
            ) from None


class Chunk(NamedTuple):
    """What a VM loads: ``code`` with Lua's ``load`` mode ``b"b"`` (bytecode) or ``b"t"``."""

    code: bytes
    mode: bytes


@dataclass(frozen=True)
class CodeCacheStats:
    """Counters of one node's code cache (``CodeCache.stats()``)."""

    #: Loads answered with a chunk already compiled (stale ones included).
    hits: int
    #: Loads that were not: the file was read, or the load failed.
    misses: int
    #: Files cached now, and the size of their bytecode.
    entries: int
    bytes: int
    #: Files compiled by the cache (first loads in ON mode and reloads).
    compiles: int
    #: Cached files found changed on disk (each change counted once).
    stale: int


class _Entry:
    __slots__ = ("chunk", "mtime_ns", "noticed", "size")

    def __init__(self, code: bytes, stat: os.stat_result) -> None:
        self.chunk = Chunk(code, b"b")
        self.size = stat.st_size
        self.mtime_ns = stat.st_mtime_ns
        self.noticed = False  # its change on disk was counted (and warned about)

    def changed(self, stat: os.stat_result) -> bool:
        return stat.st_size != self.size or stat.st_mtime_ns != self.mtime_ns


class _Compiling:
    """A compile in progress: later loads of the same file wait for it."""

    __slots__ = ("done", "entry", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: _Entry | None = None
        self.error: CompileError | None = None


class _Compiler(threading.local):
    # One private compiler VM per thread, so threads compiling different
    # files do not queue behind one runtime's lock.
    compile_fn: Any = None


class CodeCache:
    """A thread-safe map from resolved file path to compiled chunk.

    ``mode`` is the default for loads that do not name one; ``reload``
    recompiles files that changed on disk; ``warn`` receives one line the
    first time a changed file is served stale.
    """

    def __init__(
        self,
        mode: CodeCacheMode = CodeCacheMode.ON,
        *,
        reload: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.mode = mode
        self.reload = reload
        self._warn = warn
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._compiling: dict[str, _Compiling] = {}
        # Path as searched -> resolved path: realpath costs an lstat per
        # path component, too much to pay on every require of every service.
        self._resolved: dict[str, str] = {}
        self._generation = 0  # bumped by clear(): compiles started before it are dropped
        self._compiler = _Compiler()
        self._hits = self._misses = self._compiles = self._stale = self._bytes = 0

    @classmethod
    def from_config(
        cls, config: Mapping[str, object], warn: Callable[[str], None] | None = None
    ) -> CodeCache:
        """The cache a node config asks for: keys ``codecache`` and ``codecache_reload``."""
        try:
            mode = CodeCacheMode.parse(config.get("codecache", "ON"))
        except ValueError as exc:
            raise ConfigError(f"config key 'codecache': {exc}") from None
        reload = config.get("codecache_reload", False)
        if reload in ("true", "false"):
            reload = reload == "true"
        if not isinstance(reload, bool):
            raise ConfigError(
                f"config key 'codecache_reload' must be true or false, not {reload!r}"
            )
        return cls(mode, reload=reload, warn=warn)

    def load(
        self,
        path: str | os.PathLike[str],
        chunkname: str,
        mode: CodeCacheMode | None = None,
        stat: os.stat_result | None = None,
    ) -> Chunk:
        """The chunk for the file at ``path``, compiling it on first use.

        ``chunkname`` is what tracebacks call the file (usually the path as
        the search pattern spelled it); ``stat``, if the caller has it, saves
        a system call. Raises :class:`CompileError` naming the file (and
        line) if it cannot be read or compiled.
        """
        if mode is None:
            mode = self.mode
        key = self._resolve(os.fspath(path))
        if mode is not CodeCacheMode.OFF:
            entry = self._entries.get(key)
            if entry is not None:
                return self._check(key, entry, chunkname, stat).chunk
            if mode is CodeCacheMode.ON:
                return self._compile_once(key, chunkname, None).chunk
        with self._lock:
            self._misses += 1
        return Chunk(self._read(key, chunkname), b"t")

    def clear(self) -> None:
        """Forget every cached chunk; later loads read the files again.

        Services already running keep the code they loaded.
        """
        with self._lock:
            self._entries.clear()
            self._resolved.clear()
            self._bytes = 0
            self._generation += 1

    def stats(self) -> CodeCacheStats:
        with self._lock:
            return CodeCacheStats(
                hits=self._hits,
                misses=self._misses,
                entries=len(self._entries),
                bytes=self._bytes,
                compiles=self._compiles,
                stale=self._stale,
            )

    # ----- internals -----

    def _resolve(self, path: str) -> str:
        resolved = self._resolved.get(path)
        if resolved is None:
            resolved = os.path.realpath(path)
            self._resolved[path] = resolved
        return resolved

    def _check(
        self, key: str, entry: _Entry, chunkname: str, stat: os.stat_result | None
    ) -> _Entry:
        """``entry`` if it may be served (counting the hit), or a recompiled
        entry if the file changed and the cache reloads."""
        if stat is None:
            try:
                stat = os.stat(key)
            except OSError:
                # Deleted after the search found it: nothing newer to compare with.
                stat = None
        if stat is None or not entry.changed(stat):
            with self._lock:
                self._hits += 1
            return entry
        with self._lock:
            first = not entry.noticed
            entry.noticed = True
            if first:
                self._stale += 1
            if not self.reload:
                self._hits += 1
        if self.reload:
            return self._compile_once(key, chunkname, entry)
        if first and self._warn is not None:
            self._warn(
                f"codecache: {key} changed on disk since it was compiled; running the cached "
                "copy (codecache.clear() or codecache_reload = true picks up the new one)"
            )
        return entry

    def _compile_once(self, key: str, chunkname: str, replacing: _Entry | None) -> _Entry:
        """Compile ``key`` unless another thread is compiling it already: then
        wait for that compile and share its result (or its error)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry is not replacing:
                self._hits += 1
                return entry
            job = self._compiling.get(key)
            owner = job is None
            if job is None:
                job = self._compiling[key] = _Compiling()
            generation = self._generation
        if not owner:
            job.done.wait()
            with self._lock:
                if job.entry is None:
                    self._misses += 1
                else:
                    self._hits += 1
            if job.error is not None:
                raise job.error
            assert job.entry is not None
            return job.entry
        try:
            entry = self._compile(key, chunkname)
        except CompileError as exc:
            job.error = exc
            raise
        else:
            job.entry = entry
        finally:
            with self._lock:
                del self._compiling[key]
                self._misses += 1
                if job.entry is not None:
                    self._compiles += 1
                    if generation == self._generation:
                        old = self._entries.get(key)
                        if old is not None:
                            self._bytes -= len(old.chunk.code)
                        self._entries[key] = job.entry
                        self._bytes += len(job.entry.chunk.code)
            job.done.set()
        return entry

    def _read(self, key: str, chunkname: str) -> bytes:
        try:
            with open(key, "rb") as file:
                return file.read()
        except OSError as exc:
            raise CompileError(f"cannot read {chunkname}: {exc.strerror}") from None

    def _compile(self, key: str, chunkname: str) -> _Entry:
        # stat before reading: if the file changes in between, the entry
        # looks older than the file and the next load notices.
        try:
            stat = os.stat(key)
        except OSError as exc:
            raise CompileError(f"cannot read {chunkname}: {exc.strerror}") from None
        source = self._read(key, chunkname)
        compile_fn = self._compiler.compile_fn
        if compile_fn is None:
            runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
            # Text only (a file holding bytecode is refused), debug info kept;
            # always two results, so lupa hands back a tuple.
            compile_fn = runtime.eval(
                "function(src, name)"
                "  local f, e = load(src, name, 't')"
                "  if not f then return false, e end"
                "  return string.dump(f), nil "
                "end"
            )
            self._compiler.compile_fn = compile_fn
        code, err = compile_fn(source, b"@" + chunkname.encode())
        if code is False:
            raise CompileError(err.decode("utf-8", "replace"))
        code = bytes(code)
        if key.startswith(_LIBRARY_PREFIX):
            code = drop_local_names(code)
        return _Entry(code, stat)
