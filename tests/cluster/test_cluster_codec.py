"""skynet's wire format: skynet.pack (lua-seri) values and cluster packets.

The expected bytes are what a real skynet node produced for the same inputs
(tests/cluster/vectors.json, recorded by hand; CI has no skynet). The cases
also hold the layouts derived from the protocol by hand (type byte with a
cookie, little-endian widths, 2-byte big-endian packet lengths).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa
import pytest

import skylet
from skylet._lua import _accel

HERE = Path(__file__).parent
LUALIB = HERE.parents[1] / "src" / "skylet" / "lualib"
CASES = HERE.parent / "services" / "cluster"
VECTORS = json.loads((HERE / "vectors.json").read_text())


def new_runtime(codec: str) -> lupa.LuaRuntime:
    """A runtime where ``require "skylet.seri"`` is the Lua or the C codec."""
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    runtime.execute(f'package.path = "{LUALIB}/?.lua;{CASES}/?.lua"'.encode())
    if codec == "c":
        path, why = _accel.codec_library()
        assert path is not None, f"the C codec must be built and usable here: {why}"
        cseri = runtime.eval("package.loadlib")(path.encode(), _accel.SERI_ENTRY.encode())()
        runtime.eval("package.loaded")[b"skylet.seri"] = cseri
    return runtime


@pytest.fixture(params=["lua", "c"])
def lua(request: pytest.FixtureRequest) -> lupa.LuaRuntime:
    return new_runtime(request.param)


def matches(expected: Any, got: bytes) -> bool:
    if isinstance(expected, str):
        return got.hex() == expected
    return len(got) == expected["len"] and hashlib.sha256(got).hexdigest() == expected["sha256"]


def packed_cases(lua: lupa.LuaRuntime) -> dict[str, Any]:
    result = lua.execute(b"""
      local seri = require "skylet.seri"
      local out = {}
      for _, case in ipairs(dofile(package.searchpath("seri_cases", package.path))) do
        local ok, bytes = pcall(seri.pack, case[2]())
        out[case[1]] = ok and bytes or { error = bytes }
      end
      return out
    """)
    return {
        k.decode(): (v if isinstance(v, bytes) else {"error": v[b"error"].decode()})
        for k, v in result.items()
    }


def test_seri_packs_every_case_as_skynet_did(lua: lupa.LuaRuntime) -> None:
    got = packed_cases(lua)
    assert set(got) == set(VECTORS["seri"])
    for name, expected in VECTORS["seri"].items():
        if isinstance(expected, dict) and "error" in expected:
            assert got[name] == expected, name
        else:
            assert matches(expected, got[name]), (name, got[name][:64].hex())


def test_seri_unpacks_skynet_bytes_to_the_same_values(lua: lupa.LuaRuntime) -> None:
    # unpack(skynet's bytes) and pack again gives skynet's bytes, count included
    check = lua.eval(b"""function(hex)
      local seri = require "skylet.seri"
      local bytes = hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
      local values = table.pack(seri.unpack(bytes))
      return seri.pack(table.unpack(values, 1, values.n)) == bytes, values.n
    end""")
    counts = {"nil": 1, "nothing": 0, "nilmid": 4, "neg": 3, "qword": 4, "args": 3}
    for name, expected in VECTORS["seri"].items():
        if isinstance(expected, str):
            same, n = check(expected.encode())
            assert same, name
            if name in counts:
                assert n == counts[name], name


def test_seri_keeps_integer_float_and_binary_apart(lua: lupa.LuaRuntime) -> None:
    kinds = lua.eval(b"""function()
      local seri = require "skylet.seri"
      local a, b, c, d = seri.unpack(seri.pack(1, 1.0, "\\0\\255", -0.0))
      return math.type(a), math.type(b), c, 1 / d
    end""")()
    assert tuple(kinds) == (b"integer", b"float", b"\x00\xff", float("-inf"))


@pytest.mark.parametrize(
    ("hexbytes", "why"),
    [
        ("0a", "truncated"),  # uint8 without its byte
        ("1a", "bad number width"),  # number cookie 3
        ("0c", "truncated"),  # short string of 1 without the byte
        ("2d", "bad string length width"),  # long string cookie 5
        ("250000ffff41", "truncated"),  # 4 GiB long string
        ("03" + "00" * 8, "C pointer"),  # lightuserdata
        ("060a01", "truncated"),  # table without its end
        ("fe42" + "00" * 8, "bad array size"),  # array size as a real
        ("fe22ffffff7f00", "bad array size"),  # array bigger than the message
        ("07", "unknown type"),
    ],
)
def test_seri_refuses_bad_bytes_with_one_line(
    lua: lupa.LuaRuntime, hexbytes: str, why: str
) -> None:
    unpack = lua.eval(b"""function(hex)
      local bytes = hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
      return pcall(require("skylet.seri").unpack, bytes)
    end""")
    ok, err = unpack(hexbytes.encode())
    assert not ok
    assert why.encode() in err and b"\n" not in err


def test_seri_refuses_what_cannot_cross(lua: lupa.LuaRuntime) -> None:
    err = lua.eval(b'select(2, pcall(require("skylet.seri").pack, print))')
    assert err == b"Unsupport type function to serialize"


def test_seri_nesting_limit_on_unpack(lua: lupa.LuaRuntime) -> None:
    # deeper than any skynet.pack can write: refused, not a C stack overflow
    ok, err = lua.eval(b'pcall(require("skylet.seri").unpack, string.rep("\\6", 200))')
    assert not ok and b"nested too deep" in err


def test_cluster_packets_are_skynets(lua: lupa.LuaRuntime) -> None:
    got = lua.execute(b'return dofile(package.searchpath("wire_cases", package.path))')
    got = {k.decode(): v for k, v in got.items()}
    # a small push leaves the session as it was (skynet returns one more, which
    # its sender ignores), so skylet's cases give no "next" for those
    assert set(got) == set(VECTORS["wire"]) - {
        "push_num next",
        "push_name next",
        "push_large_name next",
    }
    for name, value in got.items():
        expected = VECTORS["wire"][name]
        if name.endswith(" next"):
            assert value == expected, name
        else:
            assert matches(expected, value), (name, value[:64].hex())


def test_cluster_packets_read_back(lua: lupa.LuaRuntime) -> None:
    read = lua.eval(b"""function(hex, response)
      local wire = require "skylet.clusterwire"
      local packet = hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
      local len = string.unpack(">I2", packet)
      assert(len == #packet - 2, "length header")
      local body = packet:sub(3)
      if response then
        return table.pack(wire.unpack_response(body))
      end
      return table.pack(wire.unpack_request(body))
    end""")
    wire = VECTORS["wire"]

    def req(name: str) -> list[Any]:
        t = read(wire[name].encode(), False)
        return [t[i] for i in range(1, t[b"n"] + 1)]

    def resp(name: str) -> list[Any]:
        t = read(wire[name].encode(), True)
        return [t[i] for i in range(1, t[b"n"] + 1)]

    assert req("req_num")[:2] == [0x0A, 7] and req("req_num")[3:] == [False, False]
    assert req("req_name")[:2] == [b"@echo", 8]
    assert req("push_num")[1] == 0 and req("push_num")[4] is True
    assert req("push_name")[0] == b".echo" and req("push_name")[4] is True
    assert req("req_query")[:2] == [0, 0x7FFFFFFF]
    assert req("req_large") == [0x0B, 5, 70005, True, False]
    assert req("trace") == [b"(n1-n2-3)tag"]
    assert resp("resp_ok") == [12, True, bytes.fromhex("09146f6b")]
    assert resp("resp_err") == [13, False, b"boom"]
    assert resp("resp_large[1]") == [14, True, 32771, True]
    assert resp("resp_large[3]") == [14, True, b"rrr"]


def test_c_and_lua_codecs_write_the_same_bytes_and_read_the_same_values() -> None:
    # random values through both encoders; both decoders on the bytes and on
    # damaged copies of them: same bytes, same values, same errors
    lua, c = new_runtime("lua"), new_runtime("c")
    program = b"""
      local seri, seed, rounds = require "skylet.seri", ...
      local rng = math.randomseed(seed)
      local function value(depth)
        local kind = math.random(depth > 3 and 6 or 8)
        if kind == 1 then return math.random(-2^40, 2^40)
        elseif kind == 2 then return math.random(-300, 70000)
        elseif kind == 3 then return (math.random() - 0.5) * 1e6
        elseif kind == 4 then
          local n = ({0, 5, 31, 32, 300})[math.random(5)]
          local t = {}
          for i = 1, n do t[i] = string.char(math.random(0, 255)) end
          return table.concat(t)
        elseif kind == 5 then return math.random(2) == 1
        elseif kind == 6 then -- nil only among the arguments: holes make # ambiguous
          if depth == 0 then return nil end
          return "hole"
        else
          local t = {}
          for i = 1, math.random(0, depth == 0 and 40 or 5) do t[i] = value(depth + 1) end
          if math.random(3) == 1 then t.k = value(depth + 1) end
          return t
        end
      end
      local out = {}
      for r = 1, rounds do
        local n = math.random(0, 4)
        local args = {}
        for i = 1, n do args[i] = value(0) end
        local bytes = seri.pack(table.unpack(args, 1, n))
        local cut = math.random(0, #bytes)
        local flipped = bytes
        if #bytes > 0 then
          local at = math.random(#bytes)
          flipped = bytes:sub(1, at - 1) .. string.char(math.random(0, 255)) .. bytes:sub(at + 1)
        end
        -- values as text, keys sorted: comparable across runtimes, whose
        -- string hashes (so table orders) differ
        local function dump(v)
          if type(v) == "table" then
            local keys = {}
            for k in pairs(v) do keys[#keys + 1] = k end
            table.sort(keys, function(x, y) return dump(x) < dump(y) end)
            local parts = {}
            for i, k in ipairs(keys) do parts[i] = dump(k) .. "=" .. dump(v[k]) end
            return "{" .. table.concat(parts, ",") .. "}"
          elseif math.type(v) == "float" then
            return string.format("%a", v)
          elseif type(v) == "string" then
            return string.format("%q", v)
          end
          return tostring(v)
        end
        local function read(s)
          local r = table.pack(pcall(seri.unpack, s))
          if not r[1] then return "error: " .. r[2] end
          local parts = {}
          for i = 2, r.n do parts[#parts + 1] = dump(r[i]) end
          return table.concat(parts, " ")
        end
        out[r] = { bytes, read(bytes), read(bytes:sub(1, cut)), read(flipped) }
      end
      return out
    """
    for seed in (1, 2, 3):
        # the same random sequence in both runtimes: same values, hash order aside
        got_lua = lua.execute(program, seed, 300)
        got_c = c.execute(program, seed, 300)
        compared = 0
        for r in range(1, 301):
            a, b = got_lua[r], got_c[r]
            if a[1] != b[1]:  # tables with hash parts may iterate differently
                continue
            compared += 1
            assert a[2] == b[2], (seed, r)
            assert a[3] == b[3], (seed, r, a[3], b[3])
            assert a[4] == b[4], (seed, r, a[4], b[4])
        assert compared > 250, compared


@pytest.mark.parametrize(("setting", "what"), [(None, "C"), ("lua", "Lua")])
async def test_cluster_services_get_the_c_codec_unless_msgpack_is_lua(
    setting: str | None, what: str
) -> None:
    config: dict[str, Any] = {"luaservice": f"{CASES}/?.lua"}
    if setting:
        config["msgpack"] = setting
    async with skylet.open_node(config, log=lambda line: None) as node:
        service = await node.newservice("which_seri")
        assert await node.call(service, "lua") == (what, 1, None, "x")
