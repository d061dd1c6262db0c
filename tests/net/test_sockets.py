"""skynet.socket over the node's socket server: real Lua services, real TCP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import resource
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import skylet
from skylet._net._tcp import RECV_SIZE

SERVICES = Path(__file__).parents[1] / "services" / "sockets"


def config(**extra: Any) -> dict[str, Any]:
    threads = int(os.environ.get("SKYLET_TEST_THREADS", "1"))  # as the core tests
    return {"thread": threads, "luaservice": f"{SERVICES}/?.lua", **extra}


@asynccontextmanager
async def running(**extra: Any) -> AsyncIterator[Any]:
    """A node on the test services; its log lines are in ``node.test_log``."""
    lines: list[str] = []
    async with skylet.open_node(config(**extra), log=lines.append) as node:
        node.test_log = lines  # type: ignore[attr-defined]
        yield node


@pytest.fixture
async def node() -> AsyncIterator[Any]:
    async with running() as node:
        yield node


async def lab(node: Any, behaviour: str) -> tuple[int, int]:
    addr = await node.newservice("lab")
    port = await node.call(addr, "lua", "listen", behaviour)
    return addr, port


_clients: list[trio.SocketStream] = []


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while _clients:
        await _clients.pop().aclose()


async def connect(port: int) -> trio.SocketStream:
    """A client connection, closed at the end of the test if still open."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    _clients.append(stream)
    return stream


