"""http.websocket: a skynet-style echo server (tests/services/http/wsserver.lua)
with the `websockets` client, and skylet's websocket client against it, over
ws and wss."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
from websockets.exceptions import ConnectionClosed
from websockets.trio.client import connect

from web_support import Cert, Web, WebFactory


@pytest.fixture
async def ws(web_node: WebFactory) -> AsyncIterator[Web]:
    async with web_node("wsserver", "main", "ws") as running:
        yield running


async def events(web: Web, until: Callable[[list[str]], bool]) -> list[str]:
    """The server's handler events, once `until` holds (or after 5 s)."""
    with trio.move_on_after(5):
        while True:
            seen = list(await web.node.call(web.server, "lua", "events"))
            if until(seen):
                return seen
            await trio.sleep(0.01)
    return seen


async def test_websockets_client_text_binary_ping_close(ws: Web) -> None:
    async with connect(f"ws://{ws.host}/chat?room=1", additional_headers={"X-Test": "t"}) as c:
        await c.send("hello")
        assert await c.recv() == "hello"
        await c.send(b"\x00\x01bin")
        assert await c.recv() == b"\x00\x01bin"
        big = "é" * 100_000  # 200 KB, in frames of the client's choosing
        await c.send(big)
        assert await c.recv() == big
        pong = await c.ping(b"p1")
        with trio.fail_after(5):
            await pong.wait()
        await c.send("ping-me")  # the server pings; websockets answers with a pong
        await c.send("after")  # echoed after the ping: the pong went out before
        assert await c.recv() == "after"
        await c.aclose(code=4001, reason="done")
    seen = await events(ws, lambda e: any(x.startswith("close") for x in e))
    assert "connect" in seen
    assert "handshake /chat?room=1 t" in seen
    assert "message text 5" in seen and "message binary 5" in seen
    assert "message text 200000" in seen
    assert "ping" in seen and "pong" in seen, seen
    assert "close 4001 done" in seen


async def test_server_closes_with_code(ws: Web) -> None:
    async with connect(f"ws://{ws.host}/") as c:
        await c.send("close-me")
        with pytest.raises(ConnectionClosed) as closed:
            await c.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")


async def lua_client(web: Web) -> Callable[..., Any]:
    client = await web.newservice("wsclient")

    async def call(*args: Any) -> Any:
        return await web.node.call(client, "lua", *args)

    return call


async def test_lua_client_against_lua_server(ws: Web) -> None:
    call = await lua_client(ws)
    ok, wid = await call("connect", f"ws://{ws.host}/lua", {"X-Test": "lua"})
    assert ok, wid
    assert await call("write", wid, "text one") is True
    assert await call("read", wid) == (True, "text one", "text")
    assert await call("write", wid, b"\x00\xffbytes", "binary") is True
    assert await call("read", wid) == (True, b"\x00\xffbytes", "binary")
    assert await call("ping", wid) is True
    assert await call("write", wid, "close-me") is True
    ok, closed, payload = await call("read", wid)
    assert (ok, closed) == (True, False)
    assert payload == b"\x0f\xa0bye"  # 4000, "bye"
    assert await call("is_close", wid) == (True, True)
    seen = await events(ws, lambda e: "ping" in e and any("close" in x for x in e))
    assert "handshake /lua lua" in seen and "ping" in seen


async def test_lua_client_reports_a_refused_handshake(ws: Web, web_node: WebFactory) -> None:
    async with web_node("webserver", "main", "http") as web:
        call = await lua_client(web)
        ok, err = await call("connect", f"ws://{web.host}/")
        assert ok is False and "websocket handshake error: code[200]" in err
    call = await lua_client(ws)
    ok, err = await call("connect", "http://example.com/")
    assert ok is False and "invalid protocol" in err


async def test_wss_both_clients(web_node: WebFactory, cert: Cert) -> None:
    async with web_node("wsserver", "main", "wss") as wss:
        async with connect(f"wss://localhost:{wss.port}/s", ssl=cert.client_context()) as c:
            await c.send("over tls")
            assert await c.recv() == "over tls"
            await c.send(b"x" * 70_000)
            assert await c.recv() == b"x" * 70_000
        call = await lua_client(wss)
        ok, wid = await call("connect", f"wss://localhost:{wss.port}/lua")
        assert ok, wid
        assert await call("write", wid, "lua over tls") is True
        assert await call("read", wid) == (True, "lua over tls", "text")
        assert await call("close", wid, 1000, "bye") is True
        seen = await events(wss, lambda e: "close 1000 bye" in e)
        assert "close 1000 bye" in seen


async def test_accept_after_httpd_read_the_upgrade_request(web_node: WebFactory) -> None:
    async with web_node("wsserver", "main", "upgrade") as up:
        async with connect(f"ws://{up.host}/up?x=1", additional_headers={"X-Test": "u"}) as c:
            await c.send("upgraded")
            assert await c.recv() == "upgraded"
        seen = await events(up, lambda e: any(x.startswith("close") for x in e))
        assert "handshake /up?x=1 u" in seen and "message text 8" in seen


async def test_wss_garbage_closes_that_connection_only(web_node: WebFactory, cert: Cert) -> None:
    async with web_node("wsserver", "main", "wss") as wss:
        stream = await trio.open_tcp_stream("127.0.0.1", wss.port)
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\n\r\n")  # plain text to a TLS port
            with trio.fail_after(5):
                while await stream.receive_some(4096):
                    pass
        seen = await events(wss, lambda e: any("failed" in x for x in e))
        assert any("tls handshake failed" in x for x in seen), seen
        async with connect(f"wss://localhost:{wss.port}/", ssl=cert.client_context()) as c:
            await c.send("fine")
            assert await c.recv() == "fine"
