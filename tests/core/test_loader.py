"""The service loader as skynet's loader.lua: a service in `name/init.lua`
gets its folder on package.path, SERVICE_NAME and SERVICE_PATH, and the
config key `preload`."""

from __future__ import annotations

from apinode import API, api_node


async def test_a_folder_service_requires_modules_from_its_folder() -> None:
    async with api_node() as node:
        handle = await node.newservice("pkgsvc")
        greet, name, path, preloaded = await node.call(handle, "lua")
        assert greet == "hello from pkghelper"
        assert name == "pkgsvc" and path == f"{API}/pkgsvc/"
        assert preloaded is None


async def test_other_services_do_not_see_that_folder() -> None:
    async with api_node() as node:
        probe = await node.newservice("probe")
        ok, err = await node.call(probe, "lua", "eval", "return pcall(require, 'pkghelper')")
        assert ok is False and "module 'pkghelper' not found" in err


async def test_service_name_and_path_of_a_plain_service() -> None:
    async with api_node() as node:
        slave = await node.newservice("slave")
        assert await node.call(slave, "lua", "where") == ("slave", f"{API}/")


async def test_preload_runs_before_every_service_with_its_arguments() -> None:
    async with api_node(preload=str(API / "preload.lua")) as node:
        handle = await node.newservice("pkgsvc", "a", "b")
        *_, preloaded = await node.call(handle, "lua")
        assert preloaded == "pkgsvc a b"
