"""The msgpack codec's behaviour, run against both of skylet's codecs.

Every case runs once with the pure Lua codec (lualib/skylet/msgpack.lua) and
once with the C one (skylet/_lua/_lmsgpack.c), each in a real lupa Lua 5.4
runtime; payloads are cross-checked against the Python ``msgpack`` library,
which is what the Python side uses. What only concerns the two codecs'
agreement is in test_msgpack_c.py.
"""

from __future__ import annotations

import re

import lupa.lua54 as lupa
import msgpack
import pytest

from msgpack_codecs import CODECS, new_runtime, open_codec

# Lua-side helpers shared by the round-trip tests; the global `mp` is the codec.
HELPERS = r"""
function deepeq(a, b)
    if type(a) ~= type(b) then return false end
    if type(a) == "number" then
        if math.type(a) ~= math.type(b) then return false end
        if a ~= a then return b ~= b end
        return a == b
    end
    if type(a) ~= "table" then return a == b end
    for k, v in pairs(a) do
        if not deepeq(v, b[k]) then return false end
    end
    for k in pairs(b) do
        if a[k] == nil then return false end
    end
    return true
end

-- Packs the arguments, unpacks them again and compares count and values.
function roundtrip(...)
    local n = select("#", ...)
    local msg = mp.pack(...)
    local out = table.pack(mp.unpack(msg))
    if out.n ~= n then
        return false, "count " .. n .. " became " .. out.n
    end
    local args = table.pack(...)
    for i = 1, n do
        if not deepeq(args[i], out[i]) then
            return false, "value " .. i .. " differs"
        end
    end
    return true
end
"""


@pytest.fixture(params=CODECS)
def rt(request: pytest.FixtureRequest) -> lupa.LuaRuntime:
    runtime = new_runtime()
    runtime.globals()[b"mp"] = open_codec(runtime, request.param)
    runtime.execute(HELPERS.encode())
    return runtime


@pytest.fixture
def mp(rt: lupa.LuaRuntime):
    return rt.eval("mp")


def lua_ok(rt: lupa.LuaRuntime, code: str) -> None:
    """Run a Lua chunk that returns ok[, reason] and assert ok is true."""
    result = rt.execute(code.encode())
    if isinstance(result, tuple):
        ok, why = result[0], result[1]
    else:
        ok, why = result, None
    assert ok is True, why


def py_decode(data: bytes) -> list:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    return list(unpacker)


def to_py(value):
    """Convert a decoded Lua value to plain Python (tables become dicts)."""
    if lupa.lua_type(value) == "table":
        return {to_py(k): to_py(v) for k, v in value.items()}
    return value


def lua_unpack(rt: lupa.LuaRuntime, data: bytes) -> list:
    # call through Lua and collect into a table so trailing nils are counted
    t = rt.eval("function(m) return table.pack(mp.unpack(m)) end")(data)
    return [to_py(t[i]) for i in range(1, t[b"n"] + 1)]


# --------------------------------------------------------------------------
# Round trips inside Lua
# --------------------------------------------------------------------------


def test_empty_argument_list(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, 'return mp.pack() == ""')
    lua_ok(rt, 'return select("#", mp.unpack("")) == 0')
    lua_ok(rt, 'return select("#", mp.unpack(nil)) == 0')


@pytest.mark.parametrize(
    "args",
    ["nil", "nil, nil", "1, nil, nil", "nil, 2, nil", "1, nil, 3", "'a', nil, 'b', nil"],
)
def test_nils_keep_argument_count(rt: lupa.LuaRuntime, args: str) -> None:
    lua_ok(rt, f"return roundtrip({args})")


def test_nil_count_is_kept(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, 'return select("#", mp.unpack(mp.pack(1, nil, nil))) == 3')
    lua_ok(rt, 'return select("#", mp.unpack(mp.pack(nil, nil, nil, nil, nil))) == 5')


INTEGERS = [
    0, 1, -1, -32, -33, 127, 128, 255, 256, 65535, 65536,
    -128, -129, -32768, -32769,
    2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
    2**32 - 1, 2**32, 2**53 + 1,
    2**63 - 1, -(2**63),
]  # fmt: skip


