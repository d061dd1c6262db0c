"""skynet.db.mongo against a small OP_MSG server (mongo_server.py) on 127.0.0.1.

MongoDB has no Debian package: the server here is written from the published
wire protocol and command reference, with pymongo's bson for the documents.
The tests check both what the driver does for a skynet service and the bytes
it puts on the wire.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import bson
import skylet
from mongo_server import OP_MSG, MongoServer, User

#: Worker threads (SKYLET_TEST_THREADS, as the core tests); virtual-time tests run on 1.
THREADS = int(os.environ.get("SKYLET_TEST_THREADS", "1"))
SERVICES = Path(__file__).parents[1] / "services" / "mongo"


class Lab:
    def __init__(self, node: Any, svc: int, server: MongoServer, log: list[str]) -> None:
        self.node, self.svc, self.server, self.log = node, svc, server, log

    async def __call__(self, *args: Any) -> Any:
        return await self.node.call(self.svc, "lua", *args)


def listed(v: Any) -> list[Any]:
    """A Lua sequence as a list (msgpack gives a list, or a dict for sparse tables)."""
    if isinstance(v, dict):
        return [v[k] for k in sorted(v)]
    return list(v or [])


@asynccontextmanager
async def open_lab(server: MongoServer, nursery: trio.Nursery) -> AsyncIterator[Lab]:
    await nursery.start(server.serve)
    log: list[str] = []
    async with skylet.open_node(
        {"thread": THREADS, "luaservice": f"{SERVICES}/?.lua"}, log=log.append
    ) as node:
        yield Lab(node, await node.newservice("mongolab"), server, log)


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    async with trio.open_nursery() as nursery:
        async with open_lab(MongoServer(), nursery) as lab:
            ok, name = await lab("connect", lab.server.port)
            assert ok, name
            yield lab
        nursery.cancel_scope.cancel()


# ----- the wire


async def test_commands_go_as_op_msg_with_the_command_first_and_db(lab: Lab) -> None:
    ok, reply = await lab("run", "game", "ping")
    assert ok and reply == {"ok": 1}
    msg = lab.server.messages[-1]
    assert (msg.opcode, msg.flags, msg.kind, msg.response_to) == (OP_MSG, 0, 0, 0)
    assert list(msg.document.items()) == [("ping", 1), ("$db", "game")]
    assert struct.unpack_from("<i", msg.raw)[0] == len(msg.raw)
    # the exact bytes: header, flags, section kind 0, the document
    expected = bson.encode(bson.SON([("ping", 1), ("$db", "game")]))
    body = struct.pack("<iiiI", msg.request_id, 0, OP_MSG, 0) + b"\0" + expected
    assert msg.raw == struct.pack("<i", len(body) + 4) + body


async def test_the_connection_asks_ismaster_first_and_ids_grow(lab: Lab) -> None:
    assert lab.server.messages[0].command == "ismaster"
    await lab("run", "admin", "ping")
    await lab("run", "admin", "ping")
    ids = [m.request_id for m in lab.server.messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(0 < i < 2**31 for i in ids)


async def test_request_ids_wrap_within_int32(lab: Lab) -> None:
    # genId is (id + 1) & 0x7fffffff, as skynet's (its issue 2155)
    ids = listed(await lab("ids", 3))
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


async def test_unacknowledged_writes_set_more_to_come_and_write_concern_0(lab: Lab) -> None:
    await lab("call", "game", "users", "insert", {"name": "fire-and-forget"})
    _ok, _ = await lab("run", "game", "ping")  # ordered after the insert
    insert = next(m for m in lab.server.messages if m.command == "insert")
    assert insert.flags == 2
    assert insert.document["writeConcern"] == {"w": 0}
    assert list(insert.document)[:3] == ["insert", "$db", "writeConcern"]
    assert isinstance(insert.document["documents"][0]["_id"], bson.ObjectId)
    assert lab.server.collections["game.users"][0]["name"] == "fire-and-forget"


# ----- the API


async def test_insert_find_update_delete(lab: Lab) -> None:
    for i in range(5):
        ok, done, *_ = await lab(
            "call", "game", "users", "safe_insert", {"name": f"u{i}", "level": i}
        )
        assert (ok, done) == (True, True)
    ok, doc = await lab("call", "game", "users", "findOne", {"name": "u3"})
    assert ok and doc["level"] == 3 and doc["_id"].startswith("oid:")
    ok, done, *_ = await lab(
        "call", "game", "users", "safe_update", {"name": "u3"}, {"$inc": {"level": 10}}
    )
    assert done is True
    ok, doc = await lab("call", "game", "users", "findOne", {"name": "u3"}, {"level": 1})
    assert doc["level"] == 13 and "name" not in doc
    ok, done, *_ = await lab("call", "game", "users", "safe_delete", {"level": {"$lt": 2}})
    assert done is True
    ok, docs, count = await lab("find", "game", "users", None, None, {"sort": {"level": -1}})
    assert [d["name"] for d in listed(docs)] == ["u3", "u4", "u2"]
    assert count == 3


async def test_write_errors_are_reported_not_raised(lab: Lab) -> None:
    oid = "5f1d7c3a9b1e8a0012345678"
    await lab("call", "game", "users", "safe_insert", {"_id": oid, "n": 1})
    ok, done, err, reply = await lab("call", "game", "users", "safe_insert", {"_id": oid, "n": 2})
    assert ok is True and done is False
    assert "E11000 duplicate key" in err
    assert listed(reply["writeErrors"])[0]["code"] == 11000


async def test_server_errors_raise_in_findone_and_return_in_run(lab: Lab) -> None:
    ok, reply = await lab("run", "game", "noSuchCommand")
    assert ok is True and reply["ok"] == 0 and "no such command" in reply["errmsg"]
    ok, reply = await lab("call", "game", "missing", "drop")
    assert ok is True and reply["errmsg"] == "ns not found"


async def test_cursor_batches_get_more_limit_skip_and_count(lab: Lab) -> None:
    await lab("call", "game", "items", "safe_batch_insert", [{"i": i} for i in range(25)])
    ok, docs, count = await lab("find", "game", "items", None, None, {"batch": 7, "sort": {"i": 1}})
    assert ok and [d["i"] for d in listed(docs)] == list(range(25)) and count == 25
    commands = [m.command for m in lab.server.messages]
    assert commands.count("getMore") == 3
    get_more = next(m for m in lab.server.messages if m.command == "getMore")
    assert isinstance(get_more.raw, bytes)
    assert get_more.document["collection"] == "items" and get_more.document["batchSize"] == 7
    assert bson.decode(get_more.raw[21:])["getMore"].__class__ is bson.int64.Int64
    ok, docs, _ = await lab(
        "find", "game", "items", {"i": {"$gte": 5}}, None, {"skip": 2, "limit": 4, "sort": {"i": 1}}
    )
    assert [d["i"] for d in listed(docs)] == [7, 8, 9, 10]


async def test_closing_a_cursor_early_kills_it(lab: Lab) -> None:
    await lab("call", "game", "items", "safe_batch_insert", [{"i": i} for i in range(10)])
    docs = listed(await lab("find_some", "game", "items", 3, 3))
    assert [d["i"] for d in docs] == [0, 1, 2]
    await lab("run", "game", "ping")
    kill = next(m for m in lab.server.messages if m.command == "killCursors")
    assert kill.flags == 2 and len(lab.server.killed) == 1
    assert not lab.server.cursors


async def test_sort_with_several_keys_keeps_their_order(lab: Lab) -> None:
    await lab("call", "game", "s", "safe_batch_insert", [{"a": i % 2, "b": i} for i in range(4)])
    _ok, docs, _ = await lab("find", "game", "s", None, None, {"sort2": [{"a": -1}, {"b": 1}]})
    assert [(d["a"], d["b"]) for d in listed(docs)] == [(1, 1), (1, 3), (0, 0), (0, 2)]
    find = [m for m in lab.server.messages if m.command == "find"][-1]
    assert list(find.document["sort"].items()) == [("a", -1), ("b", 1)]


async def test_aggregate_and_find_and_modify(lab: Lab) -> None:
    await lab(
        "call", "game", "scores", "safe_batch_insert", [{"p": i, "s": i * 10} for i in range(6)]
    )
    docs, count = await lab(
        "aggregate",
        "game",
        "scores",
        [{"$match": {"s": {"$gte": 20}}}],
        {"sort": {"s": -1}, "limit": 3},
    )
    assert [d["s"] for d in listed(docs)] == [50, 40, 30]
    assert count == 3
    ok, reply = await lab(
        "call",
        "game",
        "counters",
        "findAndModify",
        {"query": {"_id": "uid"}, "update": {"$inc": {"next": 1}}, "new": True, "upsert": True},
    )
    assert ok and reply["value"]["next"] == 1
    ok, reply = await lab(
        "call",
        "game",
        "counters",
        "findAndModify",
        {"query": {"_id": "uid"}, "update": {"$inc": {"next": 1}}, "new": True},
    )
    assert reply["value"]["next"] == 2


async def test_indexes(lab: Lab) -> None:
    ok, reply = await lab("call", "game", "users", "createIndex", {"name": 1}, {"unique": True})
    assert ok and reply["ok"] == 1
    ok, reply = await lab("call", "game", "users", "createIndex", [{"a": 1}, {"b": -1}])
    assert reply["ok"] == 1
    indexes = lab.server.indexes["game.users"]
    assert indexes[0]["name"] == "name_1" and indexes[0]["unique"] is True
    assert indexes[1]["name"] == "a_1_b_-1"
    assert list(indexes[1]["key"].items()) == [("a", 1), ("b", -1)]
    ok, reply = await lab("call", "game", "users", "dropIndex", "name_1")
    assert [i["name"] for i in lab.server.indexes["game.users"]] == ["a_1_b_-1"]


# ----- authentication


@pytest.fixture
async def auth_server() -> AsyncIterator[tuple[MongoServer, trio.Nursery]]:
    server = MongoServer(users=[User("ad,m=in", "s3cret")], require_auth=True)
    async with trio.open_nursery() as nursery:
        yield server, nursery
        nursery.cancel_scope.cancel()


async def test_scram_sha1_authenticates(auth_server: Any) -> None:
    server, nursery = auth_server
    async with open_lab(server, nursery) as lab:
        ok, _ = await lab("connect", server.port, "ad,m=in", "s3cret")
        assert ok is True
        assert server.auth_log == ["authenticated ad,m=in"]
        ok, done, *_ = await lab("call", "game", "users", "safe_insert", {"x": 1})
        assert done is True
        start = next(m for m in server.messages if m.command == "saslStart")
        assert start.document["mechanism"] == "SCRAM-SHA-1"
        assert start.document["$db"] == "admin"


async def test_a_wrong_password_fails_the_connection_clearly(auth_server: Any) -> None:
    server, nursery = auth_server
    async with open_lab(server, nursery) as lab:
        ok, _err = await lab("connect", server.port, "ad,m=in", "wrong")
        assert ok is False
        assert server.auth_log == ["bad proof"]
        assert any("auth failed" in line for line in lab.log)
        # the node goes on: the right password works
        ok, _ = await lab("connect", server.port, "ad,m=in", "s3cret")
        assert ok is True


# ----- bad replies


@pytest.mark.parametrize(
    ("lie", "error"),
    [
        ("lie_opcode", "mongo: unsupported opcode 1"),
        ("lie_checksum", "mongo: unsupported OP_MSG flag checksumPresent"),
        ("lie_flags", "mongo: unsupported OP_MSG flags 65536"),
        ("lie_section", "mongo: unsupported OP_MSG section kind 1"),
        ("lie_two_sections", "mongo: OP_MSG reply with more than one section"),
        ("lie_bson", "mongo: bad reply document: Invalid document end"),
        ("lie_short_bson", "mongo: bad reply document: Invalid bson block"),
    ],
)
async def test_a_bad_reply_fails_its_request_and_the_connection_goes_on(
    lab: Lab, lie: str, error: str
) -> None:
    connections = lab.server.connections
    ok, err = await lab("run", "game", lie)
    assert ok is False
    assert error in err
    ok, reply = await lab("run", "game", "ping")
    assert (ok, reply) == (True, {"ok": 1})
    assert lab.server.connections == connections  # the same connection


@pytest.mark.parametrize(
    ("lie", "error"),
    [
        ("lie_length", "mongo: bad reply length -5"),
        ("lie_huge", "mongo: bad reply length 1073741824"),
        ("lie_truncated", ""),
    ],
)
async def test_a_broken_frame_closes_the_connection_and_the_next_request_reconnects(
    lab: Lab, lie: str, error: str
) -> None:
    ok, err = await lab("run", "game", lie)
    assert ok is False
    assert error in str(err)
    ok, reply = await lab("run", "game", "ping")
    assert (ok, reply) == (True, {"ok": 1})
    assert lab.server.connections == 2


async def test_no_server_fails_the_client_clearly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with skylet.open_node({"thread": THREADS, "luaservice": f"{SERVICES}/?.lua"}) as node:
        svc = await node.newservice("mongolab")
        ok, err = await node.call(svc, "lua", "connect", port)
        assert ok is False
        assert err == "[Error: socket]"  # socketchannel's error, as skynet's


SKYNET_TEST = Path(os.environ.get("SKYNET_ROOT", "/tmp/skynet")) / "test"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.skipif(not (SKYNET_TEST / "testmongodb.lua").exists(), reason="no skynet checkout")
@pytest.mark.skipif(not port_free(27017), reason="127.0.0.1:27017 is taken")
async def test_skynets_testmongodb_runs_unchanged_against_the_test_server(
    autojump_clock: Any,
) -> None:
    # testmongodb.lua hard-codes 127.0.0.1:27017, user admin, password 123456
    server = MongoServer(users=[User("admin", "123456")], require_auth=True, port=27017)
    printed: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        config = {"thread": 1, "luaservice": f"{SKYNET_TEST}/?.lua"}
        async with skylet.open_node(config, log=printed.append, stdout=printed.append) as node:
            await node.newservice("testmongodb")
            with trio.fail_after(120):
                while "mongodb test finish." not in printed:
                    await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert not [line for line in printed if "error" in line.lower()], printed
    assert server.auth_log and all(a == "authenticated admin" for a in server.auth_log)
    assert "check expire\t1" in printed  # the TTL index took a virtual second or more
