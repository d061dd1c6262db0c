"""skynet.socketchannel: order mode, session mode, auth, reconnect, failures.

The servers are small trio TCP servers on 127.0.0.1 in the test process; the
client is a real Lua service (tests/services/socketchannel/channel_client.lua).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "socketchannel"
Handler = Callable[[trio.SocketStream, "Server"], Awaitable[None]]


class Server:
    """A line server; `handler(stream, server)` serves each connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        self.streams: list[trio.SocketStream] = []

    async def serve(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        self.streams.append(stream)
        try:
            await self.handler(stream, self)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()


class lines:
    """The lines a connection sends, until it closes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    def __aiter__(self) -> lines:
        return self

    async def __anext__(self) -> str:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise StopAsyncIteration
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> Callable[[Handler], Awaitable[Server]]:
    async def start(handler: Handler) -> Server:
        server = Server(handler)
        listeners = await nursery.start(partial(trio.serve_tcp, server.serve, 0, host="127.0.0.1"))
        server.port = listeners[0].socket.getsockname()[1]
        return server

    return start


@pytest.fixture
async def node() -> AsyncIterator[skylet.Node]:
    async with skylet.open_node({"luaservice": f"{SERVICES}/?.lua"}, log=lambda line: None) as n:
        yield n


async def client(node: skylet.Node, mode: str, port: int, auth: str = "") -> Callable[..., Any]:
    address = await node.newservice("channel_client", mode, port, *([auth] if auth else []))

    async def call(*args: Any) -> Any:
        return await node.call(address, "lua", *args)

    return call


async def echo_upper(stream: trio.SocketStream, server: Server) -> None:
    async for line in lines(stream):
        if line.startswith("AUTH"):
            await stream.send_all(b"OK\n" if line == "AUTH secret" else b"NO\n")
        else:
            await stream.send_all(line.upper().encode() + b"\n")


async def test_order_mode_pairs_answers_with_requests_in_order(
    node: skylet.Node, start_server: Any
) -> None:
    server = await start_server(echo_upper)
    call = await client(node, "order", server.port, "auth")
    assert await call("request", "hello") == "HELLO"
    assert await call("many", 20, "r") == [f"R{i}" for i in range(1, 21)]
    assert server.connections == 1
    assert await call("auths") == 1


async def sessions_backwards(stream: trio.SocketStream, server: Server) -> None:
    """Answers each batch of 5 requests in reverse order; "big" in two parts."""
    batch: list[tuple[str, str]] = []
    async for line in lines(stream):
        session, text = line.split(" ", 1)
        batch.append((session, text))
        if len(batch) == 5:
            for session, text in reversed(batch):
                if text.startswith("fail"):
                    await stream.send_all(f"{session} err refused {text}\n".encode())
                elif text.startswith("big"):
                    await stream.send_all(f"{session} more part1-\n{session} ok part2\n".encode())
                else:
                    await stream.send_all(f"{session} ok {text.upper()}\n".encode())
            batch = []


async def test_session_mode_matches_answers_by_session(
    node: skylet.Node, start_server: Any
) -> None:
    server = await start_server(sessions_backwards)
    call = await client(node, "session", server.port)
    assert await call("many", 5, "s") == [f"S{i}" for i in range(1, 6)]
    results = await call("many", 5, "big")
    assert results[0] == ["part1-", "part2"]  # multi-part answers collect in a table
    results = await call("many", 5, "fail")
    assert results[2] == "error: refused fail3"


async def test_peer_closing_fails_every_pending_request_then_reconnects(
    node: skylet.Node, start_server: Any
) -> None:
    async def close_after_three(stream: trio.SocketStream, server: Server) -> None:
        seen = 0
        async for line in lines(stream):
            if line.startswith("AUTH"):
                await stream.send_all(b"OK\n")
                continue
            seen += 1
            if seen == 3 and server.connections == 1:
                return  # closes with requests pending
            await stream.send_all(line.upper().encode() + b"\n")

    for mode in ("order", "session"):
        server = await start_server(close_after_three if mode == "order" else close_sessions)
        call = await client(node, mode, server.port, "auth" if mode == "order" else "")
        start = time.monotonic()
        results = await call("many", 4, "x")
        assert time.monotonic() - start < 1
        if mode == "order":  # two answered, the peer closed on the third
            assert results[:2] == ["X1", "X2"]
            failed = results[2:]
        else:  # the peer answered none before closing
            failed = results
        assert all(r.startswith("error: ") for r in failed), (mode, results)
        # the next request connects again (and authenticates again)
        assert await call("request", "again") == "AGAIN"
        assert server.connections == 2
        if mode == "order":
            assert await call("auths") == 2


async def close_sessions(stream: trio.SocketStream, server: Server) -> None:
    async for line in lines(stream):
        session, text = line.split(" ", 1)
        if server.connections == 1:
            return  # never answers: every pending request fails
        await stream.send_all(f"{session} ok {text.upper()}\n".encode())


async def test_refused_connection_raises_at_once(node: skylet.Node) -> None:
    with trio.socket.socket() as s:
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        call = await client(node, "order", port)
        start = time.monotonic()
        assert await call("request", "x") == (False, "socket error")
        assert await call("connect") == (False, "socket error")
        assert time.monotonic() - start < 1


async def test_auth_failure_does_not_leave_a_connection(
    node: skylet.Node, start_server: Any
) -> None:
    async def refuse(stream: trio.SocketStream, server: Server) -> None:
        async for _ in lines(stream):
            await stream.send_all(b"NO\n")

    server = await start_server(refuse)
    call = await client(node, "order", server.port, "auth")
    ok, why = await call("request", "x")
    assert ok is False and why
    assert await call("auths") == 1


async def test_closed_channel_refuses_requests(node: skylet.Node, start_server: Any) -> None:
    server = await start_server(echo_upper)
    call = await client(node, "order", server.port)
    assert await call("request", "a") == "A"
    await call("close")
    assert await call("request", "b") == (False, "socket error")
    # connect() opens it again
    assert await call("connect") == (True, None)
    assert await call("request", "c") == "C"
