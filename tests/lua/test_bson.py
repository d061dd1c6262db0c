"""skynet's bson module (written in Lua) against pymongo's bson, the reference encoder.

Each value a Lua service encodes must be byte for byte what pymongo encodes
for the same value; each document pymongo encodes must decode to the same
value in Lua; malformed bytes and unencodable values raise clear errors and
the service goes on.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bson.son import SON

import bson
import skylet
from bson import (
    Binary,
    Code,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
)

SERVICES = Path(__file__).parents[1] / "services" / "bson"
SKYNET_ROOT = os.environ.get("SKYNET_ROOT", "/tmp/skynet")
UTC = datetime.UTC

VECTORS: dict[str, Any] = {
    "int32": 1,
    "int32_min": -(2**31),
    "int64_big": 2**31,
    "int64_min": -(2**63),
    "double": 1.5,
    "float_2_32": float(2**32 - 1),
    "string": "héllo",
    "empty_string": "",
    "true": True,
    "false": False,
    "null": None,
    "minkey": MinKey(),
    "maxkey": MaxKey(),
    "array": [1, "two", 3.5],
    "empty_table": {},
    "nested": {"x": {"y": {"z": 1}}},
    "binary": Binary(b"he\0llo", 0),
    "objectid": ObjectId("5f1d7c3a9b1e8a0012345678"),
    "date": datetime.datetime.fromtimestamp(1600000000, UTC),
    "timestamp": Timestamp(1600000000, 7),
    "regex": Regex("^a.*", "i"),
    "regex_no_options": Regex("hello", ""),
    "int64": Int64(5),
    "document_object": SON([("hello", 1), ("world", 2)]),
    "len_array": [10, 20, 30],
}


@pytest.fixture
async def lab() -> AsyncIterator[tuple[Any, int]]:
    async with skylet.open_node({"thread": 1, "luaservice": f"{SERVICES}/?.lua"}) as node:
        yield node, await node.newservice("bsonlab")


@pytest.mark.parametrize("name", sorted(VECTORS))
async def test_encoding_matches_pymongo_byte_for_byte(lab: Any, name: str) -> None:
    node, svc = lab
    ok, got, size = await node.call(svc, "lua", "encode", name)
    assert ok is True, got
    expected = bson.encode(SON([("v", VECTORS[name])]))
    assert got == expected.hex()
    assert size == len(expected)
    ok, got = await node.call(svc, "lua", "encode_table", name)
    assert (ok, got) == (True, expected.hex())


def regex_flags(flags: int) -> str:
    import re

    letters = {"i": re.I, "l": re.L, "m": re.M, "s": re.S, "u": re.U, "x": re.X}
    return "".join(c for c, bit in letters.items() if flags & bit)


def describe(v: Any) -> str:
    """What bsonlab.lua's describe() writes for the value Lua decodes from v."""
    if isinstance(v, bool):
        return f"b:{str(v).lower()}"
    if isinstance(v, Int64 | int):
        return f"i:{int(v)}"
    if isinstance(v, float):
        return "d:" + repr(v) if v != int(v) else f"d:{v:.17g}"
    if isinstance(v, str):
        return f"s:{v}"
    if v is None:
        return "nil"
    if isinstance(v, MinKey):
        return "minkey"
    if isinstance(v, MaxKey):
        return "maxkey"
    if isinstance(v, list):
        return "{" + ",".join(f"{i + 1}={describe(x)}" for i, x in enumerate(v)) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}={describe(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, Binary):
        return f"binary:{v.subtype}:{bytes(v).hex()}"
    if isinstance(v, ObjectId):
        return f"objectid:{v}"
    if isinstance(v, datetime.datetime):
        return f"date:{int(v.timestamp())}"
    if isinstance(v, Timestamp):
        return f"timestamp:{v.time}:{v.inc}"
    if isinstance(v, Regex):
        flags = v.flags if isinstance(v.flags, str) else regex_flags(v.flags)
        return f"regex:{v.pattern}:{flags}"
    raise TypeError(v)


@pytest.mark.parametrize("name", sorted(VECTORS))
async def test_decoding_pymongos_bytes(lab: Any, name: str) -> None:
    node, svc = lab
    doc = {"v": VECTORS[name], "n": [{"deep": [VECTORS[name]]}]}
    ok, got = await node.call(svc, "lua", "decode", bson.encode(doc).hex())
    assert ok is True, got
    assert got == describe(doc)


async def test_encode_order_keeps_the_order(lab: Any) -> None:
    node, svc = lab
    ok, got = await node.call(svc, "lua", "encode_order", "z", 1, "a", "x", "m", True, 7, 2)
    assert ok is True
    assert got == bson.encode(SON([("z", 1), ("a", "x"), ("m", True), ("7", 2)])).hex()


async def test_types_lua_keeps_raw(lab: Any) -> None:
    node, svc = lab
    doc = {
        "code": Code("return 1"),
        "neg_date": datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    }
    ok, got = await node.call(svc, "lua", "decode", bson.encode(doc).hex())
    assert ok is True
    code = bson.encode({"c": Code("return 1")})[7:-1].hex()  # the value after "\x0dc\0"
    assert got == f"{{code=unsupported:{code},neg_date=date:-1}}"


async def test_objectids_are_unique_and_well_formed(lab: Any) -> None:
    node, svc = lab
    ids = await node.call(svc, "lua", "objectids", 1000)
    assert len(set(ids.values() if isinstance(ids, dict) else ids)) == 1000
    for oid in list(ids.values() if isinstance(ids, dict) else ids)[:5]:
        assert ObjectId(oid).generation_time.year >= 2024


async def test_makeindex_replaces_fixed_size_fields_in_place(lab: Any) -> None:
    node, svc = lab
    got, errors = await node.call(svc, "lua", "replace")
    expected = SON(
        [
            ("i", -7),
            ("l", Int64(1 << 50)),
            ("d", 0.25),
            ("b", False),
            ("o", ObjectId("0123456789abcdef01234567")),
            ("t", datetime.datetime.fromtimestamp(1700000000, UTC)),
            ("s", "text"),
        ]
    )
    assert got == bson.encode(expected).hex()
    errors = list(errors.values() if isinstance(errors, dict) else errors)
    assert "Can't replace key : s" in errors[0]
    assert "Can't replace key : nope" in errors[1]
    assert "must be a 32bit integer" in errors[2]
    assert "Type mismatch, need bson type 7" in errors[3]
    assert "call makeindex first" in errors[4]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("hole", "Bson array has a hole (nil), Use bson.null instead"),
        ("func", "Invalid value type : function"),
        ("number_key", "Bson dictionary's key can't be number"),
        ("bool_key", "Invalid key type : boolean"),
        ("bad_utf8", "Invalid utf8 string"),
        ("bad_key", "contains \\0"),
        ("recursive", "Too depth while encoding bson"),
        ("bad_subtype", "Invalid subtype 99"),
        ("bad_date", "Invalid date"),
    ],
)
async def test_unencodable_values_raise_clear_errors(lab: Any, name: str, error: str) -> None:
    node, svc = lab
    ok, err = await node.call(svc, "lua", "encode", name)
    assert ok is False
    assert error in err
    assert (await node.call(svc, "lua", "encode", "int32"))[0] is True


