"""The eight wire examples of sproto's README (the published format), both ways."""

from __future__ import annotations

import pytest

from sproto_support import CORES, Lua

SCHEMA = b"""
.Person {
    name 0 : string
    age 1 : integer
    marital 2 : boolean
    children 3 : *Person
}

.Data {
    numbers 0 : *integer
    bools 1 : *boolean
    number 2 : integer
    bignumber 3 : integer
    double 4 : double
    doubles 5 : *double
    fpn 6 : integer(2)
}
"""

EXAMPLES = [
    (
        "Person",
        '{ name = "Alice", age = 13, marital = false }',
        "03 00 00 00 1C 00 02 00 05 00 00 00 41 6C 69 63 65",
    ),
    (
        "Person",
        '{ name = "Bob", age = 40, children = {'
        ' { name = "Alice", age = 13 }, { name = "Carol", age = 5 } } }',
        "04 00 00 00 52 00 01 00 00 00 03 00 00 00 42 6F 62 26 00 00 00"
        " 0F 00 00 00 02 00 00 00 1C 00 05 00 00 00 41 6C 69 63 65"
        " 0F 00 00 00 02 00 00 00 0C 00 05 00 00 00 43 61 72 6F 6C",
    ),
    (
        "Data",
        "{ numbers = { 1, 2, 3, 4, 5 } }",
        "01 00 00 00 15 00 00 00 04 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00",
    ),
    (
        "Data",
        "{ numbers = { (1 << 32) + 1, (1 << 32) + 2, (1 << 32) + 3 } }",
        "01 00 00 00 19 00 00 00 08 01 00 00 00 01 00 00 00"
        " 02 00 00 00 01 00 00 00 03 00 00 00 01 00 00 00",
    ),
    ("Data", "{ bools = { false, true, false } }", "02 00 01 00 00 00 03 00 00 00 00 01 00"),
    (
        "Data",
        "{ number = 100000, bignumber = -10000000000 }",
        "03 00 03 00 00 00 00 00 04 00 00 00 A0 86 01 00 08 00 00 00 00 1C F4 AB FD FF FF FF",
    ),
    (
        "Data",
        "{ double = 0.01171875, doubles = { 0.01171875, 23.0, 4.0 } }",
        "03 00 07 00 00 00 00 00 08 00 00 00 00 00 00 00 00 00 88 3f"
        " 19 00 00 00 08 00 00 00 00 00 00 88 3f 00 00 00 00 00 00 37 40"
        " 00 00 00 00 00 00 10 40",
    ),
    ("Data", "{ fpn = 1.82 }", "02 00 0b 00 6e 01"),
]


@pytest.fixture(scope="module", params=CORES)
def lua(request: pytest.FixtureRequest) -> Lua:
    return Lua(request.param)


@pytest.mark.parametrize(("typename", "value", "wire"), EXAMPLES)
def test_readme_example(lua: Lua, typename: str, value: str, wire: str) -> None:
    run = lua.func(
        """function(schema, typename, src, wire)
        local sp = sproto.parse(schema)
        local v = assert(load("return " .. src))()
        return sp:encode(typename, v), dump(sp:decode(typename, wire)) == dump(v)
        end"""
    )
    expected = bytes.fromhex(wire)
    encoded, same = run(SCHEMA, typename.encode(), value.encode(), expected)
    assert encoded == expected
    assert same is True


def test_readme_packing_example(lua: Lua) -> None:
    pack, unpack = lua.func("sproto.pack"), lua.func("sproto.unpack")
    raw = bytes.fromhex("08 00 00 00 03 00 02 00 19 00 00 00 aa 01 00 00")
    assert pack(raw) == bytes.fromhex("51 08 03 02 31 19 aa 01")
    assert unpack(bytes.fromhex("51 08 03 02 31 19 aa 01")) == raw
    assert pack(b"\x8a" * 30) == b"\xff\x03" + b"\x8a" * 30 + b"\0\0"
