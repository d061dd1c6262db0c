"""The C codec (skylet/_lua/_lmsgpack.c) agrees with the Lua one byte for byte.

test_msgpack.py runs the behaviour cases against both codecs; this file
holds them to each other: identical bytes for a deterministic corpus of
random values, each decoding the other's output, identical results or error
messages on mutated and random input, and the limits (deep nesting, huge
tables, many values) where the C code manages Lua's stack itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lupa.lua54 as lupa
import pytest

from msgpack_codecs import new_runtime, open_codec
from skylet import SkyletError
from skylet._lua import _accel

# Lua helpers: `L` is the Lua codec, `C` the C codec.
HELPERS = r"""
-- A canonical text for a value: equal values (NaN included, table keys that
-- are tables included) give equal texts, whatever the traversal order.
function canon(v)
    local t = type(v)
    if t == "number" then
        if v ~= v then return "nan" end
        if math.type(v) == "integer" then return "i" .. v end
        return "f" .. string.format("%a", v)
    elseif t == "string" then
        return "s" .. #v .. ":" .. v
    elseif t == "table" then
        local parts = {}
        for k, x in pairs(v) do parts[#parts + 1] = canon(k) .. "=" .. canon(x) end
        table.sort(parts)
        return "{" .. table.concat(parts, ",") .. "}"
    end
    return tostring(v)
end

function canon_all(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = canon((select(i, ...))) end
    return select("#", ...) .. ":" .. table.concat(parts, ";")
end

local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- pcall both codecs' `name` on the same arguments: same values or same error.
function agree(name, ...)
    local a = table.pack(pcall(L[name], ...))
    local b = table.pack(pcall(C[name], ...))
    if a[1] ~= b[1] then
        return false, name .. ": lua " .. tostring(a[2]) .. " / c " .. tostring(b[2])
    end
    if not a[1] then
        if a[2] ~= b[2] then return false, "errors differ: " .. a[2] .. " / " .. b[2] end
        return true
    end
    local ca = canon_all(table.unpack(a, 2, a.n))
    local cb = canon_all(table.unpack(b, 2, b.n))
    if ca ~= cb then return false, name .. " results differ: " .. ca .. " / " .. cb end
    return true
end

-- Both codecs write the same bytes for these arguments, and each reads the
-- other's bytes back to the same values.
function same_bytes(...)
    local n = select("#", ...)
    local okl, a = pcall(L.pack, ...)
    local okc, b = pcall(C.pack, ...)
    if okl ~= okc or a ~= b then
        return false, "pack differs: " .. (okl and hex(a) or a) .. " / " .. (okc and hex(b) or b)
    end
    if not okl then return true end
    local want = canon_all(...)
    local got_c = canon_all(C.unpack(a))
    local got_l = canon_all(L.unpack(b))
    if got_c ~= want then return false, "C.unpack(L.pack) " .. got_c .. " ~= " .. want end
    if got_l ~= want then return false, "L.unpack(C.pack) " .. got_l .. " ~= " .. want end
    return true
end
"""

# A deterministic generator of random values (math.randomseed(n) is
# deterministic in Lua 5.4).
GENERATOR = r"""
local R = math.random
local INTS = {
    0, 1, -1, 31, 32, 127, 128, -32, -33, 255, 256, -127, -128, -129, 65535, 65536,
    -32767, -32768, -32769, 0x7fffffff, 0x80000000, -0x80000000, -0x80000001,
    0xffffffff, 0x100000000, -0x100000000, math.maxinteger, math.mininteger,
    math.maxinteger - 1, math.mininteger + 1,
}
local FLOATS = {0.0, -0.0, 1.0, -1.5, 0.1, 1e300, -1e-300, 2^53, 2^63, -2^63,
                math.huge, -math.huge, 0/0, 4.9e-324, 1.5}
-- valid pieces, then pieces utf8.len rejects: stray continuation bytes,
-- overlongs, surrogates, above U+10FFFF, 5-byte forms, truncated sequences
local PIECES = {
    "a", "Z", " ", "\0", "\x7f", "é", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}",
    "\u{10FFFF}", "日本", "\u{D7FF}", "\u{E000}",
    "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
    "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf",
    "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff", "\xe2\x82", "\xf0\x9f\x98",
}
local NVALID = 14
-- boundary string lengths; each test sets LENGTHS to FULL_LENGTHS or smaller
FULL_LENGTHS = {31, 32, 255, 256, 511, 512, 513, 1000, 65535, 65536}

function gen_string()
    local r = R(100)
    if r <= 3 then
        -- header boundaries, as text or as binary
        local len = LENGTHS[R(#LENGTHS)]
        if len > 1000 and R(20) > 1 then len = 300 end  -- long ones rarely
        local s = ("x"):rep(len)
        if R(2) == 1 then s = s:sub(1, -2) .. "\xff" end
        return s
    elseif r <= 13 then
        local t = {}
        for i = 1, R(0, 24) do t[i] = string.char(R(0, 255)) end
        return table.concat(t)
    end
    local t = {}
    local valid = R(3) > 1
    for i = 1, R(0, 12) do
        t[i] = PIECES[valid and R(NVALID) or R(#PIECES)]
        if R(4) == 1 then t[i] = ("abcdefgh"):sub(1, R(8)) .. t[i] end
    end
    return table.concat(t)
end

function gen_number()
    local r = R(6)
    if r == 1 then return INTS[R(#INTS)] end
    if r == 2 then return FLOATS[R(#FLOATS)] end
    if r == 3 then return R() * 10.0 ^ R(-20, 20) * (R(2) == 1 and 1 or -1) end
    local bits = R(1, 63)
    local v = R(0, (1 << bits) - 1)
    return R(2) == 1 and v or -v
end

local function gen_key(depth)
    local r = R(10)
    if r <= 5 then return gen_string() end
    if r <= 8 then return INTS[R(#INTS)] end
    if r == 9 then return ({1.5, -0.25, 1e100, true, false})[R(5)] end
    return R(-3, 40)
end

local function gen_table(depth)
    local r = R(6)
    local t = {}
    if r <= 2 then
        -- a sequence, sometimes around the fixarray/array16 boundary
        local n = (depth < 2 and R(4) == 1) and R(14, 18) or R(0, 5)
        for i = 1, n do t[i] = gen_value(depth + 1, true) end
    elseif r <= 4 then
        local n = (depth < 2 and R(4) == 1) and R(14, 18) or R(0, 5)
        for _ = 1, n do t[gen_key(depth)] = gen_value(depth + 1, true) end
    elseif r == 5 then
        -- a sequence with holes or extra keys
        for i = 1, R(1, 8) do t[i] = gen_value(depth + 1, true) end
        if R(2) == 1 then t[R(1, 8)] = nil else t[gen_key(depth)] = 1 end
    else
        -- integer keys from 1 that are not a sequence, or keys 1..n out of order
        local n = R(1, 8)
        for i = n, 1, -1 do t[i] = gen_value(depth + 1, true) end
        if R(2) == 1 then t[0] = 0 end
    end
    return t
end

function gen_value(depth, in_table)
    local r = R(in_table and 9 or 10)
    if r <= 2 then return gen_number() end
    if r <= 4 then return gen_string() end
    if r == 5 then return R(2) == 1 end
    if r <= 9 then
        if depth < 4 then return gen_table(depth) end
        return gen_number()
    end
    return nil
end
"""


@pytest.fixture(scope="module")
def rt() -> lupa.LuaRuntime:
    runtime = new_runtime()
    g = runtime.globals()
    g[b"L"] = open_codec(runtime, "lua")
    g[b"C"] = open_codec(runtime, "c")
    runtime.execute(HELPERS.encode())
    runtime.execute(GENERATOR.encode())
    return runtime


def lua_ok(rt: lupa.LuaRuntime, code: str) -> None:
    result = rt.execute(code.encode())
    ok, why = result if isinstance(result, tuple) else (result, None)
    assert ok is True, why


def lua_error(rt: lupa.LuaRuntime, code: str) -> str:
    with pytest.raises(lupa.LuaError) as info:
        rt.execute(code.encode())
    return str(info.value)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def test_codec_library_is_built_into_the_package() -> None:
    path, why = _accel.codec_library()
    assert path is not None, why
    assert Path(path).parent == Path(_accel.__file__).resolve().parent
    assert Path(path).name.startswith("_lmsgpack")


def test_module_table(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local names = {}
        for k, v in pairs(C) do names[#names + 1] = k .. ":" .. type(v) end
        table.sort(names)
        return table.concat(names, " ") == "pack:function unpack:function unpack_one:function",
            table.concat(names, " ")
        """,
    )


def test_lupa_symbols_stay_private_to_lupa() -> None:
    # Binding the codec must not make lupa's Lua 5.4 symbols global: a Lua
    # library loaded afterwards (lupa.lua55) would then call into 5.4 and
    # abort the process. Run it in a child so an abort fails this test only.
    pytest.importorskip("lupa.lua55")
    code = (
        "from skylet._lua import _accel\n"
        "assert _accel.codec_library()[0]\n"
        "import lupa.lua55 as l55\n"
        "r = l55.LuaRuntime()\n"
        "t = r.eval('setmetatable({}, {__index = function(t, k) return k * 2 end})')\n"
        "assert t[21] == 42 and r.eval('_VERSION') == 'Lua 5.5'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_choose_codec_settings() -> None:
    logged: list[str] = []
    path, _ = _accel.codec_library()
    assert path is not None
    assert _accel.choose_codec(None, logged.append) == path.encode()
    assert _accel.choose_codec("auto", logged.append) == path.encode()
    assert _accel.choose_codec("c", logged.append) == path.encode()
    assert _accel.choose_codec("lua", logged.append) is None
    assert logged == []
    with pytest.raises(SkyletError, match="msgpack must be one of auto, c, lua, not 'C'"):
        _accel.choose_codec("C", logged.append)


# --------------------------------------------------------------------------
# Same bytes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_random_corpus_same_bytes(rt: lupa.LuaRuntime, seed: int) -> None:
    lua_ok(
        rt,
        f"""
        math.randomseed({seed})
        LENGTHS = FULL_LENGTHS
        for case = 1, 1000 do
            local n = math.random(0, 4)
            local args = {{}}
            for i = 1, n do args[i] = gen_value(0, false) end
            local ok, why = same_bytes(table.unpack(args, 1, n))
            if not ok then return false, "case " .. case .. ": " .. why end
        end
        return true
        """,
    )


def test_utf8_decision_matches_utf8_len(rt: lupa.LuaRuntime) -> None:
    # C sends a string as str exactly when Lua's utf8.len accepts it
    lua_ok(
        rt,
        r"""
        local char, ulen, pack = string.char, utf8.len, C.pack
        local function check(s)
            local h = pack(s):byte(1)
            local is_str = h ~= 0xc4 and h ~= 0xc5 and h ~= 0xc6
            if is_str ~= (ulen(s) ~= nil) then
                return false, ("%q"):format(s)
            end
            return true
        end
        local ok, why
        for a = 0, 255 do
            ok, why = check(char(a)); if not ok then return ok, why end
            for b = 0, 255 do
                ok, why = check(char(a, b)); if not ok then return ok, why end
            end
        end
        for a = 0xe0, 0xef do
            for b = 0, 255 do
                for _, c in ipairs({0x00, 0x7f, 0x80, 0xbf, 0xc0}) do
                    ok, why = check(char(a, b, c)); if not ok then return ok, why end
                end
            end
        end
        for a = 0xf0, 0xf8 do
            for b = 0x70, 0xcf do
                for _, c in ipairs({0x20, 0x80, 0xbf}) do
                    for _, d in ipairs({0x20, 0x80, 0xbf, 0xc0}) do
                        ok, why = check(char(a, b, c, d)); if not ok then return ok, why end
                    end
                end
            end
        end
        -- around the eight-bytes-at-a-time ASCII scan
        math.randomseed(7)
        LENGTHS = FULL_LENGTHS
        for _ = 1, 20000 do
            local s = gen_string()
            local pre, post = ("p"):rep(math.random(0, 17)), ("q"):rep(math.random(0, 9))
            ok, why = check(pre .. s .. post); if not ok then return ok, why end
        end
        return true
        """,
    )


def test_boundaries_same_bytes(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        r"""
        local checks = {}
        -- strings and binaries across the encoder's 512-byte local buffer
        for len = 500, 530 do
            local s = ("s"):rep(len)
            checks[#checks + 1] = {s, {s, s}, "\xff" .. s}
        end
        -- maps whose header grows after their pairs are written
        for _, n in ipairs({15, 16, 17, 300, 65535, 65536}) do
            local m = {}
            for i = 1, n do m["k" .. i] = i end
            checks[#checks + 1] = n < 1000 and {m, {inner = m, list = {1, 2, m}}} or {{m}}
        end
        for _, n in ipairs({15, 16, 65535, 65536}) do
            local a = {}
            for i = 1, n do a[i] = (i % 3 == 0) and i * 0.5 or i end
            checks[#checks + 1] = {a}
        end
        -- tables as keys, keys that are not sequences
        checks[#checks + 1] = {{[{1, 2}] = "t", [{x = 1}] = {[{}] = {}}}}
        checks[#checks + 1] = {{[1] = 1, [2] = 2, [4] = 4}, {[0] = 0, 1}, {[1.5] = 1, 1}}
        for i, args in ipairs(checks) do
            local ok, why = same_bytes(table.unpack(args))
            if not ok then return false, i .. ": " .. why end
        end
        return true
        """,
    )


def test_nesting_limit_is_the_same(rt: lupa.LuaRuntime) -> None:
    # 128 nested tables pack; 129 do not; both codecs agree at the edge
    lua_ok(
        rt,
        """
        local function nest(n) local t = {} for _ = 2, n do t = {t} end return t end
        for _, n in ipairs({127, 128}) do
            local ok, why = same_bytes(nest(n))
            if not ok then return false, n .. ": " .. why end
        end
        local ok, err = pcall(C.pack, nest(129))
        if ok or err ~= "skynet.pack: tables nested deeper than 128" then return false, err end
        local msg = ("\\x91"):rep(128) .. "\\x90"
        if not agree("unpack", msg) then return false, "128 levels" end
        ok, err = pcall(C.unpack, ("\\x91"):rep(129) .. "\\x90")
        return not ok and err == "skynet.unpack: nested deeper than 128", err
        """,
    )


def test_unsupported_and_cycles_same_errors(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local t = {}
        t.self = t
        local deep = {a = {b = {c = {}}}}
        deep.a.b.c.back = deep.a
        for i, args in ipairs({
            {t}, {1, deep}, {{[t] = 1}}, {print}, {1, {2, {io.stdout}}},
            {coroutine.create(print)}, {{f = function() end}},
        }) do
            local ok, why = agree("pack", table.unpack(args))
            if not ok then return false, i .. ": " .. why end
            if pcall(C.pack, table.unpack(args)) then return false, i .. " packed" end
        end
        return true
        """,
    )


# --------------------------------------------------------------------------
# Decoding garbage: same results or same errors, never a crash
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_decoder_agrees(rt: lupa.LuaRuntime, seed: int) -> None:
    lua_ok(
        rt,
        f"""
        math.randomseed(1000 + {seed})
        LENGTHS = {{31, 32, 255, 256, 300}}  -- garbage made of small messages
        local R, char = math.random, string.char
        -- bytes that start msgpack objects of every kind, for denser garbage
        local HEADS = {{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                       0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xca, 0xcb, 0xcc, 0xcd,
                       0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd9, 0xda, 0xdb,
                       0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff}}
        local function byte() return R(2) == 1 and HEADS[R(#HEADS)] or R(0, 255) end
        local function check(msg)
            local ok, why = agree("unpack", msg)
            if not ok then return false, ("%q"):format(msg) .. " " .. why end
            ok, why = agree("unpack", msg, R(-1, #msg + 1))
            if not ok then return false, ("%q sz"):format(msg) .. " " .. why end
            ok, why = agree("unpack_one", msg, R(1, #msg + 1))
            if not ok then return false, ("%q one"):format(msg) .. " " .. why end
            return true
        end
        for case = 1, 1000 do
            local msg
            local r = R(4)
            if r == 1 then
                local t = {{}}
                for i = 1, R(1, 40) do t[i] = char(byte()) end
                msg = table.concat(t)
            else
                local n = R(1, 3)
                local args = {{}}
                for i = 1, n do args[i] = gen_value(0, false) end
                msg = C.pack(table.unpack(args, 1, n))
                if #msg == 0 then msg = "\\xc0" end
                local p = R(1, #msg)
                if r == 2 then
                    msg = msg:sub(1, p - 1) .. char(byte()) .. msg:sub(p + 1)
                elseif r == 3 then
                    msg = msg:sub(1, p - 1) .. char(byte()) .. msg:sub(p)
                else
                    msg = msg:sub(1, p - 1) .. msg:sub(p + 1)
                end
            end
            local ok, why = check(msg)
            if not ok then return false, "case " .. case .. ": " .. why end
        end
        return true
        """,
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\xdd\xff\xff\xff\xff" + b"\x00" * 64,
        b"\xdf\xff\xff\xff\xff" + b"\x00" * 64,
        b"\xdb\xff\xff\xff\xff" + b"\x00" * 64,
        b"\xc6\xff\xff\xff\xff",
        b"\x91" * 5000,
        b"\x81" * 5000,
        b"\x81\xc0" * 3000,
        b"\xdc\x00\x03\x01\x02",
    ],
)
def test_hostile_headers_raise(rt: lupa.LuaRuntime, data: bytes) -> None:
    unpack = rt.eval("C.unpack")
    with pytest.raises(lupa.LuaError, match=r"skynet\.unpack: (truncated|nested)"):
        unpack(data)
    assert rt.eval("agree")("unpack", data) is True


# --------------------------------------------------------------------------
# Lua's stack: many values, big tables
# --------------------------------------------------------------------------


def test_many_top_level_values(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local msg = ("\\x01\\xa1x\\xc0"):rep(100000)
        local r = table.pack(C.unpack(msg))
        if r.n ~= 300000 then return false, r.n end
        if r[1] ~= 1 or r[2] ~= "x" or r[3] ~= nil or r[299998] ~= 1 then return false end
        local t = {}
        for i = 1, 200000 do t[i] = i end
        return C.pack(table.unpack(t)) == L.pack(table.unpack(t))
        """,
    )


def test_too_many_values_is_a_lua_error(rt: lupa.LuaRuntime) -> None:
    msg = lua_error(rt, 'return select("#", C.unpack(("\\x01"):rep(1100000)))')
    assert "stack overflow" in msg and "skynet.unpack: too many values" in msg


def test_big_tables_round_trip(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local a, m = {}, {}
        for i = 1, 100000 do a[i] = {i, "v" .. i}; m["k" .. i] = i * 0.5 end
        local ra, rm = C.unpack(C.pack(a, m))
        if #ra ~= 100000 or ra[99999][2] ~= "v99999" then return false, "array" end
        local n = 0
        for k, v in pairs(rm) do n = n + 1; if m[k] ~= v then return false, k end end
        return n == 100000, "map size " .. n
        """,
    )


def test_finalizer_packing_during_pack(rt: lupa.LuaRuntime) -> None:
    # A __gc metamethod may run inside any allocation of pack, and pack
    # again: the outer pack's buffer must not be disturbed.
    lua_ok(
        rt,
        """
        local inner = 0
        local function litter()
            for _ = 1, 200 do
                setmetatable({}, {__gc = function()
                    if C.pack({1, ("y"):rep(600)}) then inner = inner + 1 end
                end})
            end
        end
        local big = {}
        for i = 1, 3000 do big[i] = ("z"):rep(i % 700) end
        local want = L.pack(big)
        for _ = 1, 5 do
            litter()
            if C.pack(big) ~= want then return false, "outer pack disturbed" end
        end
        collectgarbage()
        return inner > 0, "no finalizer ran"
        """,
    )


def test_wrong_arguments(rt: lupa.LuaRuntime) -> None:
    assert "bad argument #1" in lua_error(rt, "return C.unpack({})")
    assert "bad argument #2" in lua_error(rt, "return C.unpack_one('\\x01', 0)")
    lua_ok(rt, 'return select("#", C.unpack(nil)) == 0 and select("#", C.unpack()) == 0')


@pytest.mark.skipif(os.name != "posix", reason="symbol tables are an ELF matter")
def test_library_links_no_lua() -> None:
    # The codec must not depend on where Lua lives: it has no Lua imports.
    path, _ = _accel.codec_library()
    assert path is not None
    nm = subprocess.run(["nm", "-D", "--undefined-only", path], capture_output=True, text=True)
    if nm.returncode != 0:
        pytest.skip("nm is not available")
    undefined = [line.split()[-1] for line in nm.stdout.splitlines() if line.strip()]
    assert not [name for name in undefined if name.startswith(("lua", "luaL"))]


def test_unusable_library_reasons(tmp_path: Path) -> None:
    path, why = _accel.load_library(None)
    assert path is None and "_lmsgpack extension is not in" in why
    junk = tmp_path / "_lmsgpack.so"
    junk.write_bytes(b"not a shared object")
    path, why = _accel.load_library(junk)
    assert path is None and why.startswith("_lmsgpack.so: ")


def test_unavailable_codec_falls_back_and_says_why() -> None:
    logged: list[str] = []
    missing = (None, "no compiler")
    assert _accel.choose_codec("auto", logged.append, missing) is None
    assert logged == ["msgpack: C codec unavailable, services use the Lua codec (no compiler)"]
    with pytest.raises(SkyletError, match=r'msgpack = "c" but the C codec is unavailable: no'):
        _accel.choose_codec("c", logged.append, missing)


def test_memory_limit_is_a_lua_error() -> None:
    # Growing buffers are Lua userdata: they count against max_memory, and
    # running out is Lua's memory error, after which the VM still works.
    runtime = lupa.LuaRuntime(
        register_eval=False, register_builtins=False, encoding=None, max_memory=32 << 20
    )
    runtime.globals()[b"C"] = open_codec(runtime, "c")
    with pytest.raises(lupa.LuaMemoryError):
        runtime.execute(b"local s = ('x'):rep(10 << 20); return C.pack({s, s, s, s})")
    with pytest.raises(lupa.LuaMemoryError):
        runtime.execute(
            b"local m = C.pack(('x'):rep(1 << 20)); local r = {}"
            b" for i = 1, 40 do r[i] = C.unpack(m) .. i end"
        )
    assert runtime.execute(b"return C.unpack(C.pack('ok', 1))") == (b"ok", 1)
