"""A skylet node's cluster port spoken to byte by byte from Python.

The packets are built here from the protocol (docs/architecture.md,
"Cluster"), independently of skylet's Lua, and the answers checked byte for
byte: requests by number and by name, pushes, name queries, multi-part
requests and answers, the trace tag, and bad packets.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "cluster"


def s(text: str | bytes) -> bytes:
    """skynet.pack of one string (short or long)."""
    data = text.encode() if isinstance(text, str) else text
    if len(data) < 32:
        return bytes([4 | len(data) << 3]) + data
    if len(data) < 0x10000:
        return b"\x15" + struct.pack("<H", len(data)) + data
    return b"\x25" + struct.pack("<I", len(data)) + data


def packet(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def request(addr: int | str, session: int, msg: bytes, push: bool = False) -> bytes:
    """The packets of a request (several for 32 KiB and more)."""
    if isinstance(addr, str):
        name = addr.encode()
        to = struct.pack("<B", len(name)) + name
        small, large = b"\x80", (b"\xc1" if push else b"\x81")
    else:
        to = struct.pack("<I", addr)
        small, large = b"\x00", (b"\x41" if push else b"\x01")
    if len(msg) < 0x8000:
        return packet(small + to + struct.pack("<I", 0 if push else session) + msg)
    out = packet(large + to + struct.pack("<II", session, len(msg)))
    for i in range(0, len(msg), 0x8000):
        part = msg[i : i + 0x8000]
        kind = b"\x03" if i + 0x8000 >= len(msg) else b"\x02"
        out += packet(kind + struct.pack("<I", session) + part)
    return out


class Link:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = await self.stream.receive_some(1 << 16)
            assert data, "connection closed"
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def response(self) -> bytes:
        """One response packet's body."""
        (size,) = struct.unpack(">H", await self.read(2))
        return await self.read(size)


@pytest.fixture
async def link() -> AsyncIterator[tuple[Link, int]]:
    config = {"luaservice": f"{SERVICES}/?.lua"}
    async with skylet.open_node(config, log=lambda line: None) as node:
        server = await node.newservice("wireserver")
        port, echo = await node.call(server, "lua")
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            yield Link(stream), echo


async def test_call_by_number_and_by_name(link: tuple[Link, Any]) -> None:
    conn, echo = link
    await conn.stream.send_all(request(echo, 1, s("echo") + b"\x0a\x07\x00" + s("x")))
    assert await conn.response() == struct.pack("<IB", 1, 1) + b"\x0a\x07\x00" + s("x")
    await conn.stream.send_all(request("@echo", 2, s("whoami")))
    assert await conn.response() == struct.pack("<IB", 2, 1) + b"\x00"  # no cluster_self: nil
    await conn.stream.send_all(request(".echo", 3, s("echo") + b"\x42" + struct.pack("<d", 2.5)))
    assert await conn.response() == struct.pack("<IB", 3, 1) + b"\x42" + struct.pack("<d", 2.5)


async def test_address_zero_is_a_name_query(link: tuple[Link, Any]) -> None:
    conn, echo = link
    await conn.stream.send_all(request(0, 5, s("echo")))
    body = await conn.response()
    assert body[:5] == struct.pack("<IB", 5, 1)
    assert body[5:] in (b"\x0a" + bytes([echo]), b"\x12" + struct.pack("<H", echo))
    await conn.stream.send_all(request(0, 6, s("nosuch")))
    assert await conn.response() == struct.pack("<IB", 6, 0) + b"name not found"


async def test_pushes_then_a_call_and_a_trace_tag(link: tuple[Link, Any]) -> None:
    conn, echo = link
    trace = packet(b"\x04(n1-n2-1)tag")
    pushes = b"".join(
        request(echo, 9, s("push") + b"\x0a" + bytes([i]), push=True) for i in range(5)
    )
    await conn.stream.send_all(trace + pushes + request("@echo", 10, s("pushed")))
    # the array {0, 1, 2, 3, 4}: table cookie 5, items, end
    items = b"\x02" + b"".join(b"\x0a" + bytes([i]) for i in range(1, 5))
    assert await conn.response() == struct.pack("<IB", 10, 1) + b"\x2e" + items + b"\x00"


async def test_multi_part_request_and_answer(link: tuple[Link, Any]) -> None:
    conn, _ = link
    big = b"q" * 70000
    await conn.stream.send_all(request("@echo", 20, s("len") + s(big)))
    assert await conn.response() == struct.pack("<IB", 20, 1) + b"\x22" + struct.pack(
        "<i", 70000
    ) + s("qqqq") + s("qqqq")
    await conn.stream.send_all(request("@echo", 21, s("big") + b"\x22" + struct.pack("<i", 70000)))
    answer = s(b"b" * 70000)  # 70005 bytes: begin, 3 parts
    assert await conn.response() == struct.pack("<IBI", 21, 2, len(answer))
    got = b""
    for kind in (3, 3, 4):
        body = await conn.response()
        assert body[:5] == struct.pack("<IB", 21, kind)
        got += body[5:]
    assert got == answer


async def test_errors_are_answered_and_the_link_goes_on(link: tuple[Link, Any]) -> None:
    conn, echo = link
    await conn.stream.send_all(request(echo, 30, s("fail") + s("boom")))
    body = await conn.response()
    assert body[:5] == struct.pack("<IB", 30, 0)
    assert b"echo.lua:" in body and body.endswith(b": boom")
    await conn.stream.send_all(request("@nosuch", 31, s("x")))
    assert await conn.response() == struct.pack("<IB", 31, 0) + b"Invalid name"
    await conn.stream.send_all(request(echo, 32, b"\x07"))  # a value type that does not exist
    body = await conn.response()
    assert body[:5] == struct.pack("<IB", 32, 0) and b"unknown type 7" in body
    await conn.stream.send_all(packet(b"\x09nonsense") + request(echo, 33, s("echo") + s("ok")))
    assert await conn.response() == struct.pack("<IB", 33, 1) + s("ok")
