"""The drivers against servers that speak garbage (small trio servers in the
test process, not databases): a clear error in the caller, the connection
closed, the node going on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio

import skylet
from db.dbservers import node_config

Serve = Callable[[trio.SocketStream], Awaitable[None]]


@pytest.fixture
async def node() -> AsyncIterator[skylet.Node]:
    async with skylet.open_node(node_config(), log=lambda line: None) as n:
        yield n


async def serve(nursery: trio.Nursery, handler: Serve) -> int:
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


async def service(node: skylet.Node, name: str) -> Callable[..., Awaitable[Any]]:
    address = await node.newservice(name)
    return partial(node.call, address, "lua")


async def test_redis_reply_of_unknown_type(node: skylet.Node, nursery: trio.Nursery) -> None:
    connections = []

    async def garbage_then_pong(stream: trio.SocketStream) -> None:
        connections.append(stream)
        async with stream:
            while data := await stream.receive_some():
                if b"PING" in data and len(connections) > 1:
                    await stream.send_all(b"+PONG\r\n")
                else:
                    await stream.send_all(b"?what\r\n")

    port = await serve(nursery, garbage_then_pong)
    db = await service(node, "redisclient")
    assert await db("connect", {"host": "127.0.0.1", "port": port}) is True
    ok, why = await db("call", "get", "k")
    assert ok is False and why == 'redis: bad reply line "?what"', why
    assert await db("call", "ping") == (True, "PONG")  # a new connection
    assert len(connections) == 2


async def test_mysql_handshake_that_is_not_one(node: skylet.Node, nursery: trio.Nursery) -> None:
    async def short_packet(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.send_all(b"\x05\x00\x00\x00\x0a5.5\x00")  # a truncated handshake

    port = await serve(nursery, short_packet)
    db = await service(node, "mysqlclient")
    ok, why = await db("connect", {"host": "127.0.0.1", "port": port, "user": "u"})
    assert ok is False and why.startswith(f"mysql: cannot connect to 127.0.0.1:{port}: "), why
    assert "data string too short" in why or "truncated" in why, why


async def test_mysql_server_closing_mid_result(node: skylet.Node, nursery: trio.Nursery) -> None:
    """A server that logs the client in, then closes after half a result."""

    def packet(seq: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "little") + bytes([seq]) + payload

    handshake = (
        b"\x0a" + b"5.5.5-fake\x00" + (1).to_bytes(4, "little") + b"12345678\x00"
        + (0xF7FF).to_bytes(2, "little") + b"\x21" + (2).to_bytes(2, "little")
        + (0x0008).to_bytes(2, "little") + b"\x15" + b"\x00" * 10 + b"9abcdefghijk\x00"
    )  # fmt: skip

    async def half_result(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.send_all(packet(0, handshake))
            await stream.receive_some()  # the login
            await stream.send_all(packet(2, b"\x00\x00\x00\x02\x00\x00\x00"))
            await stream.receive_some()  # the query
            column = b"".join(bytes([len(s)]) + s for s in [b"def", b"", b"", b"", b"n", b"n"])
            column += b"\x0c\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"
            eof = b"\xfe\x00\x00\x02\x00"
            await stream.send_all(packet(1, b"\x01") + packet(2, column) + packet(3, eof))
            await stream.send_all(packet(4, b"\x015"))  # one row, then the close

    port = await serve(nursery, half_result)
    db = await service(node, "mysqlclient")
    ok, _ = await db("connect", {"host": "127.0.0.1", "port": port, "user": "u"})
    assert ok is True
    ok, why = await db("query", "SELECT n FROM t")
    assert ok is False and why == "[Error: socket]", why  # closed mid-result: socketchannel.error
