"""https: http.tlshelper and ltls.c over the node's TLS (Python's ssl on
memory buffers), with a self-signed certificate made for the test."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from skylet._libs import _tls
from web_support import Cert, Web, WebFactory

#: The server closes each connection after its answer, as skynet's httpd
#: does, without saying so: a client reusing one could send its next request
#: before the close arrives (seen at thread = 4, where the close is queued).
ONE_REQUEST_PER_CONNECTION = httpx.Limits(max_keepalive_connections=0)


@pytest.fixture
async def web(web_node: WebFactory) -> AsyncIterator[Web]:
    async with web_node("webserver", "main", "https") as running:
        yield running


async def test_httpx_over_tls_verifies_the_servers_certificate(web: Web, cert: Cert) -> None:
    async with httpx.AsyncClient(
        verify=cert.client_context(), limits=ONE_REQUEST_PER_CONNECTION
    ) as client:
        r = await client.post(f"https://localhost:{web.port}/secure?x=1", content=b"secret")
        assert r.status_code == 200
        assert "query x=1" in r.text and r.text.endswith("body secret")
        r = await client.get(f"https://127.0.0.1:{web.port}/chunked")
        assert r.text == "one,two,three"


async def test_lua_httpc_https_against_lua_httpd(web: Web) -> None:
    client = await web.newservice("webclient")
    for host in (f"https://127.0.0.1:{web.port}", f"https://localhost:{web.port}"):
        ok, status, body, _ = await web.node.call(client, "lua", "get", host, "/a?b=c")
        assert (ok, status) == (True, 200), body
        assert "query b=c" in body.split("\n")
    ok, status, parts = await web.node.call(client, "lua", "stream", host, "/chunked")
    assert (ok, status, "".join(parts)) == (True, 200, "one,two,three")
    big = "x" * 100_000  # many TLS records each way
    ok, status, body, _ = await web.node.call(
        client, "lua", "request", "POST", host, "/big", {}, big[:8000]
    )
    assert (ok, status) == (True, 200) and body.endswith("body " + big[:8000])


async def test_tls_garbage_closes_that_connection_only(web: Web, cert: Cert) -> None:
    async def garbage(data: bytes) -> bytes:
        stream = await trio.open_tcp_stream("127.0.0.1", web.port)
        async with stream:
            await stream.send_all(data)
            received = b""
            with trio.fail_after(5):
                while chunk := await stream.receive_some(4096):
                    received += chunk
            return received

    # not TLS at all, then a TLS record header announcing nonsense
    await garbage(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await garbage(b"\x16\x03\x01\x00\x10" + b"\xff" * 16)
    # a client that goes away mid-handshake
    stream = await trio.open_tcp_stream("127.0.0.1", web.port)
    await stream.send_all(b"\x16\x03\x01")
    await stream.aclose()

    async with httpx.AsyncClient(
        verify=cert.client_context(), limits=ONE_REQUEST_PER_CONNECTION
    ) as client:
        r = await client.get(f"https://localhost:{web.port}/after")
    assert r.status_code == 200
    with trio.fail_after(5):
        while len(web.log.matching("tls handshake failed")) < 2:
            await trio.sleep(0.01)


def live_tls(web: Web) -> int:
    store = _tls._stores.get(web.node)
    return 0 if store is None else len(store.conns)


async def test_tls_connections_are_freed(web: Web, cert: Cert) -> None:
    async with httpx.AsyncClient(
        verify=cert.client_context(), limits=ONE_REQUEST_PER_CONNECTION
    ) as client:
        for _ in range(5):
            assert (await client.get(f"https://localhost:{web.port}/")).status_code == 200
    for _ in range(5):
        stream = await trio.open_tcp_stream("127.0.0.1", web.port)
        async with stream:
            await stream.send_all(b"\x16\x03\x01\x00\x10" + b"\xff" * 16)
            with trio.fail_after(5):
                while await stream.receive_some(4096):
                    pass
    with trio.fail_after(5):  # closed after each request, and on each failed handshake
        while live_tls(web):
            await trio.sleep(0.01)
    probe = await web.newservice("tlsprobe")
    assert await web.node.call(probe, "lua", "drop", 10, False) is True
    assert live_tls(web) == 10  # dropped but not yet collected
    assert await web.node.call(probe, "lua", "drop", 10, True) is True
    assert live_tls(web) == 0  # Lua's collector frees them, as skynet's userdata


async def test_a_dead_services_tls_objects_are_swept(web: Web) -> None:
    first = await web.newservice("tlsprobe")
    assert await web.node.call(first, "lua", "drop", 10, False) is True
    web.node.kill(first)  # its VM closes; the node refuses its finalizers' commands
    second = await web.newservice("tlsprobe")
    # crossing 64 objects sweeps those of services that are gone
    assert await web.node.call(second, "lua", "drop", 70, False) is True
    assert live_tls(web) == 70


async def test_a_client_that_refuses_the_certificate_does_not_hurt(web: Web) -> None:
    strict = ssl.create_default_context()  # the self-signed certificate is unknown to it
    async with httpx.AsyncClient(verify=strict) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://localhost:{web.port}/")
    async with httpx.AsyncClient(verify=False) as client:
        assert (await client.get(f"https://localhost:{web.port}/")).status_code == 200


async def test_bad_certificate_files_are_a_clear_error(web_node: WebFactory, cert: Cert) -> None:
    async with web_node("webserver") as web:
        tls = await web.newservice("tlsprobe")
        ok, err = await web.node.call(tls, "lua", "set_cert", "/nonexistent.pem", str(cert.keyfile))
        assert ok is False and "set_cert(/nonexistent.pem" in err
        ok, err = await web.node.call(tls, "lua", "set_cert", str(cert.keyfile), str(cert.keyfile))
        assert ok is False and "set_cert" in err
        ok, err = await web.node.call(tls, "lua", "server_without_cert")
        assert ok is False and "needs set_cert" in err
        ok, err = await web.node.call(tls, "lua", "foreign", 12345)
        assert ok is False and "no connection 12345" in err
        ok, err = await web.node.call(tls, "lua", "newtls", "sideways")
        assert ok is False and "invalid method 'sideways'" in err