GOOD = bson.encode(SON([("a", 1), ("s", "text"), ("d", {"x": [1, 2]})]))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "Invalid bson block"),
        (GOOD[:-1], "Invalid bson block"),
        (GOOD[:10], "Invalid bson block"),
        (b"\x04\x00\x00\x00", "Invalid bson block"),
        (b"\xff\xff\xff\x7f" + GOOD[4:], "Invalid bson block"),
        (b"\x00\x00\x00\x80" + GOOD[4:], "Invalid bson block"),
        (GOOD[:-1] + b"\x01", "Invalid document end"),
        (b"\x0c\x00\x00\x00\x99a\x00\x01\x00\x00\x00\x00", "Invalid bson type : 153"),
        (b"\x0c\x00\x00\x00\x10abcdef\x00", "Invalid bson block (cstring)"),
        (b"\x0c\x00\x00\x00\x02a\x00\xfb\xff\xff\xff\x00", "Invalid bson string"),
        (b"\x0d\x00\x00\x00\x02a\x00\x10\x00\x00\x00\x00", "Invalid bson block"),
        (b"\x0c\x00\x00\x00\x03a\x00\x09\x00\x00\x00\x00", "Invalid bson block"),
        (bson.encode({"v": Decimal128("1.5")}), "Invalid bson type : 19"),
    ],
)
async def test_malformed_bytes_raise_clear_errors(lab: Any, data: bytes, error: str) -> None:
    node, svc = lab
    ok, err = await node.call(svc, "lua", "decode", data.hex())
    assert ok is False
    assert error in err
    assert (await node.call(svc, "lua", "decode", GOOD.hex()))[0] is True


skynet_test = Path(SKYNET_ROOT) / "test"


@pytest.mark.skipif(not (skynet_test / "testbson.lua").exists(), reason="no skynet checkout")
async def test_skynets_testbson_runs_unchanged() -> None:
    printed: list[str] = []
    async with skylet.open_node(
        {"luaservice": f"{skynet_test}/?.lua"}, log=printed.append, stdout=printed.append
    ) as node:
        # testbson never calls skynet.start: its launch fails once its code ran
        with pytest.raises(skylet.CallError, match=r"did not call skynet\.start"):
            await node.newservice("testbson")
    text = "\n".join(printed)
    assert "[before replace]" in text
    assert "[after replace]" in text
    assert "o.hello\tnumber\t1" in text
    for key, kind in [("a", "number"), ("b", "boolean"), ("d", "table"), ("q", "table")]:
        assert f"{key}\t{kind}" in text
    assert "5\t5" in text  # the __len array's fifth element
    assert "error" not in text.lower()
