"""The code cache on its own: real files, real threads, the compiler VM."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import lupa.lua54 as lupa
import pytest

from skylet import CodeCache, CodeCacheMode, CodeCacheStats, ConfigError
from skylet._lua._codecache import CompileError


def write(path: Path, text: str) -> Path:
    """Write ``text`` and move the mtime a second on, so the change shows
    even on file systems with coarse timestamps."""
    old = path.stat().st_mtime_ns if path.exists() else None
    path.write_text(text)
    if old is not None:
        os.utime(path, ns=(old + 1_000_000_000, old + 1_000_000_000))
    return path


def run(chunk_code: bytes, mode: bytes = b"b") -> object:
    """Load a chunk in a fresh VM, as a service would, and run it."""
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    fn = runtime.globals().load(chunk_code, b"=test", mode)
    assert not isinstance(fn, tuple), fn
    return fn()


def test_hits_and_misses_are_counted(tmp_path: Path) -> None:
    a = write(tmp_path / "a.lua", "return 1")
    b = write(tmp_path / "b.lua", "return 2")
    cache = CodeCache()
    first = cache.load(a, "a.lua")
    again = cache.load(a, "a.lua")
    other = cache.load(b, "b.lua")
    assert first is again
    assert first.mode == b"b"
    assert run(first.code) == 1
    assert run(other.code) == 2
    assert cache.stats() == CodeCacheStats(
        hits=1,
        misses=2,
        entries=2,
        bytes=len(first.code) + len(other.code),
        compiles=2,
        stale=0,
    )


def test_the_same_file_by_another_path_is_one_entry(tmp_path: Path) -> None:
    write(tmp_path / "m.lua", "return 1")
    (tmp_path / "sub").mkdir()
    cache = CodeCache()
    cache.load(tmp_path / "m.lua", "m.lua")
    cache.load(f"{tmp_path}/sub/../m.lua", "m.lua")
    os.symlink(tmp_path / "m.lua", tmp_path / "link.lua")
    cache.load(tmp_path / "link.lua", "link.lua")
    stats = cache.stats()
    assert (stats.entries, stats.compiles, stats.hits) == (1, 1, 2)


def test_cached_chunk_keeps_file_and_line_for_tracebacks(tmp_path: Path) -> None:
    path = write(tmp_path / "boom.lua", "local x = 1\nerror('boom')\n")
    chunk = CodeCache().load(path, str(path))
    with pytest.raises(lupa.LuaError, match=r"boom\.lua:2: boom"):
        run(chunk.code)


def test_compile_error_names_file_and_line_and_is_not_cached(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.lua", "local x = 1\nlocal = 2\n")
    cache = CodeCache()
    with pytest.raises(CompileError, match=r"bad\.lua:2:"):
        cache.load(path, str(path))
    stats = cache.stats()
    assert (stats.entries, stats.misses, stats.compiles) == (0, 1, 0)
    write(path, "return 'fixed'")
    assert run(cache.load(path, str(path)).code) == b"fixed"
    assert cache.stats().entries == 1


def test_missing_file_is_a_compile_error(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"cannot read gone\.lua"):
        CodeCache().load(tmp_path / "gone.lua", "gone.lua")


def test_a_file_of_bytecode_is_refused(tmp_path: Path) -> None:
    # Only chunks the cache compiled itself ever load as binary.
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    dumped = runtime.eval("string.dump(function() return 'sneaky' end)")
    path = tmp_path / "evil.lua"
    path.write_bytes(dumped)
    with pytest.raises(CompileError, match="attempt to load a binary chunk"):
        CodeCache().load(path, "evil.lua")
    chunk = CodeCache(CodeCacheMode.OFF).load(path, "evil.lua")
    assert chunk.mode == b"t"
    with pytest.raises(AssertionError, match="attempt to load a binary chunk"):
        run(chunk.code, chunk.mode)


def test_off_reads_the_file_every_time_and_caches_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    cache = CodeCache(CodeCacheMode.OFF)
    chunk = cache.load(path, "m.lua")
    assert chunk == (b"return 1", b"t")
    write(path, "return 22")
    assert cache.load(path, "m.lua").code == b"return 22"
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.compiles) == (0, 2, 0, 0)


def test_off_ignores_what_is_cached(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    cache = CodeCache()
    cache.load(path, "m.lua")
    write(path, "return 2")
    assert cache.load(path, "m.lua", CodeCacheMode.OFF).code == b"return 2"


def test_exist_uses_the_cache_but_does_not_fill_it(tmp_path: Path) -> None:
    cached = write(tmp_path / "cached.lua", "return 1")
    fresh = write(tmp_path / "fresh.lua", "return 2")
    cache = CodeCache(CodeCacheMode.EXIST)
    compiled = cache.load(cached, "cached.lua", CodeCacheMode.ON)
    assert cache.load(cached, "cached.lua") is compiled
    assert cache.load(fresh, "fresh.lua") == (b"return 2", b"t")
    assert cache.load(fresh, "fresh.lua") == (b"return 2", b"t")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.compiles) == (1, 3, 1, 1)


def test_clear_then_load_reads_the_new_file(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    cache = CodeCache()
    old = cache.load(path, "m.lua")
    write(path, "return 2")
    cache.clear()
    assert cache.stats().entries == 0
    assert cache.stats().bytes == 0
    new = cache.load(path, "m.lua")
    assert run(new.code) == 2
    assert run(old.code) == 1  # what was loaded before keeps working


def test_changed_file_is_served_stale_with_one_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    warnings: list[str] = []
    cache = CodeCache(warn=warnings.append)
    first = cache.load(path, "m.lua")
    assert warnings == []
    write(path, "return 'two'")
    assert cache.load(path, "m.lua") is first
    assert cache.load(path, "m.lua") is first
    assert len(warnings) == 1
    assert str(path) in warnings[0]
    assert "changed on disk" in warnings[0]
    stats = cache.stats()
    assert (stats.stale, stats.hits, stats.compiles) == (1, 2, 1)


def test_codecache_reload_recompiles_a_changed_file(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    warnings: list[str] = []
    cache = CodeCache(reload=True, warn=warnings.append)
    first = cache.load(path, "m.lua")
    write(path, "return 'two'")
    second = cache.load(path, "m.lua")
    assert run(second.code) == b"two"
    assert cache.load(path, "m.lua") is second
    assert warnings == []
    stats = cache.stats()
    assert (stats.stale, stats.compiles, stats.entries, stats.bytes) == (1, 2, 1, len(second.code))
    assert first is not second


def test_reload_of_a_broken_file_fails_until_it_is_fixed(tmp_path: Path) -> None:
    path = write(tmp_path / "m.lua", "return 1")
    cache = CodeCache(reload=True)
    cache.load(path, "m.lua")
    write(path, "return (")
    for _ in range(2):
        with pytest.raises(CompileError, match=r"m\.lua:1:"):
            cache.load(path, "m.lua")
    write(path, "return 3")
    assert run(cache.load(path, "m.lua").code) == 3


def test_concurrent_first_loads_compile_once(tmp_path: Path) -> None:
    # Big enough that the compile takes a while: the threads really overlap.
    body = "\n".join(f"local function f{i}(a) return a + {i} end" for i in range(180))
    path = write(tmp_path / "big.lua", body + "\nreturn f7(1)\n")
    cache = CodeCache()
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[object] = []
    errors: list[BaseException] = []

    def load() -> None:
        barrier.wait()
        try:
            results.append(cache.load(path, "big.lua"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=load) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(results) == threads
    assert all(result is results[0] for result in results)
    stats = cache.stats()
    assert (stats.compiles, stats.misses, stats.hits, stats.entries) == (1, 1, threads - 1, 1)


def test_concurrent_loads_of_a_broken_file_all_fail(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.lua", "return (\n")
    cache = CodeCache()
    threads = 4
    barrier = threading.Barrier(threads)
    failures: list[str] = []

    def load() -> None:
        barrier.wait()
        try:
            cache.load(path, "bad.lua")
        except CompileError as exc:
            failures.append(str(exc))

    workers = [threading.Thread(target=load) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(failures) == threads
    assert all("bad.lua:" in failure for failure in failures)
    assert cache.stats().entries == 0


@pytest.mark.parametrize(
    ("config", "mode", "reload"),
    [
        ({}, CodeCacheMode.ON, False),
        ({"codecache": "EXIST"}, CodeCacheMode.EXIST, False),
        ({"codecache": "OFF", "codecache_reload": True}, CodeCacheMode.OFF, True),
        ({"codecache_reload": "true"}, CodeCacheMode.ON, True),
    ],
)
def test_config_keys(config: dict[str, object], mode: CodeCacheMode, reload: bool) -> None:
    cache = CodeCache.from_config(config)
    assert (cache.mode, cache.reload) == (mode, reload)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"codecache": "on"}, "config key 'codecache': codecache mode must be"),
        ({"codecache": 1}, "codecache mode must be"),
        ({"codecache_reload": 3}, "config key 'codecache_reload' must be true or false"),
    ],
)
def test_bad_config_is_a_config_error(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CodeCache.from_config(config)
