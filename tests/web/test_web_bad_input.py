"""Broken HTTP requests and websocket protocol violations: each gets a clear
answer or a closed connection, and the node and other connections go on."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from websockets.trio.client import connect

from web_support import Web, WebFactory


@pytest.fixture
async def web(web_node: WebFactory) -> AsyncIterator[Web]:
    async with web_node("webserver") as running:
        yield running


@pytest.fixture
async def ws(web_node: WebFactory) -> AsyncIterator[Web]:
    async with web_node("wsserver", "main", "ws") as running:
        yield running


async def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            try:
                while chunk := await stream.receive_some(65536):
                    received += chunk
            except trio.BrokenResourceError:  # reset: the server closed with unread input
                pass
        return received


def status(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode()


async def still_serves(web: Web) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://{web.host}/still")
    assert r.status_code == 200 and "path /still" in r.text


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"NONSENSE\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version not supported"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", "HTTP/1.1 413 "),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 3000, "HTTP/1.1 413 "),  # never ends
        (b"POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n", "HTTP/1.1 413 "),
        (b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 Not Implemented"),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 413 ",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
            "HTTP/1.1 413 ",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 200,
            "HTTP/1.1 413 ",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3000\r\n" + b"a" * 12288,
            "HTTP/1.1 413 ",
        ),
    ],
)
async def test_broken_request_gets_an_error_status(
    web: Web, request_bytes: bytes, expected: str
) -> None:
    answer = await exchange(web.port, request_bytes)
    assert status(answer).startswith(expected)
    await still_serves(web)


async def test_binary_garbage_and_early_close(web: Web) -> None:
    answer = await exchange(web.port, os.urandom(3000) + b"\r\n\r\n")
    assert status(answer) == "HTTP/1.1 400 Bad Request"
    # a request cut off in its body: the peer closes, the agent logs it
    stream = await trio.open_tcp_stream("127.0.0.1", web.port)
    await stream.send_all(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
    await stream.aclose()
    with trio.fail_after(5):
        while not web.log.matching("socket closed"):
            await trio.sleep(0.01)
    await still_serves(web)


async def test_slow_partial_requests_do_not_hold_up_others(web: Web) -> None:
    # skynet's httpd has no read timeout: a slowloris client holds its
    # agent's coroutine, not the agent, nor the node.
    slow = [await trio.open_tcp_stream("127.0.0.1", web.port) for _ in range(8)]
    for stream in slow:
        await stream.send_all(b"GET /slow-loris HTTP/1.1\r\nX-A: ")
    for _ in range(5):
        await still_serves(web)
    for stream in slow:
        await stream.send_all(b"b\r\n\r\n")
    for stream in slow:
        with trio.fail_after(5):
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
        assert status(answer) == "HTTP/1.1 200 OK" and b"header x-a=b" in answer
        await stream.aclose()


# ----- websocket -----


def handshake(key: bytes | None = None, **extra: str) -> bytes:
    key = key if key is not None else base64.b64encode(os.urandom(16))
    lines = [
        "GET /raw HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{k.replace('_', '-')}: {v}" for k, v in extra.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(first: int, payload: bytes, masked: bool = True, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("BB", first, mask_bit | n)
    elif n <= 0xFFFF:
        head = struct.pack(">BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack(">BBQ", first, mask_bit | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code(answer: bytes) -> int:
    """The code of the close frame after the 101 answer (server frames are unmasked)."""
    head, _, frames = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    first, second = frames[0], frames[1]
    assert first == 0x88, frames  # fin + close
    return int(struct.unpack(">H", frames[2:4])[0]) if second >= 2 else 0


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        (frame(0x83, b"x"), 1002),  # reserved opcode 3
        (frame(0xC1, b"x"), 1002),  # RSV1 without an extension
        (frame(0x80, b"x"), 1002),  # continuation of nothing
        (frame(0x01, b"part") + frame(0x81, b"new"), 1002),  # new message inside one
        (frame(0x09, b"p"), 1002),  # fragmented ping
        (frame(0x89, b"p" * 126), 1002),  # ping over 125 bytes
        (frame(0x82, b"", length=300 * 1024), 1009),  # frame over the 256 KiB limit
        (frame(0x02, b"a" * 200_000) + frame(0x80, b"b" * 100_000), 1009),  # message over it
    ],
)
async def test_websocket_protocol_violation_closes_with_a_code(
    ws: Web, frames: bytes, code: int
) -> None:
    async with connect(f"ws://{ws.host}/bystander") as bystander:
        answer = await exchange(ws.port, handshake() + frames)
        assert close_code(answer) == code
        await bystander.send("still here")
        assert await bystander.recv() == "still here"
    seen = await events_with(ws, "error websocket protocol error")
    assert any(f"({code})" in e for e in seen), seen


async def events_with(web: Web, text: str) -> list[str]:
    with trio.fail_after(5):
        while True:
            seen = [e for e in await web.node.call(web.server, "lua", "events") if text in e]
            if seen:
                return seen
            await trio.sleep(0.01)


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (handshake(key=b"short"), b"HTTP/1.1 400 Bad Request"),
        (handshake(key=b"!!!not base64!!!"), b"HTTP/1.1 400 Bad Request"),
        (handshake().replace(b"Version: 13", b"Version: 8"), b"HTTP/1.1 400 Bad Request"),
        (handshake().replace(b"Upgrade: websocket", b"Upgrade: h2c"), b"HTTP/1.1 426 "),
        (handshake().replace(b"GET", b"POST"), b"HTTP/1.1 400 Bad Request"),
        (handshake(Sec_WebSocket_Protocol="mqtt"), b"HTTP/1.1 400 Bad Request"),
        (b"\x16\x03\x01\x00\x05hello\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
    ],
)
async def test_websocket_bad_handshake_is_refused(
    ws: Web, request_bytes: bytes, expected: bytes
) -> None:
    answer = await exchange(ws.port, request_bytes)
    assert answer.startswith(expected), answer
    async with connect(f"ws://{ws.host}/after") as c:
        await c.send("ok")
        assert await c.recv() == "ok"


async def test_unmasked_client_frames_are_accepted_as_skynet_does(ws: Web) -> None:
    # skynet's own client sends unmasked frames unless given a key; its
    # server takes them, and so does skylet's, so the two interoperate.
    answer = await exchange(
        ws.port,
        handshake() + frame(0x81, b"plain", masked=False) + frame(0x88, b"\x03\xe8", masked=False),
    )
    frames = answer.partition(b"\r\n\r\n")[2]
    assert frames.startswith(b"\x81\x05plain")