@pytest.mark.parametrize("value", INTEGERS)
def test_integers_round_trip_as_integers(rt: lupa.LuaRuntime, value: int) -> None:
    lua_ok(
        rt,
        f"""
        local v = math.tointeger({value})
        local r = mp.unpack(mp.pack(v))
        return math.type(r) == "integer" and r == v
        """,
    )


def test_integer_limits_and_powers(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        for _, v in ipairs({math.maxinteger, math.mininteger, 1 << 31, 1 << 32, -(1 << 31)}) do
            local r = mp.unpack(mp.pack(v))
            if math.type(r) ~= "integer" or r ~= v then return false, tostring(v) end
        end
        return true
        """,
    )


@pytest.mark.parametrize("value", INTEGERS)
def test_integers_use_smallest_form(mp, value: int) -> None:
    # Python msgpack also picks the smallest form: the bytes must be identical
    assert mp.pack(value) == msgpack.packb(value)


@pytest.mark.parametrize(
    "expr", ["1.0", "0.0", "-0.0", "0.5", "-2.25", "1e300", "2^53", "math.pi", "math.huge"]
)
def test_floats_round_trip_as_floats(rt: lupa.LuaRuntime, expr: str) -> None:
    lua_ok(
        rt,
        f"""
        local v = {expr}
        local r = mp.unpack(mp.pack(v))
        return math.type(r) == "float" and r == v and #mp.pack(v) == 9
        """,
    )


def test_negative_zero_and_nan(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, "local r = mp.unpack(mp.pack(-0.0)); return 1 / r == -math.huge")
    lua_ok(rt, "local r = mp.unpack(mp.pack(0/0)); return r ~= r and math.type(r) == 'float'")


def test_booleans(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, "return roundtrip(true, false, true)")
    lua_ok(rt, r'return mp.pack(nil, false, true) == "\xc0\xc2\xc3"')


def test_nested_tables(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local t = {
            name = "unit", pos = {x = 1.5, y = -2}, path = {{1, 2}, {3, 4}, {}},
            tags = {"a", "b", {deep = {deeper = {true, false}}}},
            [10] = "ten", [-1] = "neg", [1.5] = "float key", [true] = "bool key",
        }
        return roundtrip(t, {t, t})
        """,
    )


def test_empty_table(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, "return roundtrip({}, {{}}, {a = {}})")
    lua_ok(rt, r'return mp.pack({}) == "\x80"')


def test_tables_with_holes_and_mixed_keys(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, "return roundtrip({1, 2, nil, 4})")
    lua_ok(rt, "return roundtrip({1, nil, 3, x = 'y'})")
    lua_ok(rt, "return roundtrip({nil, nil, 3})")
    lua_ok(rt, "return roundtrip({1, 2, 3, n = 3})")
    lua_ok(rt, "return roundtrip({[2] = 'b', [3] = 'c'})")
    lua_ok(rt, "return roundtrip({[0] = 'zero', 'one'})")


def test_repeated_table_is_not_a_cycle(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, "local s = {1, 2}; return roundtrip({a = s, b = s, c = {s, s}})")


def test_binary_string_with_zeros(rt: lupa.LuaRuntime) -> None:
    lua_ok(rt, r'return roundtrip("\0", "a\0b\0", "\255\0\254\0", "")')
    lua_ok(
        rt,
        """
        local t = {}
        for i = 0, 255 do t[#t + 1] = string.char(i) end
        local all = table.concat(t)
        return roundtrip(all, all:rep(3), {[all] = all})
        """,
    )


def test_long_strings(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        r"""
        local text = ("abcdefghij"):rep(7000)
        local bin = ("\0\255\1\254\2\253\3"):rep(10000)
        assert(#text == 70000 and #bin == 70000)
        local msg = mp.pack(text, bin)
        if #msg ~= 5 + 70000 + 5 + 70000 then return false, "length " .. #msg end
        return roundtrip(text, bin, {text, bin})
        """,
    )


