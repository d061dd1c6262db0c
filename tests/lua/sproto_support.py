"""skylet's Lua sproto in a bare lupa runtime, and the vectors skynet wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa
import pytest

from skylet._core._paths import LUALIB
from skylet._lua._sproto_accel import open_in, sproto_library

#: The two sproto cores, for ``params=`` of a fixture: pure Lua, and C.
CORES = [
    "lua",
    pytest.param(
        "c",
        marks=pytest.mark.skipif(
            sproto_library()[0] is None, reason=f"no C sproto core: {sproto_library()[1]}"
        ),
    ),
]

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "sproto_vectors.json").read_text(encoding="utf-8")
)

# A canonical text of a Lua value: sorted keys, integers and floats told apart
# (floats as %a), strings as %q. The vectors hold skynet's decodes this way.
DUMP = r"""
local function dump(v)
	local t = type(v)
	if t == "table" then
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b)
			if type(a) == type(b) then return a < b end
			return type(a) < type(b)
		end)
		local parts = {}
		for _, k in ipairs(keys) do
			parts[#parts + 1] = "[" .. dump(k) .. "]=" .. dump(v[k])
		end
		return "{" .. table.concat(parts, ",") .. "}"
	elseif t == "number" then
		if math.type(v) == "integer" then return string.format("%d", v) end
		if v ~= v then return "nan" end
		return string.format("%a", v)
	elseif t == "string" then
		return string.format("%q", v)
	end
	return tostring(v)
end
return dump
"""


class Lua:
    """A Lua 5.4 state with skylet's lualib on ``package.path``; ``core`` is
    the sproto core ``sproto.core`` uses: "lua" or "c"."""

    def __init__(self, core: str = "lua") -> None:
        self.runtime = lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True)
        self.runtime.execute(f'package.path = "{LUALIB}/?.lua"'.encode())
        if core == "c":
            path, why = sproto_library()
            assert path is not None, why
            self.runtime.eval("package.loaded")[b"skylet.csproto"] = open_in(self.runtime, path)
        self.dump = self.runtime.execute(DUMP.encode())
        self.core = core

    def eval(self, code: str) -> Any:
        return self.runtime.eval(code.encode())

    def func(self, code: str) -> Any:
        """The value of a Lua expression; it sees ``dump``, ``sproto``, ``parser``, ``core``."""
        make = self.runtime.eval(
            b"function(dump, code) "
            b"local env = setmetatable({ dump = dump, sproto = require 'sproto', "
            b"parser = require 'sprotoparser', core = require 'sproto.core' }, { __index = _G }) "
            b"return assert(load('return ' .. code, '=test', 't', env))() end"
        )
        return make(self.dump, code.encode())


def bundle(name: str) -> bytes:
    return bytes.fromhex(VECTORS["schemas"][name]["bundle"])


def schema_text(name: str) -> bytes:
    return VECTORS["schemas"][name]["text"].encode("latin-1")
