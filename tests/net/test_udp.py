"""skynet.socket's UDP and socket.resolve: real Lua services, real datagrams on loopback."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "udp"
SKYNET_ROOT = os.environ.get("SKYNET_ROOT", "/tmp/skynet")


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def lab() -> AsyncIterator[tuple[Any, int, list[str]]]:
    lines: list[str] = []
    threads = int(os.environ.get("SKYLET_TEST_THREADS", "1"))
    async with skylet.open_node(
        {"thread": threads, "luaservice": f"{SERVICES}/?.lua"}, log=lines.append
    ) as node:
        yield node, await node.newservice("udplab"), lines


def blob(host: str, port: int) -> bytes:
    """skynet's udp address of host:port: protocol byte, port, address (from the format)."""
    if ":" in host:
        return b"\x02" + struct.pack(">H", port) + socket.inet_pton(socket.AF_INET6, host)
    return b"\x01" + struct.pack(">H", port) + socket.inet_pton(socket.AF_INET, host)


async def test_a_bound_udp_socket_answers_each_sender_through_sendto(lab: Any) -> None:
    node, svc, _ = lab
    port = free_port()
    await node.call(svc, "lua", "echo_server", "127.0.0.1", port)
    client = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await client.bind(("127.0.0.1", 0))
    mine = client.getsockname()[1]
    with client:
        for i in range(20):
            await client.sendto(b"hello %d" % i, ("127.0.0.1", port))
            data, sender = await client.recvfrom(100)
            assert data == b"OK hello %d" % i
            assert sender == ("127.0.0.1", port)
    got = await node.call(svc, "lua", "received", 20)
    assert [r[1] for r in got] == [f"hello {i}" for i in range(20)]
    assert {(r[0], r[2], r[3]) for r in got} == {("server", "127.0.0.1", mine)}


async def test_udp_connect_sets_where_write_goes_and_answers_reach_the_callback(lab: Any) -> None:
    node, svc, _ = lab
    server = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    with server:
        await node.call(svc, "lua", "connect_and_write", "127.0.0.1", port, "a", "bb", "")
        seen = []
        for _ in range(3):
            data, sender = await server.recvfrom(100)
            seen.append(data)
            await server.sendto(b"re:" + data, sender)
    assert seen == [b"a", b"bb", b""]
    got = await node.call(svc, "lua", "received", 3)
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [
        ("client", "re:" + d.decode(), "127.0.0.1", port) for d in seen
    ]


async def test_lua_to_lua_v4_as_skynets_testudp(lab: Any) -> None:
    node, svc, _ = lab
    port = free_port()
    await node.call(svc, "lua", "echo_server", "127.0.0.1", port)
    messages = [f"m{i}" for i in range(50)]
    await node.call(svc, "lua", "connect_and_write", "127.0.0.1", port, *messages)
    got = await node.call(svc, "lua", "received", 100)
    server = sorted(r[1] for r in got if r[0] == "server")
    client = sorted(r[1] for r in got if r[0] == "client")
    assert server == sorted(f"m{i}" for i in range(50))
    assert client == sorted(f"OK m{i}" for i in range(50))


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback")
async def test_lua_to_lua_v6_with_udp_listen_and_udp_dial(lab: Any) -> None:
    node, svc, _ = lab
    port = free_port(socket.AF_INET6, "::1")
    await node.call(svc, "lua", "echo_server", "::1", port, True)
    await node.call(svc, "lua", "dial_and_write", "::1", port, "x", "y")
    got = await node.call(svc, "lua", "received", 4)
    assert sorted((r[0], r[1], r[2]) for r in got) == [
        ("client", "OK x", "::1"),
        ("client", "OK y", "::1"),
        ("server", "x", "::1"),
        ("server", "y", "::1"),
    ]
    assert {r[3] for r in got if r[0] == "client"} == {port}


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "255.1.0.9",
        "::1",
        "::",
        "2001:db8::1:0:0:1",
        "2001:0:1:1:1:1:1:1",
        "1::",
        "fe80::abcd:0:0:0:1",
        "::ffff:10.1.2.3",
        "::1.2.3.4",
        "1:2:3:4:5:6:7:8",
    ],
)
async def test_udp_address_reads_skynets_blob_as_inet_ntop_does(lab: Any, host: str) -> None:
    node, svc, _ = lab
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    expected = socket.inet_ntop(family, socket.inet_pton(family, host))
    assert await node.call(svc, "lua", "address", blob(host, 40001)) == (expected, 40001)


