"""skynet.netpack: skynet's 2-byte framing, filter/pop queue semantics, in a real service."""

from __future__ import annotations

import random
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import skylet
from skylet import CallError

SERVICES = Path(__file__).parents[1] / "services" / "netpack"

DATA, CONNECT, CLOSE, ACCEPT, ERROR, WARNING = 1, 2, 3, 4, 5, 7


def event(kind: int, sid: int, ud: int = 0, data: bytes = b"") -> bytes:
    """A socket message payload as the node posts it."""
    return struct.pack(">BIq", kind, sid, ud) + data


def frame(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


@pytest.fixture
async def probe() -> AsyncIterator[tuple[skylet.Node, int]]:
    async with skylet.open_node({"luaservice": f"{SERVICES}/?.lua"}) as node:
        yield node, await node.newservice("netpackprobe")


async def feed(probe: tuple[skylet.Node, int], *payloads: bytes) -> list[Any]:
    node, address = probe
    got = await node.call(address, "lua", "feed", list(payloads))
    # trailing nils do not travel in a Lua list: pad to compare
    return [tuple(x.encode() if isinstance(x, str) else x for x in item) for item in got]


async def test_one_whole_packet_is_data(probe: Any) -> None:
    assert await feed(probe, event(DATA, 5, 0, frame(b"hello"))) == [(b"data", 5, b"hello", 5)]


async def test_several_packets_are_more_then_popped_in_order(probe: Any) -> None:
    got = await feed(probe, event(DATA, 5, 0, frame(b"a") + frame(b"bc") + frame(b"")))
    assert got == [(b"more",), (b"pop", 5, b"a", 1), (b"pop", 5, b"bc", 2), (b"pop", 5, b"", 0)]


async def test_split_packets_and_headers_are_reassembled_per_connection(probe: Any) -> None:
    data = frame(b"split me") + frame(b"x")
    got = await feed(
        probe,
        event(DATA, 5, 0, data[:1]),  # half a header
        event(DATA, 6, 0, frame(b"other")[:4]),
        event(DATA, 5, 0, data[1:6]),
        event(DATA, 6, 0, frame(b"other")[4:]),
        event(DATA, 5, 0, data[6:11]),  # the first packet and part of the next
        event(DATA, 5, 0, data[11:]),
    )
    assert got == [
        (b"none",),
        (b"none",),
        (b"none",),
        (b"data", 6, b"other", 5),
        (b"more",),
        (b"pop", 5, b"split me", 8),
        (b"data", 5, b"x", 1),
    ]


async def test_other_events(probe: Any) -> None:
    got = await feed(
        probe,
        event(ACCEPT, 1, 9, b"127.0.0.1:5000"),
        event(CONNECT, 9, 80, b"10.0.0.1:80"),
        event(WARNING, 9, 1024),
        event(DATA, 9, 0, b"\x00"),  # an unfinished header, dropped by the close
        event(CLOSE, 9),
        event(DATA, 9, 0, frame(b"new")),
        event(ERROR, 9, 0, b"reset"),
    )
    assert got == [
        (b"open", 9, b"127.0.0.1:5000"),
        (b"init", 9, b"10.0.0.1:80", 80),
        (b"warning", 9, 1024),
        (b"none",),
        (b"close", 9),
        (b"data", 9, b"new", 3),
        (b"error", 9, b"reset"),
    ]


async def test_a_queue_with_maxpacket_refuses_bad_headers(probe: Any) -> None:
    node, address = probe
    await node.call(address, "lua", "maxpacket", 4)
    got = await feed(
        probe,
        event(DATA, 5, 0, frame(b"ok")),
        event(DATA, 5, 0, frame(b"too long")),
        event(DATA, 5, 0, frame(b"ignored")),  # the rest of that connection
        event(DATA, 6, 0, frame(b"")),  # length 0
        event(DATA, 7, 0, frame(b"fine")),
    )
    assert got == [
        (b"data", 5, b"ok", 2),
        (b"bad", 5, 8),
        (b"none",),
        (b"bad", 6, 0),
        (b"data", 7, b"fine", 4),
    ]


async def test_clear_drops_queued_packets(probe: Any) -> None:
    node, address = probe
    first, empty = await node.call(
        address, "lua", "keep", [event(DATA, 5, 0, frame(b"a") + frame(b"b") + b"\x00")]
    )
    assert first == [5, "a", 1] and empty is True


async def test_pack_and_tostring(probe: Any) -> None:
    node, address = probe
    assert await node.call(address, "lua", "pack", "hi") == ("\x00\x02hi", 4, "\x00\x02hi", "")
    framed, size, _, _ = await node.call(address, "lua", "pack", b"x" * 65535)
    assert size == 65537 and framed[:2] == b"\xff\xff"
    with pytest.raises(CallError, match="Invalid size \\(too long\\) of data : 65536"):
        await node.call(address, "lua", "pack", b"x" * 65536)
    assert await node.call(address, "lua", "pack", "still") == (
        "\x00\x05still",
        7,
        "\x00\x05still",
        "",
    )


async def test_random_splits_across_connections_reassemble(probe: Any) -> None:
    rng = random.Random(14)
    sent: dict[int, list[bytes]] = {fd: [] for fd in (3, 4, 5)}
    streams: dict[int, bytes] = {}
    for fd in sent:
        packets = [rng.randbytes(rng.choice((0, 1, 2, 50, 300, 3000))) for _ in range(40)]
        sent[fd] = packets
        streams[fd] = b"".join(frame(p) for p in packets)
    payloads = []
    while any(streams.values()):
        fd = rng.choice([fd for fd, rest in streams.items() if rest])
        n = rng.randint(1, 700)
        payloads.append(event(DATA, fd, 0, streams[fd][:n]))
        streams[fd] = streams[fd][n:]
    got: dict[int, list[bytes]] = {fd: [] for fd in sent}
    for item in await feed(probe, *payloads):
        if item[0] in (b"data", b"pop"):
            got[item[1]].append(item[2])
    assert got == sent


@pytest.mark.parametrize("maxpacket", [None, 16])
async def test_the_c_cutter_cuts_as_the_lua_one_does(probe: Any, maxpacket: int | None) -> None:
    """The codec library's cutter (used when built) against netpack.lua's own."""
    node, address = probe
    rng = random.Random(20261129)
    cases = 0
    for _ in range(300):
        packets = [
            bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 5, 17, 40))))
            for _ in range(rng.randrange(0, 6))
        ]
        buf = b"".join(frame(p) for p in packets)
        buf = buf[: rng.randrange(len(buf) + 1)] if rng.random() < 0.5 else buf
        got = await node.call(address, "lua", "cut_both", buf, maxpacket)
        assert got["c"] == got["lua"], (buf, maxpacket)
        cases += 1
    assert cases == 300
