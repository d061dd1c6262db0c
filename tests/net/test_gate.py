"""The gate service: skynet's 2-byte framing, watchdog and agents, real TCP on 127.0.0.1."""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "sockets"


def frame(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


class Client:
    """A test client speaking the gate's framing."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.pending = b""

    async def send(self, *payloads: bytes) -> None:
        await self.stream.send_all(b"".join(frame(p) for p in payloads))

    async def _fill(self, n: int) -> None:
        while len(self.pending) < n:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(f"closed with {len(self.pending)} bytes pending")
            self.pending += chunk

    async def receive(self) -> bytes:
        await self._fill(2)
        (size,) = struct.unpack(">H", self.pending[:2])
        await self._fill(2 + size)
        packet, self.pending = self.pending[2 : 2 + size], self.pending[2 + size :]
        return packet

    async def closed(self) -> bool:
        """True once the gate closed the connection (EOF or reset)."""
        try:
            return await self.stream.receive_some(65536) == b""
        except trio.BrokenResourceError:
            return True


_clients: list[Client] = []


async def connect(port: int) -> Client:
    client = Client(await trio.open_tcp_stream("127.0.0.1", port))
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while _clients:
        await _clients.pop().stream.aclose()


Gate = tuple[Any, int, int, list[str]]  # node, watchdog, port, log lines


@asynccontextmanager
async def gate_node(mode: str = "agent", **conf: Any) -> AsyncIterator[Gate]:
    """A node with a gate_watchdog (which launched the gate) listening on 127.0.0.1."""
    lines: list[str] = []
    threads = int(os.environ.get("SKYLET_TEST_THREADS", "1"))  # as the core tests
    config = {"thread": threads, "luaservice": f"{SERVICES}/?.lua"}
    async with skylet.open_node(config, log=lines.append) as node:
        watchdog = await node.newservice("gate_watchdog", mode)
        address, port = await node.call(
            watchdog, "lua", "start", {"address": "127.0.0.1", "port": 0, **conf}
        )
        assert address == "127.0.0.1" and port > 0
        yield node, watchdog, port, lines


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    async with gate_node() as started:
        yield started


async def test_packets_reach_the_agent_and_come_back(gate: Any) -> None:
    node, watchdog, port, _ = gate
    client = await connect(port)
    _, fd = await node.call(watchdog, "lua", "event")
    await client.send(b"hello", b"world")
    assert await client.receive() == b"hello"
    assert await client.receive() == b"world"
    big = bytes(range(256)) * 255  # 65,280 bytes: near the largest packet
    await client.send(big)
    assert await client.receive() == big
    assert await node.call(watchdog, "lua", "agents") == 1
    assert fd > 0


async def test_more_than_a_read_window_flows_through(gate: Any) -> None:
    # netpack consumes everything it is given, so it gives the node its read
    # credit back; without that the connection would stall at 256 KiB.
    node, watchdog, port, _ = gate
    client = await connect(port)
    await node.call(watchdog, "lua", "event")
    packets = [bytes([i % 256]) * 60000 for i in range(20)]  # 1.2 MB

    async def receive_all() -> None:
        for packet in packets:
            assert await client.receive() == packet

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_all)
            await client.send(*packets)


async def test_a_blocking_handler_does_not_hold_up_or_break_framing() -> None:
    # One read brings "slow" (the handler sleeps), "a" and half of "b"; the
    # next read the other half. The packets after "slow" are dispatched
    # meanwhile, and "b" is put together from both reads.
    config = {"luaservice": f"{SERVICES}/?.lua"}
    async with skylet.open_node(config) as node:
        gate = await node.newservice("slow_gate")
        port = await node.call(gate, "lua", "open", {"address": "127.0.0.1", "port": 0})
        client = await connect(port)
        data = frame(b"slow") + frame(b"a") + frame(b"bbbb")
        await client.stream.send_all(data[:-2])
        await trio.testing.wait_all_tasks_blocked(0.01)
        await client.stream.send_all(data[-2:])
        with trio.fail_after(5):
            got = [await client.receive() for _ in range(3)]
        assert got == [b"a", b"bbbb", b"slow"]


async def test_a_packet_split_across_writes_is_reassembled(gate: Any) -> None:
    node, watchdog, port, _ = gate
    client = await connect(port)
    await node.call(watchdog, "lua", "event")
    data = frame(b"split") + frame(b"in pieces")
    for i in range(len(data)):
        await client.stream.send_all(data[i : i + 1])
        await trio.testing.wait_all_tasks_blocked(0.001)
    assert await client.receive() == b"split"
    assert await client.receive() == b"in pieces"


async def test_bad_header_closes_only_that_connection(gate: Any) -> None:
    node, watchdog, port, lines = gate
    good = await connect(port)
    _, good_fd = await node.call(watchdog, "lua", "event")
    bad = await connect(port)
    _, bad_fd = await node.call(watchdog, "lua", "event")
    await good.send(b"one")
    assert await good.receive() == b"one"

    await bad.stream.send_all(b"\x00\x00garbage")  # length 0 is not a packet
    assert await bad.closed()
    assert await node.call(watchdog, "lua", "event") == ("close", bad_fd)
    assert any(f"bad packet header from fd {bad_fd} (length 0" in line for line in lines)

    await good.send(b"two")
    assert await good.receive() == b"two"
    assert await node.call(watchdog, "lua", "agents") == 1
    assert good_fd != bad_fd


async def test_a_packet_longer_than_maxpacket_is_a_bad_header() -> None:
    async with gate_node(maxpacket=1024) as (node, watchdog, port, lines):
        client = await connect(port)
        _, fd = await node.call(watchdog, "lua", "event")
        await client.send(b"x" * 1024)
        assert await client.receive() == b"x" * 1024
        await client.stream.send_all(struct.pack(">H", 1025))
        assert await client.closed()
        assert await node.call(watchdog, "lua", "event") == ("close", fd)
        assert any("(length 1025, max 1024)" in line for line in lines)


async def test_kick_closes_the_client_and_retires_its_agent(gate: Any) -> None:
    node, watchdog, port, _ = gate
    client = await connect(port)
    _, fd = await node.call(watchdog, "lua", "event")
    await client.send(b"ping")
    assert await client.receive() == b"ping"
    await node.call(watchdog, "lua", "close", fd)
    assert await client.closed()
    assert await node.call(watchdog, "lua", "event") == ("close", fd)
    assert await node.call(watchdog, "lua", "agents") == 0


async def test_the_agent_can_ask_to_close_its_client(gate: Any) -> None:
    node, watchdog, port, _ = gate
    client = await connect(port)
    _, fd = await node.call(watchdog, "lua", "event")
    await client.send(b"quit")
    assert await client.closed()
    assert await node.call(watchdog, "lua", "event") == ("close", fd)


async def test_client_disconnect_reaches_the_watchdog(gate: Any) -> None:
    node, watchdog, port, _ = gate
    client = await connect(port)
    _, fd = await node.call(watchdog, "lua", "event")
    await client.send(b"hi")
    assert await client.receive() == b"hi"
    await client.stream.aclose()
    assert await node.call(watchdog, "lua", "event") == ("close", fd)
    assert await node.call(watchdog, "lua", "agents") == 0


async def test_accepted_without_agent_packets_go_to_the_watchdog() -> None:
    async with gate_node("accept") as (node, watchdog, port, _):
        client = await connect(port)
        _, fd = await node.call(watchdog, "lua", "event")
        await client.send(b"to the watchdog")
        assert await client.receive() == b"watchdog:to the watchdog"
        assert await node.call(watchdog, "lua", "event") == ("data", fd, "to the watchdog")


async def test_clients_beyond_maxclient_are_refused() -> None:
    async with gate_node(maxclient=2) as (node, watchdog, port, lines):
        first, second = await connect(port), await connect(port)
        for _ in range(2):
            assert (await node.call(watchdog, "lua", "event"))[0] == "open"
        third = await connect(port)
        assert await third.closed()
        assert any("2 clients already; refusing" in line for line in lines)
        await first.send(b"still here")
        assert await first.receive() == b"still here"
        await second.send(b"me too")
        assert await second.receive() == b"me too"


async def test_close_stops_listening(gate: Any) -> None:
    node, watchdog, port, _ = gate
    await node.call(watchdog, "lua", "stop")
    await trio.testing.wait_all_tasks_blocked(0.01)
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
