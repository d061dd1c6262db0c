"""skynet.db.redis against a real redis-server: commands, pipeline, pub/sub,
auth, and failures (error replies, a server that drops the connection).

The client is a real Lua service (tests/services/db/redisclient.lua).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

import skylet
from db.dbservers import Redis, free_port, node_config

Call = Callable[..., Awaitable[Any]]


@pytest.fixture
async def node() -> AsyncIterator[skylet.Node]:
    async with skylet.open_node(node_config(), log=lambda line: None) as n:
        yield n


async def client(node: skylet.Node, **conf: Any) -> Call:
    address = await node.newservice("redisclient")

    async def call(*args: Any) -> Any:
        return await node.call(address, "lua", *args)

    if conf:
        assert await call("connect", {"host": "127.0.0.1", **conf}) is True
    return call


@pytest.fixture
async def db(node: skylet.Node, redis_server: Redis) -> Call:
    return await client(node, port=redis_server.port)


async def test_commands_and_reply_types(db: Call) -> None:
    await db("call", "del", "k", "h", "l", "s")
    assert await db("call", "set", "k", "hello") == (True, "OK")
    assert await db("call", "get", "k") == (True, "hello")
    assert await db("call", "get", "missing") == (True, None)  # nil bulk
    assert await db("call", "incrby", "n:1", 5) == (True, 5)
    assert await db("call", "exists", "k") == (True, True)  # skynet's booleans
    assert await db("call", "exists", "missing") == (True, False)
    assert await db("call", "sadd", "s", "one") == (True, 1)
    assert await db("call", "sismember", "s", "one") == (True, True)
    assert await db("call", "sismember", "s", "two") == (True, False)
    await db("call", "rpush", "l", 1, 2, 3)
    assert await db("call", "lrange", "l", 0, -1) == (True, ["1", "2", "3"])
    assert await db("call", "hmset", ["h", "a", 1, "b", "x y\r\nz"]) == (True, "OK")  # a table
    assert await db("call", "hgetall", "h") == (True, ["a", "1", "b", "x y\r\nz"])
    binary = bytes(range(256)) * 300  # 76 KB, every byte value, "\r\n" inside
    assert await db("call", "set", "bin", binary) == (True, "OK")
    assert await db("call", "get", "bin") == (True, binary)
    await db("call", "del", "k", "h", "l", "s", "n:1", "bin")


async def test_multi_exec(db: Call) -> None:
    await db("call", "set", "A", "hello")
    assert await db("call", "multi") == (True, "OK")
    assert await db("call", "get", "A") == (True, "QUEUED")
    assert await db("call", "incr", "A") == (True, "QUEUED")
    # EXEC answers an array holding an error: skynet raises it (ok is false)
    assert (await db("call", "exec"))[0] is False
    assert await db("call", "del", "A") == (True, 1)


async def test_error_reply_raises_in_the_caller_and_the_connection_goes_on(db: Call) -> None:
    await db("call", "set", "str", "x")
    ok, why = await db("call", "lpush", "str", 1)
    assert ok is False and why.startswith("WRONGTYPE")
    ok, why = await db("call", "nosuchcommand", 1)
    assert ok is False and "unknown command" in why
    assert await db("call", "get", "str") == (True, "x")


async def test_pipeline(db: Call) -> None:
    ops = [["hincrby", "ph", 1, 1], ["del", "ph"], ["hmset", "ph", 1, 1, 2, 2], ["hgetall", "ph"]]
    ok, resp = await db("pipeline", ops, True)
    assert ok is True
    assert [r["out"] for r in resp] == [1, 1, "OK", ["1", "1", "2", "2"]]
    assert all(r["ok"] for r in resp)
    assert await db("pipeline", ops, False) == (True, ["1", "1", "2", "2"])  # the last reply
    ok, resp = await db("pipeline", [["set", "p", "x"], ["lpush", "p", 1], ["get", "p"]], True)
    assert [r["ok"] for r in resp] == [True, False, True]
    assert resp[1]["out"].startswith("WRONGTYPE")


async def test_concurrent_requests_each_get_their_own_reply(db: Call) -> None:
    ops = [["set", f"c{i}", i] if i % 2 == 0 else ["get", f"c{i - 1}"] for i in range(40)]
    results = await db("concurrent", ops)
    assert results == ["OK" if i % 2 == 0 else str(i - 1) for i in range(40)]


async def test_auth_and_select(node: skylet.Node, redis_server: Redis) -> None:
    user = await client(
        node, port=redis_server.port, username=redis_server.user, auth=redis_server.password, db=3
    )
    assert await user("call", "acl", "whoami") == (True, redis_server.user)
    await user("call", "set", "in3", "yes")
    assert redis_server.cli("GET", "in3", db=3) == "yes"
    assert redis_server.cli("EXISTS", "in3") == "0"


async def test_wrong_password_is_a_clear_error_and_the_node_goes_on(
    node: skylet.Node, redis_server: Redis
) -> None:
    bad = await client(node)
    ok, why = await bad(
        "connect",
        {"host": "127.0.0.1", "port": redis_server.port, "username": redis_server.user,
         "auth": "wrong"},
    )  # fmt: skip
    assert ok is False
    assert "WRONGPASS" in why, why
    good = await client(node, port=redis_server.port)
    assert await good("call", "ping") == (True, "PONG")


async def test_refused_connection_is_a_clear_error(node: skylet.Node) -> None:
    bad = await client(node)
    ok, why = await bad("connect", {"host": "127.0.0.1", "port": free_port()})
    assert ok is False
    assert why.startswith("redis: cannot connect to 127.0.0.1:") and "refused" in why, why


async def test_watch_subscribe_psubscribe_and_unsubscribe(
    node: skylet.Node, redis_server: Redis, db: Call
) -> None:
    conf = {"host": "127.0.0.1", "port": redis_server.port}
    w = await client(node)
    assert await w("watch", conf, ["foo", "bar"], ["hello.*"]) is True
    for _ in range(100):  # the subscriptions are confirmed through message()
        if int(redis_server.cli("PUBSUB", "NUMPAT")) == 1 and redis_server.cli(
            "PUBSUB", "NUMSUB", "bar"
        ).endswith("1"):
            break
        await node_sleep(node)
    await db("call", "publish", "foo", 1)
    await db("call", "publish", "hello.x", 2)
    await db("call", "publish", "bar", "three")
    assert await w("messages", 3) == [
        {"data": "1", "channel": "foo"},
        {"data": "2", "channel": "hello.x", "pattern": "hello.*"},
        {"data": "three", "channel": "bar"},
    ]
    assert await w("subscribed") == ["bar", "foo", "hello.*"]


async def node_sleep(node: skylet.Node) -> None:
    await trio.sleep(0.02)


async def test_killed_connection_mid_request(node: skylet.Node, redis_server: Redis) -> None:
    db = await client(node, port=redis_server.port)
    other = await client(node, port=redis_server.port)
    await db("call", "client", "setname", "victim")
    result: list[Any] = []

    async def blocked() -> None:
        result.append(await db("call", "blpop", "never", 0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        for _ in range(200):
            if "cmd=blpop" in redis_server.cli("CLIENT", "LIST"):
                break
            await trio.sleep(0.01)
        ids = [
            line.split()[0].split("=")[1]
            for line in redis_server.cli("CLIENT", "LIST").splitlines()
            if "name=victim" in line
        ]
        assert ids
        redis_server.cli("CLIENT", "KILL", "ID", ids[0])
    ok, why = result[0]
    assert ok is False and why == "[Error: socket]", why  # socketchannel.error, as skynet
    # the same connection object connects again on the next request
    assert await db("call", "ping") == (True, "PONG")
    assert await other("call", "ping") == (True, "PONG")


async def test_watch_subscribes_again_after_the_server_drops_it(
    node: skylet.Node, redis_server: Redis, db: Call
) -> None:
    conf = {"host": "127.0.0.1", "port": redis_server.port}
    w = await client(node)
    assert await w("watch", conf, ["again"], ["again.*"]) is True

    async def subscribed() -> None:
        for _ in range(300):
            subs = redis_server.cli("PUBSUB", "NUMSUB", "again").split()[-1]
            if subs == "1" and redis_server.cli("PUBSUB", "NUMPAT") == "1":
                return
            await trio.sleep(0.01)
        raise AssertionError("not subscribed")

    await subscribed()
    redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
    assert "error" in (await w("messages", 1))[0]  # message() raised once
    await subscribed()  # the next message() connected and subscribed again
    await db("call", "publish", "again", "back")
    await db("call", "publish", "again.x", "pattern too")
    assert await w("messages", 2) == [
        {"data": "back", "channel": "again"},
        {"data": "pattern too", "channel": "again.x", "pattern": "again.*"},
    ]
