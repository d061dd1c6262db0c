"""skynet.db.redis.cluster against a real three-master Redis Cluster:
routing by slot, MOVED (a stale slot map), ASK (a slot in migration),
pipelines on a slot's node, EVAL, pub/sub, and a node that goes away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

import skylet
from db.dbservers import Redis, node_config, resp

Call = Callable[..., Awaitable[Any]]


@pytest.fixture
async def node() -> AsyncIterator[skylet.Node]:
    async with skylet.open_node(node_config(), log=lambda line: None) as n:
        yield n


@pytest.fixture
async def db(node: skylet.Node, redis_cluster: Redis) -> Call:
    address = await node.newservice("redisclient")

    async def call(*args: Any) -> Any:
        return await node.call(address, "lua", *args)

    ports = redis_cluster.ports
    nodes = [{"host": "127.0.0.1", "port": p} for p in ports[:2]]
    assert await call("cluster_new", nodes, {"read_slave": True, "db": 0}) is True
    return call


def slot_owner(cluster: Redis, key: str) -> int:
    """The port of the master serving key's slot, as the cluster says."""
    slot = int(cluster.cli("CLUSTER", "KEYSLOT", key))
    for line in cluster.cli("CLUSTER", "NODES").splitlines():
        fields = line.split()
        if "master" not in fields[2]:
            continue
        for r in fields[8:]:
            lo, _, hi = r.partition("-")
            if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                return int(fields[1].split(":")[1].split("@")[0])
    raise AssertionError(f"no owner for slot {slot}")


async def test_keyslot_matches_the_server(db: Call, redis_cluster: Redis) -> None:
    for key in ["", "foo", "123456789", "{user1000}.following", "foo{}{bar}", "{}x", "a{b"]:
        ok, slot = await db("cluster", "keyslot", key)
        assert ok and slot == int(redis_cluster.cli("CLUSTER", "KEYSLOT", key)), key


async def test_commands_route_to_every_master(db: Call, redis_cluster: Redis) -> None:
    keys = [f"key{i}" for i in range(30)]
    for k in keys:
        assert await db("cluster", "set", k, k.upper()) == (True, "OK")
    for k in keys:
        assert await db("cluster", "get", k) == (True, k.upper())
        # the key really lives on its slot's master
        assert redis_cluster.cli("GET", k, port=slot_owner(redis_cluster, k)) == k.upper()
    state = await db("cluster_state")
    assert len(state["connections"]) == 3
    assert sum(state["slots_by_node"].values()) == 16384
    await db("cluster", "rpush", "list", 1, 2, 3)
    assert await db("cluster", "lrange", "list", 0, -1) == (True, ["1", "2", "3"])
    await db("cluster", "del", "list", *keys[:1])


async def test_moved_after_flushing_the_slot_map(db: Call, redis_cluster: Redis) -> None:
    assert await db("cluster", "flush_slots_cache") is True
    # no map: a random node answers MOVED and the client follows it
    for i in range(10):
        assert await db("cluster", "set", f"m{i}", i) == (True, "OK")
        assert await db("cluster", "get", f"m{i}") == (True, str(i))
    state = await db("cluster_state")
    assert sum(state["slots_by_node"].values()) == 16384  # refreshed after MOVED


async def test_ask_during_a_slot_migration(db: Call, redis_cluster: Redis) -> None:
    key = "{migrating}k"
    await db("cluster", "set", key, "before")
    slot = redis_cluster.cli("CLUSTER", "KEYSLOT", key)
    source = slot_owner(redis_cluster, key)
    target = next(p for p in redis_cluster.ports if p != source)
    ids = {
        int(line.split()[1].split(":")[1].split("@")[0]): line.split()[0]
        for line in redis_cluster.cli("CLUSTER", "NODES").splitlines()
    }
    redis_cluster.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source], port=target)
    redis_cluster.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target], port=source)
    try:
        # a key of that slot the source does not have: ASK -> the target
        assert await db("cluster", "set", "{migrating}new", "asked") == (True, "OK")
        assert redis_cluster.cli("EXISTS", "{migrating}new", port=source).startswith("ASK ")
        assert redis_cluster.cli("CLUSTER", "COUNTKEYSINSLOT", slot, port=target) == "1"
        assert await db("cluster", "get", "{migrating}new") == (True, "asked")
        # a key the source still has is served there
        assert await db("cluster", "get", key) == (True, "before")
    finally:
        resp(target, ["ASKING"], ["DEL", "{migrating}new"])
        for port in redis_cluster.ports:
            redis_cluster.cli("CLUSTER", "SETSLOT", slot, "NODE", ids[source], port=port)


async def test_pipeline_on_a_slots_connection_and_eval(db: Call) -> None:
    script = 'if redis.call("get", KEYS[1]) == ARGV[1] then return "ok" else return "fail" end'
    await db("cluster", "set", "A", 1)
    assert await db("cluster", "eval", script, 1, "A", 1) == (True, "ok")
    ok, why = await db("cluster", "eval", script, 2, "A", "B", 1)
    assert ok is False and "same key slot" in why
    ok, why = await db("cluster", "info")
    assert ok is False and "No way to dispatch" in why


async def test_errors_that_are_not_redirections_raise(db: Call) -> None:
    await db("cluster", "set", "str", "x")
    ok, why = await db("cluster", "lpush", "str", 1)
    assert ok is False and why.startswith("WRONGTYPE"), why


async def test_subscribe_and_publish(db: Call, redis_cluster: Redis) -> None:
    await db("cluster", "subscribe", "world")
    await db("cluster", "psubscribe", "{tag}*team")

    def subscribed() -> bool:  # subscriptions live on one node each
        ports = redis_cluster.ports
        subs = sum(int(redis_cluster.cli("PUBSUB", "NUMSUB", "world", port=p).split()[-1])
                   for p in ports)  # fmt: skip
        pats = sum(int(redis_cluster.cli("PUBSUB", "NUMPAT", port=p)) for p in ports)
        return subs == 1 and pats == 1

    for _ in range(200):
        if subscribed():
            break
        await trio.sleep(0.01)
    await db("cluster", "publish", "world", "hello,world")
    await db("cluster", "publish", "{tag}1team", "hello,1team")
    got = await db("cluster_messages", 2)
    assert {"data": "hello,world", "channel": "world"} in got
    assert {"data": "hello,1team", "channel": "{tag}1team", "pattern": "{tag}*team"} in got


async def test_close_all_connections_then_reconnect(db: Call) -> None:
    await db("cluster", "close_all_connection")
    assert not (await db("cluster_state"))["connections"]  # (an empty table)
    assert await db("cluster", "set", "again", 1) == (True, "OK")
    assert len((await db("cluster_state"))["connections"]) == 1


async def test_connections_killed_by_the_servers_are_made_again(
    db: Call, redis_cluster: Redis
) -> None:
    keys = [f"k{i}" for i in range(10)]
    for k in keys:
        await db("cluster", "set", k, k)
    for port in redis_cluster.ports:
        redis_cluster.cli("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes", port=port)
    for k in keys:
        assert await db("cluster", "get", k) == (True, k)