def test_large_array_table(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local t = {}
        for i = 1, 100000 do t[i] = (i % 3 == 0) and i * 0.5 or i end
        local r = mp.unpack(mp.pack(t))
        if #r ~= 100000 then return false, "length " .. #r end
        return deepeq(t, r)
        """,
    )


def test_many_top_level_values(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local t = {}
        for i = 1, 5000 do t[i] = (i % 7 == 0) and "s" .. i or i end
        t[5000] = nil
        return roundtrip(table.unpack(t, 1, 5000))
        """,
    )


def test_unpack_size_limit(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local msg = mp.pack(1, "ab", 3)
        local r = table.pack(mp.unpack(msg, 4))
        return r.n == 2 and r[1] == 1 and r[2] == "ab"
        """,
    )
    lua_ok(rt, 'return select("#", mp.unpack(mp.pack(1, 2), 0)) == 0')
    lua_ok(rt, 'return select("#", mp.unpack(mp.pack(1, 2), 100)) == 2')


def test_unpack_one_streams(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local msg = mp.pack("a", {1, 2}, nil, 4.5)
        local pos, out = 1, {}
        for i = 1, 4 do out[i], pos = mp.unpack_one(msg, pos) end
        return pos == #msg + 1 and out[1] == "a" and out[2][2] == 2
            and out[3] == nil and out[4] == 4.5
        """,
    )


def test_pack_after_error_still_works(rt: lupa.LuaRuntime) -> None:
    lua_ok(
        rt,
        """
        local t = {}
        t.child = {parent = t}
        assert(not pcall(mp.pack, t))
        t.child.parent = nil
        -- tables that were on the failed path must not count as a cycle now
        return roundtrip(t, {t.child, t.child}, {1, 2, 3})
        """,
    )


# --------------------------------------------------------------------------
# Lua -> Python
# --------------------------------------------------------------------------


def test_lua_bytes_decode_in_python(rt: lupa.LuaRuntime) -> None:
    data = rt.execute(
        rb"""
        return mp.pack(
            1, nil, 1.0, -2, "h\xc3\xa9llo", "\xff\x00", "",
            {10, 20, 30}, {x = 1.5, y = -2, tag = "unit"}, {},
            {[1] = "a", [2] = "b", [5] = "e"}, {1, 2, nil, 4},
            {nested = {list = {{}, {true}}}}, false, math.maxinteger, math.mininteger
        )
        """
    )
    assert isinstance(data, bytes)
    values = py_decode(data)
    assert values == [
        1, None, 1.0, -2, "héllo", b"\xff\x00", "",
        [10, 20, 30], {"x": 1.5, "y": -2, "tag": "unit"}, {},
        {1: "a", 2: "b", 5: "e"}, {1: 1, 2: 2, 4: 4},
        {"nested": {"list": [{}, [True]]}}, False, 2**63 - 1, -(2**63),
    ]  # fmt: skip
    assert type(values[2]) is float
    assert type(values[3]) is int
    assert type(values[8]["x"]) is float
    assert type(values[8]["y"]) is int


def test_lua_sequence_past_a_hole_is_a_map(rt: lupa.LuaRuntime) -> None:
    # pair count equal to #t does not prove 1..n: #t may be a border past a hole
    data, border = rt.execute(b"local t = {1, nil, 3, x = true}; return mp.pack(t), #t")
    assert border == 3  # the case under test: 3 pairs and #t == 3, yet not a sequence
    assert py_decode(data) == [{1: 1, 3: 3, "x": True}]


@pytest.mark.parametrize("length", [0, 1, 31, 32, 255, 256, 65535, 65536, 70000])
def test_string_headers_match_python(mp, length: int) -> None:
    text = b"x" * length
    assert mp.pack(text) == msgpack.packb(text.decode(), use_bin_type=True)
    if length == 0:
        return  # "" is valid UTF-8, so it is a str
    blob = b"\xff" * length
    assert mp.pack(blob) == msgpack.packb(blob, use_bin_type=True)
    assert py_decode(mp.pack(blob)) == [blob]