async def test_sendto_an_address_built_from_the_format(lab: Any) -> None:
    node, svc, _ = lab
    sink = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    with sink:
        sid = await node.call(svc, "lua", "echo_server", "127.0.0.1", free_port())
        assert await node.call(svc, "lua", "sendto", sid, blob("127.0.0.1", port), "direct") is True
        assert (await sink.recvfrom(100))[0] == b"direct"


async def test_bad_udp_input_raises_clear_errors_and_the_node_goes_on(lab: Any) -> None:
    node, svc, _ = lab
    sid = await node.call(svc, "lua", "echo_server", "127.0.0.1", free_port())

    async def fails(name: str, *args: Any) -> str:
        ok, err = await node.call(svc, "lua", "try", name, *args)
        assert ok is False
        return str(err)

    assert "Invalid udp address" in await fails("sendto", sid, "garbage", "x")
    assert "Invalid udp address" in await fails("sendto", sid, b"\x03" + bytes(6), "x")
    assert "Invalid udp address" in await fails("udp_address", "1234")
    assert "Invalid udp address" in await fails("udp_address", b"\x02" + bytes(6))
    assert "protocol mismatch" in await fails("udp_connect", sid, "::1", 53)
    assert "udp_listen needs a port" in await fails("udp_listen", "127.0.0.1", 0)
    assert "udp 999.1.1.1:5 failed" in await fails("udp", None, "999.1.1.1", 5)
    assert "udp_dial no.such.host.invalid:53 failed" in await fails(
        "udp_dial", "no.such.host.invalid", 53
    )
    assert "not a UDP socket" in await fails("udp_connect", 987654, "127.0.0.1", 53)
    # To the other family: dropped, as skynet does.
    assert await node.call(svc, "lua", "sendto", sid, blob("::1", 9), "x") is False
    # the service and the socket still work
    client = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with client:
        port = await node.call(svc, "lua", "echo_server", "127.0.0.1", free_port())
        assert port
        stat = dict(await node.call(svc, "lua", "netstat"))
        assert stat[sid] == "UDP"


async def test_close_releases_the_udp_socket(lab: Any) -> None:
    node, svc, _ = lab
    port = free_port()
    sid = await node.call(svc, "lua", "echo_server", "127.0.0.1", port)
    assert dict(await node.call(svc, "lua", "netstat"))[sid] == "UDP"
    assert await node.call(svc, "lua", "close", sid) is True
    assert sid not in dict(await node.call(svc, "lua", "netstat"))
    # the port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


async def test_a_services_udp_sockets_close_when_it_exits(lab: Any) -> None:
    node, svc, _ = lab
    port = free_port()
    await node.call(svc, "lua", "echo_server", "127.0.0.1", port)
    other = await node.newservice("udplab")
    node.send(svc, "lua", "exit")
    with trio.fail_after(5):
        while True:
            stat = await node.call(other, "lua", "netstat")
            if not any(s[1] == "UDP" for s in stat):
                break
            await trio.sleep(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # the port is free again


async def test_resolve_lists_a_names_addresses_and_fails_clearly(lab: Any) -> None:
    node, svc, _ = lab
    ok, addresses = await node.call(svc, "lua", "resolve", "localhost")
    assert ok is True
    expected = {a[4][0] for a in socket.getaddrinfo("localhost", None)}
    assert set(addresses.values() if isinstance(addresses, dict) else addresses) == expected
    ok, err = await node.call(svc, "lua", "resolve", "no-such-host.invalid")
    assert ok is False
    assert "resolve no-such-host.invalid:" in err


skynet_test = Path(SKYNET_ROOT) / "test"


@pytest.mark.skipif(not (skynet_test / "testudp.lua").exists(), reason="no skynet checkout")
async def test_skynets_testudp_runs_unchanged() -> None:
    printed: list[str] = []
    async with skylet.open_node(
        {"luaservice": f"{skynet_test}/?.lua"}, log=printed.append, stdout=printed.append
    ) as node:
        await node.newservice("testudp")
        with trio.fail_after(5):
            while sum("recv" in line for line in printed) < 80:
                await trio.sleep(0.01)
    text = "\n".join(printed)
    for tag in ("server v4 recv", "client v4 recv"):
        assert text.count(tag) == 20
    if has_ipv6():
        assert text.count("server_v6 recv") == 20
        assert text.count("client recv v6 response") == 20
