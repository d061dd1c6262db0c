"""The code cache in a running node: services, skynet.codecache, config."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import skylet
from skylet import CallError, LaunchError

SERVICES = Path(__file__).parents[1] / "services" / "codecache"


def write(path: Path, text: str) -> Path:
    old = path.stat().st_mtime_ns if path.exists() else None
    path.write_text(text)
    if old is not None:  # coarse file system clocks: make the change visible
        os.utime(path, ns=(old + 1_000_000_000, old + 1_000_000_000))
    return path


@asynccontextmanager
async def node_with(
    tmp_path: Path, log: list[str] | None = None, **config: object
) -> AsyncIterator[skylet.Node]:
    settings: dict[str, object] = {
        "luaservice": f"{SERVICES}/?.lua;{tmp_path}/?.lua",
        "lua_path": f"{tmp_path}/?.lua",
        **config,
    }
    async with skylet.open_node(settings, log=(log if log is not None else []).append) as node:
        yield node


async def test_a_file_is_compiled_once_for_many_services(tmp_path: Path) -> None:
    write(tmp_path / "shared.lua", "return { answer = 42 }")
    async with node_with(tmp_path) as node:
        probes = [await node.newservice("ccprobe") for _ in range(6)]
        assert await node.call(probes[0], "lua", "require", "shared") == {"answer": 42}
        before = node.codecache.stats()
        for probe in probes[1:]:
            assert await node.call(probe, "lua", "require", "shared") == {"answer": 42}
        after = node.codecache.stats()
    assert after.compiles == before.compiles
    assert after.misses == before.misses
    assert after.hits == before.hits + 5


async def test_launching_the_same_service_again_compiles_nothing(tmp_path: Path) -> None:
    async with node_with(tmp_path) as node:
        await node.newservice("ccprobe")
        before = node.codecache.stats()
        for _ in range(3):
            await node.newservice("ccprobe")
        after = node.codecache.stats()
    assert (after.compiles, after.misses, after.entries) == (
        before.compiles,
        before.misses,
        before.entries,
    )
    # at least the boot chunk, skynet.lua and the service file, per launch
    assert after.hits - before.hits >= 3 * 3


async def test_stats_from_lua_match_python(tmp_path: Path) -> None:
    async with node_with(tmp_path) as node:
        probe = await node.newservice("ccprobe")
        seen = await node.call(probe, "lua", "stats")
        now = node.codecache.stats()
    assert seen == {
        "hits": now.hits,
        "misses": now.misses,
        "entries": now.entries,
        "bytes": now.bytes,
        "compiles": now.compiles,
        "stale": now.stale,
    }
    assert now.entries >= 4 and now.bytes > 10_000


async def test_skynet_cache_is_skynet_codecache(tmp_path: Path) -> None:
    async with node_with(tmp_path) as node:
        probe = await node.newservice("ccprobe")
        assert await node.call(probe, "lua", "alias") is True


async def test_clear_then_load_sees_the_new_file(tmp_path: Path) -> None:
    module = write(tmp_path / "version.lua", "return { get = function() return 1 end }")
    lines: list[str] = []
    async with node_with(tmp_path, lines) as node:
        old = await node.newservice("ccprobe")
        assert await node.call(old, "lua", "run", "version", "get") == 1
        write(module, "return { get = function() return 2 end }")
        await node.call(old, "lua", "clear")
        assert node.codecache.stats().entries == 0
        new = await node.newservice("ccprobe")
        assert await node.call(new, "lua", "run", "version", "get") == 2
        # a service already running keeps the code it loaded
        assert await node.call(old, "lua", "run", "version", "get") == 1
    assert not any("changed on disk" in line for line in lines)


async def test_changed_file_is_served_stale_with_a_warning(tmp_path: Path) -> None:
    module = write(tmp_path / "version.lua", "return 1")
    lines: list[str] = []
    async with node_with(tmp_path, lines) as node:
        probe = await node.newservice("ccprobe")
        assert await node.call(probe, "lua", "require", "version") == 1
        write(module, "return 'two'")
        assert await node.call(probe, "lua", "require", "version") == 1
        assert await node.call(probe, "lua", "require", "version") == 1
        assert node.codecache.stats().stale == 1
    warnings = [line for line in lines if "changed on disk" in line]
    assert len(warnings) == 1
    assert str(module) in warnings[0]


async def test_codecache_reload_picks_up_the_changed_file(tmp_path: Path) -> None:
    module = write(tmp_path / "version.lua", "return 1")
    lines: list[str] = []
    async with node_with(tmp_path, lines, codecache_reload=True) as node:
        probe = await node.newservice("ccprobe")
        assert await node.call(probe, "lua", "require", "version") == 1
        write(module, "return 'two'")
        assert await node.call(probe, "lua", "require", "version") == "two"
    assert not any("changed on disk" in line for line in lines)


async def test_mode_is_per_service_with_the_node_default(tmp_path: Path) -> None:
    async with node_with(tmp_path, codecache="EXIST") as node:
        a = await node.newservice("ccprobe")
        b = await node.newservice("ccprobe")
        assert await node.call(a, "lua", "mode") == "EXIST"
        assert await node.call(a, "lua", "mode", "OFF") == "OFF"
        assert await node.call(b, "lua", "mode") == "EXIST"
        c = await node.newservice("ccprobe", "ON")
        assert await node.call(c, "lua", "mode") == "ON"


async def test_bad_mode_is_refused_in_lua(tmp_path: Path) -> None:
    async with node_with(tmp_path) as node:
        probe = await node.newservice("ccprobe")
        ok, err = await node.call(probe, "lua", "badmode", "FAST")
        assert ok is False
        assert "bad argument #1 to 'mode' (invalid option 'FAST')" in err
        assert await node.call(probe, "lua", "mode") == "ON"


async def test_off_service_reads_files_every_time(tmp_path: Path) -> None:
    module = write(tmp_path / "version.lua", "return 1")
    lines: list[str] = []
    async with node_with(tmp_path, lines) as node:
        probe = await node.newservice("ccprobe", "OFF")
        before = node.codecache.stats()
        assert await node.call(probe, "lua", "require", "version") == 1
        write(module, "return 2")
        assert await node.call(probe, "lua", "require", "version") == 2
        after = node.codecache.stats()
        # another service still caches (the mode is the service's own)
        on = await node.newservice("ccprobe")
        assert await node.call(on, "lua", "require", "version") == 2
        last = node.codecache.stats()
    assert (after.entries, after.hits, after.misses) == (
        before.entries,
        before.hits,
        before.misses + 2,
    )
    assert last.entries > after.entries
    assert not any("changed on disk" in line for line in lines)


async def test_exist_service_uses_cached_files_only(tmp_path: Path) -> None:
    write(tmp_path / "cached.lua", "return 'c'")
    write(tmp_path / "fresh.lua", "return 'f'")
    async with node_with(tmp_path) as node:
        on = await node.newservice("ccprobe")
        await node.call(on, "lua", "require", "cached")
        exist = await node.newservice("ccprobe", "EXIST")
        before = node.codecache.stats()
        assert await node.call(exist, "lua", "require", "cached") == "c"
        assert await node.call(exist, "lua", "require", "fresh") == "f"
        after = node.codecache.stats()
    assert after.hits == before.hits + 1
    assert after.misses == before.misses + 1
    assert after.entries == before.entries


async def test_node_default_off_caches_nothing(tmp_path: Path) -> None:
    write(tmp_path / "mod.lua", "return 'm'")
    async with node_with(tmp_path, codecache="OFF") as node:
        probe = await node.newservice("ccprobe")
        assert await node.call(probe, "lua", "require", "mod") == "m"
        stats = node.codecache.stats()
    assert (stats.entries, stats.compiles, stats.hits) == (0, 0, 0)
    assert stats.misses > 5


async def test_module_compile_error_names_file_and_line_and_is_not_cached(
    tmp_path: Path,
) -> None:
    module = write(tmp_path / "broken.lua", "local a = 1\nlocal = 2\n")
    async with node_with(tmp_path) as node:
        probe = await node.newservice("ccprobe")
        entries = node.codecache.stats().entries
        with pytest.raises(CallError, match=r"error loading module 'broken': .*broken\.lua:2:"):
            await node.call(probe, "lua", "require", "broken")
        assert node.codecache.stats().entries == entries
        write(module, "return 'mended'")
        assert await node.call(probe, "lua", "require", "broken") == "mended"
        assert node.codecache.stats().entries == entries + 1


@pytest.mark.parametrize("mode", ["ON", "OFF"])
async def test_service_compile_error_names_file_and_line(tmp_path: Path, mode: str) -> None:
    write(tmp_path / "badsvc.lua", "local skynet = require 'skynet'\nskynet.start(function()\n")
    async with node_with(tmp_path, codecache=mode) as node:
        with pytest.raises(CallError, match=r"error loading service 'badsvc': .*badsvc\.lua:3:"):
            await node.newservice("badsvc")


async def test_start_service_compile_error_fails_the_boot(tmp_path: Path) -> None:
    write(tmp_path / "main.lua", "return (\n")
    with pytest.raises(LaunchError, match=r"main\.lua:2:"):
        async with node_with(tmp_path, start="main"):
            pass  # pragma: no cover


@pytest.mark.parametrize("mode", ["ON", "OFF"])
async def test_tracebacks_show_file_and_line(tmp_path: Path, mode: str) -> None:
    write(
        tmp_path / "fails.lua", "local M = {}\n\nfunction M.go()\n  error('deep')\nend\nreturn M\n"
    )
    async with node_with(tmp_path, codecache=mode) as node:
        probe = await node.newservice("ccprobe")
        trace = await node.call(probe, "lua", "traceback", "fails", "go")
    assert "fails.lua:4: deep" in trace
    assert "fails.lua:4: in function" in trace


async def test_a_bytecode_file_on_lua_path_is_refused(tmp_path: Path) -> None:
    # Bytecode a user put on disk: the node loads only what it compiled as binary.
    async with node_with(tmp_path) as node:
        probe = await node.newservice("ccprobe")
        (tmp_path / "evil.lua").write_bytes(b"\x1bLua" + b"\x00" * 40)
        with pytest.raises(CallError, match="binary chunk"):
            await node.call(probe, "lua", "require", "evil")
        await node.call(probe, "lua", "mode", "OFF")
        with pytest.raises(CallError, match="binary chunk"):
            await node.call(probe, "lua", "require", "evil")


async def test_bad_config_mode_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(skylet.ConfigError, match="codecache"):
        async with node_with(tmp_path, codecache="SOMETIMES"):
            pass  # pragma: no cover
