"""skylet's http.httpc and websocket client against servers that are not
skylet's: small trio HTTP servers (plain and TLS, Python's ssl) and the
`websockets` server, which refuses unmasked client frames."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio
from websockets.trio.server import ServerConnection, serve

from web_support import Cert, Web, WebFactory


@pytest.fixture
async def web(web_node: WebFactory) -> AsyncIterator[Web]:
    async with web_node("webserver") as running:  # the node; its server is unused here
        yield running


def server_context(cert: Cert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.certfile, cert.keyfile)
    return ctx


ANSWERS = {
    b"/len": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"/close": b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    b"/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
}


async def http_handler(stream: trio.abc.Stream) -> None:
    """Answers one request by path (ANSWERS), then closes."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1]
        await stream.send_all(ANSWERS.get(path, b"HTTP/1.1 404 Not Found\r\n\r\n"))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()


async def start_http(nursery: trio.Nursery, ctx: ssl.SSLContext | None) -> int:
    serve_fn: Callable[..., Awaitable[Any]]
    if ctx is None:
        serve_fn = partial(trio.serve_tcp, http_handler, 0, host="127.0.0.1")
    else:
        serve_fn = partial(trio.serve_ssl_over_tcp, http_handler, 0, ctx, host="127.0.0.1")
    listeners = await nursery.start(serve_fn)
    sock = listeners[0].socket if ctx is None else listeners[0].transport_listener.socket
    port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_httpc_against_a_python_server(
    web: Web, cert: Cert, nursery: trio.Nursery, scheme: str
) -> None:
    port = await start_http(nursery, server_context(cert) if scheme == "https" else None)
    client = await web.newservice("webclient")
    host = f"{scheme}://127.0.0.1:{port}"

    async def call(*args: Any) -> Any:
        return await web.node.call(client, "lua", *args)

    ok, status, body, header = await call("get", host, "/len")
    assert (ok, status, body, header["x-multi"]) == (True, 200, "hello", ["a", "b"])
    ok, status, body, header = await call("get", host, "/chunked")
    assert (ok, status, body, header["x-trailer"]) == (True, 201, "wikipedia", "t")
    ok, status, body, _ = await call("get", host, "/close")
    assert (ok, status, body) == (True, 200, "until the end")
    ok, status, body, _ = await call("get", host, "/empty")
    assert (ok, status, body) == (True, 204, "")
    ok, status, parts = await call("stream", host, "/chunked")
    assert (ok, status, "".join(parts)) == (True, 201, "wikipedia")


async def echo(conn: ServerConnection) -> None:
    async for message in conn:
        await conn.send(message)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
async def test_websocket_client_against_the_websockets_server(
    web: Web, cert: Cert, nursery: trio.Nursery, scheme: str
) -> None:
    ctx = server_context(cert) if scheme == "wss" else None
    server = await nursery.start(partial(serve, echo, 0, host="127.0.0.1", ssl=ctx))
    port = server.listeners[0].socket.getsockname()[1]
    url = f"{scheme}://127.0.0.1:{port}/echo"
    client = await web.newservice("wsclient")

    async def call(*args: Any) -> Any:
        return await web.node.call(client, "lua", *args)

    ok, wid = await call("connect", url)
    assert ok, wid
    # masked frames (websockets refuses others), text and binary
    assert await call("write", wid, "hi there") is True
    assert await call("read", wid) == (True, "hi there", "text")
    assert await call("write", wid, b"\x01\xff" * 40_000, "binary") is True
    assert await call("read", wid) == (True, b"\x01\xff" * 40_000, "binary")
    assert await call("ping", wid) is True  # the pong is read and skipped
    assert await call("write", wid, "after ping") is True
    assert await call("read", wid) == (True, "after ping", "text")
    assert await call("close", wid, 1000, "done") is True