async def receive_exactly(stream: trio.SocketStream, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = await stream.receive_some(n - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


async def receive_all(stream: trio.SocketStream) -> bytes:
    data = bytearray()
    while chunk := await stream.receive_some(1 << 20):
        data += chunk
    return bytes(data)


async def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


# ----- echo -----


async def test_echo_server_answers_each_client(node: Any) -> None:
    echo = await node.newservice("echo")
    port = await node.call(echo, "lua", "port")
    stream = await connect(port)
    for message in (b"hello", b"x" * 100_000, b"bye"):
        await stream.send_all(message)
        assert await receive_exactly(stream, len(message)) == message
    await stream.aclose()
    assert await node.call(echo, "lua", "wait_served", 1) == 1


async def test_a_thousand_concurrent_connections_are_held_and_served(node: Any) -> None:
    count = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * count + 200  # both ends live in this process
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    echo = await node.newservice("echo")
    port = await node.call(echo, "lua", "port")
    streams: list[trio.SocketStream] = []

    async def open_one() -> None:
        streams.append(await trio.open_tcp_stream("127.0.0.1", port))

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(open_one)
    assert len(streams) == count
    stats = await node.call(echo, "lua", "served")
    assert stats == 0  # all held open

    async def exchange(i: int, stream: trio.SocketStream) -> None:
        message = f"client {i} ".encode() * (1 + i % 7)
        await stream.send_all(message)
        assert await receive_exactly(stream, len(message)) == message

    async with trio.open_nursery() as nursery:
        for i, stream in enumerate(streams):
            nursery.start_soon(exchange, i, stream)
    tcp = [s for s in await node.call(echo, "lua", "netstat") if s["type"] == "TCP"]
    assert len(tcp) == count
    for stream in streams:
        await stream.aclose()
    assert await node.call(echo, "lua", "wait_served", count) == count
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ----- reading -----


async def test_client_disconnect_in_the_middle_of_a_read(node: Any) -> None:
    addr, port = await lab(node, "read100")
    stream = await connect(port)
    await stream.send_all(b"0123456789")
    await stream.aclose()
    assert await node.call(addr, "lua", "result") == ("read100", False, "0123456789", True)


async def test_half_close_client_still_gets_the_answer(node: Any) -> None:
    addr, port = await lab(node, "upper")
    stream = await connect(port)
    await stream.send_all(b"hello ")
    await stream.send_all(b"world")
    await stream.send_eof()
    assert await receive_all(stream) == b"HELLO WORLD"
    assert await node.call(addr, "lua", "result") == ("upper", 11)


async def test_ten_megabyte_write_is_delivered_intact() -> None:
    async with running(socket_send_buffer_limit=32 * 1024 * 1024) as node:
        await ten_megabytes_round_trip(node)


async def ten_megabytes_round_trip(node: Any) -> None:
    addr, port = await lab(node, "bounce")
    payload = os.urandom(10 * 1024 * 1024)
    stream = await connect(port)
    async with trio.open_nursery() as nursery:
        received: list[bytes] = []

        async def reader() -> None:
            received.append(await receive_all(stream))

        nursery.start_soon(reader)
        await stream.send_all(payload)
        await stream.send_eof()
    assert len(received[0]) == len(payload)
    assert received[0] == payload
    name, size, ok, _ = await node.call(addr, "lua", "result")
    assert (name, size, ok) == ("bounce", len(payload), True)


async def test_readline_with_separators_split_across_packets(node: Any) -> None:
    addr, port = await lab(node, "crlf")
    stream = await connect(port)
    for piece in (b"ab", b"c\r", b"\nde\r\nfg", b"h\r", b"\n", b"tail"):
        await stream.send_all(piece)
        await trio.testing.wait_all_tasks_blocked(0.01)
    assert await receive_exactly(stream, 11) == b"cba\ned\nhgf\n"
    await stream.aclose()
    assert await node.call(addr, "lua", "result") == ("lines", 3, "tail")


async def test_a_close_while_another_coroutine_reads_wakes_the_reader(node: Any) -> None:
    addr, port = await lab(node, "closer")
    stream = await connect(port)
    assert await node.call(addr, "lua", "result") == ("reader", False, "")
    assert await node.call(addr, "lua", "result") == ("closed", True)
    assert await receive_all(stream) == b""


async def test_onclose_runs_when_the_client_goes(node: Any) -> None:
    addr, port = await lab(node, "watch")
    stream = await connect(port)
    _, sid = await node.call(addr, "lua", "result")
    await stream.aclose()
    assert await node.call(addr, "lua", "result") == ("onclose", sid)


# ----- handing a socket over -----


async def test_socket_handed_from_one_service_to_another(node: Any) -> None:
    first, port = await lab(node, "handoff")
    second = await node.newservice("lab")
    await node.call(first, "lua", "owner", second)
    stream = await connect(port)
    await stream.send_all(b"hello\n")
    assert await receive_exactly(stream, 8) == b"A:hello\n"
    _, sid, invalid = await node.call(first, "lua", "result")
    assert invalid is True
    assert await node.call(second, "lua", "result") == ("took", sid, None)
    info = await node.call(second, "lua", "stat", sid)
    assert info["address"] == second
    await stream.send_all(b"world\n")
    assert await receive_all(stream) == b"B:world\n"


async def test_starting_an_unknown_id_fails_cleanly(node: Any) -> None:
    addr = await node.newservice("lab")
    node.send(addr, "lua", "take", 424242)
    ok, err = (await node.call(addr, "lua", "result"))[1:]
    assert ok is None
    assert err == "invalid socket id 424242"


# ----- errors -----


async def test_listening_on_a_taken_port_raises_in_the_caller(node: Any) -> None:
    addr, port = await lab(node, "read100")
    with pytest.raises(skylet.CallError, match=rf"listen 127.0.0.1:{port} failed: .*in use"):
        await node.call(addr, "lua", "listen_at", "127.0.0.1", port)
    # the first listener is unaffected
    stream = await connect(port)
    await stream.send_all(b"x" * 100)
    assert (await node.call(addr, "lua", "result"))[1] == "x" * 100


async def test_connecting_to_a_closed_port_returns_an_error(node: Any) -> None:
    addr = await node.newservice("lab")
    port = await closed_port()
    result = await node.call(addr, "lua", "open", "127.0.0.1", port)
    assert result[0] is None
    assert result[1] == f"connect 127.0.0.1:{port} failed: Connection refused"


async def test_lua_tcp_client_talks_to_a_python_server(node: Any) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        line = b""
        while not line.endswith(b"\n"):
            line += await stream.receive_some(100)
        await stream.send_all(b"got:" + line)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        addr = await node.newservice("lab")
        assert await node.call(addr, "lua", "client", "127.0.0.1", port, "hi\n") == "got:hi"
        assert await node.call(addr, "lua", "client", f"127.0.0.1:{port}", None, "yo\n") == "got:yo"
        nursery.cancel_scope.cancel()


# ----- backpressure -----


async def test_a_service_that_does_not_read_holds_at_most_a_window() -> None:
    async with running(socket_read_buffer_limit=64 * 1024) as node:
        await hold_without_reading(node)


async def hold_without_reading(node: Any) -> None:
    addr, port = await lab(node, "hold")
    stream = await connect(port)
    total = 16 * 1024 * 1024
    sent = 0

    async def sender() -> None:
        nonlocal sent
        chunk = b"y" * 65536
        for _ in range(total // len(chunk)):
            await stream.send_all(chunk)
            sent += len(chunk)
        await stream.send_eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        _, sid = await node.call(addr, "lua", "result")
        await trio.testing.wait_all_tasks_blocked(0.05)
        info = await node.call(addr, "lua", "stat", sid)
        assert info["rbuffer"] <= 64 * 1024 + RECV_SIZE
        assert info["read"] == info["rbuffer"]
        assert sent < total  # the client is blocked: the node stopped reading
        drained = await node.call(addr, "lua", "drain", sid)
    assert drained == total == sent


async def test_reads_and_lines_longer_than_the_window_still_complete() -> None:
    async with running(socket_read_buffer_limit=16 * 1024) as node:
        addr, port = await lab(node, "bigread")
        stream = await connect(port)
        await stream.send_all(b"abc" + b"." * (1024 * 1024 - 3))
        await stream.send_all(b"-" * 300_000 + b"\n")
        assert await node.call(addr, "lua", "result") == (
            "bigread",
            1024 * 1024,
            "abc",
            "-" * 300_000,
        )


async def test_send_buffer_past_the_limit_closes_only_that_connection() -> None:
    async with running(socket_send_buffer_limit=2 * 1024 * 1024) as node:
        await flood_one_of_two(node)


async def flood_one_of_two(node: Any) -> None:
    echo = await node.newservice("echo")
    echo_port = await node.call(echo, "lua", "port")
    bystander = await connect(echo_port)
    await bystander.send_all(b"before")
    assert await receive_exactly(bystander, 6) == b"before"

    addr, port = await lab(node, "flood")
    sluggish = await connect(port)  # never reads
    name, writes, most, still_open, disconnected = await node.call(addr, "lua", "result")
    assert name == "flood"
    assert writes > 0
    assert 1024 * 1024 <= most <= 2 * 1024 * 1024
    assert still_open is False and disconnected is True
    log = "\n".join(node.test_log)
    assert "exceed socket_send_buffer_limit (2097152); closing it" in log
    assert re.search(r"WARNING: 10\d\d K bytes need to send out \(fd = \d+\)", log)

    await bystander.send_all(b"after")
    assert await receive_exactly(bystander, 5) == b"after"
    await bystander.aclose()
    await sluggish.aclose()


async def test_normal_writes_overtake_queued_low_priority_writes() -> None:
    async with running(socket_send_buffer_limit=64 * 1024 * 1024) as node:
        addr, port = await lab(node, "priority")
        stream = await connect(port)
        _, queued = await node.call(addr, "lua", "result")
        assert queued > 0  # the kernel did not take it all: the rest waits in the node
        data = await receive_all(stream)
    assert len(data) == 20 * 1024 * 1024 + 7
    assert data.endswith(b"aHIGHLOW")


async def test_a_low_priority_write_begun_finishes_before_a_normal_one() -> None:
    # the kernel took the start of the lwrite at once: "HIGH" must not land
    # inside it (it did: the cluster's multi-part messages broke on it)
    async with running(socket_send_buffer_limit=64 * 1024 * 1024) as node:
        addr, port = await lab(node, "lowbegun")
        stream = await connect(port)
        _, queued = await node.call(addr, "lua", "result")
        assert 0 < queued < 20 * 1024 * 1024  # begun, not finished
        data = await receive_all(stream)
    assert len(data) == 20 * 1024 * 1024 + 4
    assert data.endswith(b"aHIGH")


async def test_socket_limit_closes_a_connection_buffering_too_much_unread(node: Any) -> None:
    addr, port = await lab(node, "limited")
    stream = await connect(port)
    await node.call(addr, "lua", "result")
    await stream.send_all(b"z" * 2000)
    assert await receive_all(stream) == b""
    assert any("socket buffer overflow: fd=" in line for line in node.test_log)


async def test_netstat_reports_owner_traffic_and_pending_writes(node: Any) -> None:
    echo = await node.newservice("echo")
    port = await node.call(echo, "lua", "port")
    stream = await connect(port)
    await stream.send_all(b"12345")
    await receive_exactly(stream, 5)
    stats = await node.call(echo, "lua", "netstat")
    listen = [s for s in stats if s["type"] == "LISTEN"]
    tcp = [s for s in stats if s["type"] == "TCP"]
    assert listen[0]["address"] == echo and listen[0]["sock"] == f"127.0.0.1:{port}"
    assert listen[0]["accept"] == 1
    (conn,) = tcp
    assert conn["address"] == echo
    assert (conn["read"], conn["write"], conn["wbuffer"]) == (5, 5, 0)
    assert conn["peer"] == f"127.0.0.1:{stream.socket.getsockname()[1]}"
    assert conn["reading"] is True
    await stream.aclose()


async def test_an_exiting_owner_closes_its_sockets(node: Any) -> None:
    addr, port = await lab(node, "hold")
    stream = await connect(port)
    await node.call(addr, "lua", "result")
    node.send(addr, "lua", "exit")
    assert await receive_all(stream) == b""
    other = await node.newservice("lab")
    assert not await node.call(other, "lua", "netstat")  # an empty Lua table


async def test_sockets_of_an_owner_retired_on_another_thread_are_closed(node: Any) -> None:
    addr, port = await lab(node, "hold")
    stream = await connect(port)
    await node.call(addr, "lua", "result")
    await trio.to_thread.run_sync(node.sockets.release, addr)
    assert await receive_all(stream) == b""


async def test_requests_from_another_thread_hop_onto_trio(node: Any) -> None:
    echo = await node.newservice("echo")
    service = node.registry.services[echo]
    packed = await trio.to_thread.run_sync(node.sockets.request, service, b"info", ())
    (listener,) = skylet._core._pack.unpack(packed)[0]
    assert listener["type"] == "LISTEN"


async def test_writes_from_another_thread_are_queued_in_order(node: Any) -> None:
    addr, port = await lab(node, "hold")
    stream = await connect(port)
    _, sid = await node.call(addr, "lua", "result")
    service = node.registry.services[addr]

    def from_a_worker() -> list[Any]:
        answers = [node.sockets.request(service, b"send", (sid, b"%d," % i)) for i in range(100)]
        answers.append(node.sockets.request(service, b"close", (sid,)))
        answers.append(node.sockets.request(service, b"send", (sid, b"late")))
        return answers

    answers = await trio.to_thread.run_sync(from_a_worker)
    assert answers[:100] == [True] * 100
    assert answers[100] is None
    expected = b"".join(b"%d," % i for i in range(100))
    assert await receive_all(stream) == expected  # in order, and nothing after the close


async def test_bad_socket_limits_in_config_are_one_line_errors() -> None:
    with pytest.raises(skylet.ConfigError, match="socket_send_buffer_limit must be a positive"):
        skylet.Node(config(socket_send_buffer_limit="lots"))