@pytest.mark.parametrize("length", [0, 1, 15, 16, 65535, 65536])
def test_container_headers_match_python(rt: lupa.LuaRuntime, length: int) -> None:
    data = rt.execute(
        f"local t = {{}}; for i = 1, {length} do t[i] = i % 100 end; return mp.pack(t)".encode()
    )
    # an empty table has no keys to make it a sequence: it goes out as a map
    expected = [i % 100 for i in range(1, length + 1)] if length else {}
    assert data == msgpack.packb(expected)
    data = rt.execute(
        f"local t = {{}}; for i = 1, {length} do t['k' .. i] = 0 end; return mp.pack(t)".encode()
    )
    assert py_decode(data) == [{f"k{i}": 0 for i in range(1, length + 1)}]
    if length < 16:
        header = bytes([0x80 + length])
    elif length < 0x10000:
        header = b"\xde" + length.to_bytes(2, "big")
    else:
        header = b"\xdf" + length.to_bytes(4, "big")
    assert data.startswith(header)


def test_lua_many_values_decode_in_python(rt: lupa.LuaRuntime) -> None:
    data = rt.execute(
        b"local t = {} for i = 1, 5000 do t[i] = i end return mp.pack(table.unpack(t))"
    )
    assert py_decode(data) == list(range(1, 5001))


# --------------------------------------------------------------------------
# Python -> Lua
# --------------------------------------------------------------------------


def test_python_scalars_decode_in_lua(rt: lupa.LuaRuntime) -> None:
    values = [
        None, True, False, 0, 127, -32, -33, -100, 200, -200, 40000, -40000,
        2**31, -(2**31) - 1, 2**40, -(2**40), 2**63 - 1, -(2**63), 1.0, -0.5,
        "héllo", "", b"\x00\xff\x00", b"",
    ]  # fmt: skip
    data = b"".join(msgpack.packb(v, use_bin_type=True) for v in values)
    decoded = lua_unpack(rt, data)
    expected = [v.encode() if isinstance(v, str) else v for v in values]
    assert decoded == expected
    assert [type(v) for v in decoded] == [type(v) for v in expected]


def test_python_float32_decodes_as_float(rt: lupa.LuaRuntime) -> None:
    data = msgpack.packb(1.5, use_single_float=True)
    assert data[0] == 0xCA
    assert lua_unpack(rt, data) == [1.5]
    check = rt.eval("function(m) local v = mp.unpack(m); return math.type(v), v end")
    assert check(data) == (b"float", 1.5)
    tiny = msgpack.packb(0.1, use_single_float=True)
    assert lua_unpack(rt, tiny)[0] == pytest.approx(0.1, rel=1e-7)


def test_python_uint64_decodes(rt: lupa.LuaRuntime) -> None:
    data = msgpack.packb(2**63 - 1) + msgpack.packb(2**64 - 1) + msgpack.packb(2**63)
    assert data[0] == 0xCF
    big = lua_unpack(rt, data)
    assert big[0] == 2**63 - 1 and type(big[0]) is int
    # beyond math.maxinteger the magnitude is kept as a float
    assert big[1] == float(2**64) and type(big[1]) is float
    assert big[2] == float(2**63)


def test_python_containers_decode_in_lua(rt: lupa.LuaRuntime) -> None:
    payload = {
        1: {2: "x", 3: [1, 2, {4: b"\x00bin"}]},
        "k": [1, None, 3],
        "empty_map": {},
        "empty_list": [],
        -5: 1.25,
        2.5: "float key",
    }
    data = msgpack.packb(payload, use_bin_type=True)
    (decoded,) = lua_unpack(rt, data)
    assert decoded == {
        1: {2: b"x", 3: {1: 1, 2: 2, 3: {4: b"\x00bin"}}},
        b"k": {1: 1, 3: 3},
        b"empty_map": {},
        b"empty_list": {},
        -5: 1.25,
        2.5: b"float key",
    }
    # integer map keys stay integers in Lua
    check = rt.eval(
        "function(m) local t = mp.unpack(m); local k = next(t[1])"
        " return math.type(k) == 'integer' and t[1][2] == 'x' end"
    )
    assert check(data) is True


def test_python_long_containers_decode_in_lua(rt: lupa.LuaRuntime) -> None:
    big_list = list(range(70000))
    big_map = {i: str(i) for i in range(70000)}
    data = msgpack.packb([big_list, big_map, list(range(20)), "y" * 300], use_bin_type=True)
    (decoded,) = lua_unpack(rt, data)
    assert decoded[1] == {i + 1: v for i, v in enumerate(big_list)}
    assert decoded[2] == {k: v.encode() for k, v in big_map.items()}
    assert decoded[3] == {i + 1: i for i in range(20)}
    assert decoded[4] == b"y" * 300


