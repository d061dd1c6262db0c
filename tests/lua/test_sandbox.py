"""A Lua service cannot reach Python, nor load binary chunks or C code."""

from __future__ import annotations

import pytest

import skylet
from conftest import NodeFactory
from skylet._lua._sandbox import load_library, sandbox_library


@pytest.mark.parametrize(
    "expression",
    [
        "python",
        "package.loaded.python",
        "debug.getregistry",
        "package.loadlib",
        "rawget(_G, 'python')",
    ],
)
async def test_python_bridge_is_not_reachable(node: skylet.Node, expression: str) -> None:
    probe = await node.newservice("probe")
    assert await node.call(probe, "lua", "eval", f"return {expression} == nil") is True


async def test_core_functions_cannot_be_looked_into(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local core = require 'skylet.core'
      local results = {}
      for _, attr in ipairs({'__class__', '__globals__', '__code__', '__closure__'}) do
        local ok = pcall(function() return core.send[attr] end)
        results[#results + 1] = tostring(ok)
      end
      return table.concat(results, ',')
    """
    assert await node.call(probe, "lua", "eval", code) == "false,false,false,false"


async def test_binary_chunks_are_refused(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    code = """
      local bytecode = string.dump(function() return 42 end)
      local f, err = load(bytecode)
      return f == nil, err
    """
    refused, err = await node.call(probe, "lua", "eval", code)
    assert refused is True
    assert "binary" in err


async def test_os_exit_does_not_stop_the_node(node: skylet.Node) -> None:
    probe = await node.newservice("probe")
    with pytest.raises(skylet.CallError, match=r"skynet\.abort"):
        await node.call(probe, "lua", "eval", "os.exit(1)")
    assert await node.call(probe, "lua", "echo", 1) == 1


async def test_services_do_not_share_globals(node: skylet.Node) -> None:
    a = await node.newservice("probe")
    b = await node.newservice("probe")
    await node.call(a, "lua", "eval", "shared_value = 42")
    assert await node.call(b, "lua", "eval", "return shared_value") is None
    assert await node.call(a, "lua", "eval", "return shared_value") == 42


@pytest.mark.parametrize(("setting", "what"), [("auto", "C"), ("c", "C"), ("lua", "Lua")])
async def test_the_sandbox_is_c_unless_the_config_asks_for_lua(
    node_with: NodeFactory, setting: str, what: str
) -> None:
    # The C sandbox's debug wrappers are light C functions; the fallback's are Lua closures.
    if what == "C" and sandbox_library()[0] is None:
        pytest.skip(f"C sandbox unavailable: {sandbox_library()[1]}")
    async with node_with(sandbox=setting) as node:
        probe = await node.newservice("probe")
        code = "return debug.getinfo(debug.getupvalue, 'S').what"
        assert await node.call(probe, "lua", "eval", code) == what


async def test_a_bad_sandbox_setting_is_a_one_line_error() -> None:
    with pytest.raises(skylet.SkyletError, match="sandbox must be one of auto, c, lua, not 'C'"):
        skylet.Node({"sandbox": "C"})


def test_without_the_library_there_is_a_reason() -> None:
    path, why = load_library(None)
    assert path is None and "not built at install" in why