def test_python_nil_and_nan_map_keys_are_skipped(rt: lupa.LuaRuntime) -> None:
    data = msgpack.packb({None: 1, "a": 2, 3: None})
    assert lua_unpack(rt, data) == [{b"a": 2}]
    # NaN cannot be a Lua table key either
    data = msgpack.packb({float("nan"): 1, "b": 2})
    assert lua_unpack(rt, data) == [{b"b": 2}]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def lua_error(rt: lupa.LuaRuntime, code: str) -> str:
    with pytest.raises(lupa.LuaError) as info:
        rt.execute(code.encode())
    return str(info.value)


def test_cycle_raises(rt: lupa.LuaRuntime) -> None:
    msg = lua_error(rt, "local t = {}; t.self = t; return mp.pack(t)")
    assert "skynet.pack: table has a cycle" in msg
    msg = lua_error(rt, "local a = {}; a.b = {c = {a}}; return mp.pack(1, a)")
    assert "skynet.pack: table has a cycle" in msg


def test_too_deep_raises(rt: lupa.LuaRuntime) -> None:
    msg = lua_error(rt, "local t = {} for i = 1, 200 do t = {t} end return mp.pack(t)")
    assert "skynet.pack:" in msg and "128" in msg
    lua_ok(rt, "local t = {} for i = 1, 100 do t = {t} end return roundtrip(t)")
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(lupa.LuaError, match=r"skynet\.unpack: nested deeper than 128"):
        rt.eval("mp.unpack")(msgpack.packb(deep))


@pytest.mark.parametrize(
    ("expr", "kind"),
    [("print", "function"), ("function() end", "function"),
     ("coroutine.create(print)", "thread"), ("{1, {f = function() end}}", "function")],
)  # fmt: skip
def test_unsupported_type_raises(rt: lupa.LuaRuntime, expr: str, kind: str) -> None:
    msg = lua_error(rt, f"return mp.pack(1, {expr})")
    assert f"skynet.pack: unsupported type {kind}" in msg


def test_truncated_message_raises(rt: lupa.LuaRuntime, mp) -> None:
    data = rt.execute(
        rb"""
        return mp.pack({1, -200, 70000, 1 << 40, -(1 << 40), 1.5, "str", "\255bin",
                        {x = {y = true}}, ("z"):rep(300), ("w"):rep(40), false, nil})
        """
    )
    assert py_decode(data)  # sanity: the whole message is valid
    unpack = rt.eval("mp.unpack")
    for cut in range(1, len(data)):
        with pytest.raises(lupa.LuaError, match=r"skynet\.unpack: truncated message"):
            unpack(data[:cut])
        # the size argument truncates the same way
        with pytest.raises(lupa.LuaError, match=r"skynet\.unpack: truncated message"):
            unpack(data, cut)


@pytest.mark.parametrize(
    "data",
    [b"\xcd\xff", b"\xcb\x00", b"\xdd\xff\xff\xff\xff", b"\xdb\x00\x01\x00\x00", b"\xa3ab"],
)
def test_truncated_headers_raise(mp, data: bytes) -> None:
    with pytest.raises(lupa.LuaError, match=r"skynet\.unpack: truncated message"):
        mp.unpack(data)


@pytest.mark.parametrize("byte", [0xC1, 0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8])
def test_unsupported_type_byte_raises(mp, byte: int) -> None:
    expected = f"skynet.unpack: unsupported msgpack type 0x{byte:02x}"
    with pytest.raises(lupa.LuaError, match=re.escape(expected)):
        mp.unpack(bytes([0x01, byte, 0x00, 0x00, 0x00]))


def test_python_ext_type_raises(mp) -> None:
    data = msgpack.packb(msgpack.ExtType(5, b"abcd"))
    with pytest.raises(lupa.LuaError, match="unsupported msgpack type 0xd6"):
        mp.unpack(data)
