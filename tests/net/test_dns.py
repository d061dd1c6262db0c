"""skynet.dns against a tiny DNS responder on 127.0.0.1 (RFC 1035 messages built here).

The responder answers by the name asked; some names get lies: garbage, the
wrong id, another question, a truncated record, a compression loop, the TC
flag, an error code, or nothing at all.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import skylet

#: Worker threads (SKYLET_TEST_THREADS, as the core tests); virtual-time tests run on 1.
THREADS = int(os.environ.get("SKYLET_TEST_THREADS", "1"))
SERVICES = Path(__file__).parents[1] / "services" / "udp"
SKYNET_ROOT = os.environ.get("SKYNET_ROOT", "/tmp/skynet")

A, CNAME, AAAA = 1, 5, 28


def encode_name(name: str) -> bytes:
    return b"".join(bytes((len(p),)) + p.encode() for p in name.split(".") if p) + b"\0"


def parse_query(msg: bytes) -> tuple[int, str, int, bytes]:
    """(id, name, qtype, question section) of a query."""
    (qid,) = struct.unpack_from(">H", msg)
    pos, labels = 12, []
    while msg[pos]:
        labels.append(msg[pos + 1 : pos + 1 + msg[pos]].decode())
        pos += 1 + msg[pos]
    (qtype,) = struct.unpack_from(">H", msg, pos + 1)
    return qid, ".".join(labels), qtype, msg[12 : pos + 5]


def header(qid: int, ancount: int, rcode: int = 0, flags: int = 0x8180) -> bytes:
    return struct.pack(">HHHHHH", qid, flags | rcode, 1, ancount, 0, 0)


def record(name: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return name + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


POINTER_TO_QUESTION = b"\xc0\x0c"  # the question's name starts at offset 12


def answer(qid: int, question: bytes, qtype: int, addresses: list[str], ttl: int = 60) -> bytes:
    family = socket.AF_INET6 if qtype == AAAA else socket.AF_INET
    records = [
        record(POINTER_TO_QUESTION, qtype, socket.inet_pton(family, a), ttl) for a in addresses
    ]
    return header(qid, len(records)) + question + b"".join(records)


class Responder:
    """Answers each query by its name; ``asked`` counts the queries per name."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        self.asked: dict[str, int] = {}

    async def bind(self) -> int:
        await self.sock.bind((self.host, 0))
        port: int = self.sock.getsockname()[1]
        return port

    async def serve(self) -> None:
        while True:
            msg, peer = await self.sock.recvfrom(2048)
            qid, name, qtype, question = parse_query(msg)
            self.asked[name] = self.asked.get(name, 0) + 1
            for reply in self.replies(qid, name, qtype, question):
                await self.sock.sendto(reply, peer)

    def replies(self, qid: int, name: str, qtype: int, q: bytes) -> list[bytes]:
        six = qtype == AAAA
        good = answer(qid, q, qtype, ["2001:db8::1"] if six else ["10.0.0.1", "10.0.0.2"])
        evil = ["::6"] if six else ["6.6.6.6"]
        lies: dict[str, Callable[[], list[bytes]]] = {
            "good.test": lambda: [good],
            "github.com": lambda: [good],
            "stackoverflow.com": lambda: [good],
            "lua.com": lambda: [good],
            "short-ttl.test": lambda: [answer(qid, q, qtype, evil if six else ["10.9.9.9"], ttl=1)],
            # lies first, then the truth: only the truth may be taken
            "liar.test": lambda: [
                b"\x00\x01garbage",
                b"\xff" * 40,
                answer(qid ^ 0x5555, q, qtype, evil),
                answer(qid, encode_name("evil.test") + q[-4:], qtype, evil),
                answer(qid, q[:-4] + struct.pack(">HH", CNAME, 1), qtype, evil),
                good,
            ],
            "cname.test": lambda: [
                header(qid, 2)
                + q
                + record(POINTER_TO_QUESTION, CNAME, encode_name("real.test"))
                + record(encode_name("real.test"), A, socket.inet_aton("10.7.7.7"))
            ],
            "nx.test": lambda: [header(qid, 0, rcode=3) + q],
            "tc.test": lambda: [header(qid, 0, flags=0x8380) + q],
            "cut.test": lambda: [good[:-3]],
            # the record's name points at itself
            "loop.test": lambda: [
                header(qid, 1) + q + record(struct.pack(">H", 0xC00C + len(q)), A, b"\1\2\3\4")
            ],
            "badlen.test": lambda: [header(qid, 1) + q + record(POINTER_TO_QUESTION, A, b"\1\2\3")],
            "empty.test": lambda: [header(qid, 0) + q],
            "silent.test": lambda: [],
        }
        return lies.get(name, lambda: [header(qid, 0, rcode=3) + q])()


@pytest.fixture
async def dns_lab() -> AsyncIterator[tuple[Any, int, Responder, list[str]]]:
    responder = Responder()
    port = await responder.bind()
    lines: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(responder.serve)
        async with skylet.open_node(
            {"thread": THREADS, "luaservice": f"{SERVICES}/?.lua"}, log=lines.append
        ) as node:
            svc = await node.newservice("udplab")
            await node.call(svc, "lua", "dns_server", "127.0.0.1", port)
            yield node, svc, responder, lines
        nursery.cancel_scope.cancel()
        responder.sock.close()


async def resolve(node: Any, svc: int, name: str, ipv6: bool = False) -> Any:
    return await node.call(svc, "lua", "dns", name, ipv6)


async def test_a_and_aaaa_answers(dns_lab: Any) -> None:
    node, svc, _, _ = dns_lab
    ok, first, every = await resolve(node, svc, "good.test")
    assert (ok, first, list(every)) == (True, "10.0.0.1", ["10.0.0.1", "10.0.0.2"])
    ok, first, every = await resolve(node, svc, "Good.Test", True)
    assert (ok, first) == (True, "2001:db8:0:0:0:0:0:1")  # skynet writes AAAA uncompressed


async def test_answers_are_cached_for_their_ttl(autojump_clock: Any, dns_lab: Any) -> None:
    node, svc, responder, _ = dns_lab
    for _ in range(3):
        assert (await resolve(node, svc, "good.test"))[1] == "10.0.0.1"
    assert responder.asked["good.test"] == 1
    assert (await resolve(node, svc, "short-ttl.test"))[1] == "10.9.9.9"
    await trio.sleep(2)
    assert (await resolve(node, svc, "short-ttl.test"))[1] == "10.9.9.9"
    assert responder.asked["short-ttl.test"] == 2
    await node.call(svc, "lua", "dns_flush")
    await resolve(node, svc, "good.test")
    assert responder.asked["good.test"] == 2


async def test_cname_chains_give_the_address_records(dns_lab: Any) -> None:
    node, svc, _, _ = dns_lab
    assert await resolve(node, svc, "cname.test") == (True, "10.7.7.7", ["10.7.7.7"])


async def test_lies_before_the_answer_are_dropped_and_logged(dns_lab: Any) -> None:
    node, svc, _, lines = dns_lab
    ok, first, _ = await resolve(node, svc, "liar.test")
    assert (ok, first) == (True, "10.0.0.1")
    text = "\n".join(lines)
    assert "dns: dropped a 9-byte packet (not a DNS message)" in text
    assert "dns: dropped an answer for no query in flight" in text
    assert "to another question (evil.test, type 1)" in text
    assert "to another question (liar.test, type 5)" in text


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("nx.test", "dns: nx.test: no such name (NXDOMAIN)"),
        ("tc.test", "dns: tc.test: truncated answer (TC)"),
        ("cut.test", "dns: cut.test: malformed answer: "),
        ("loop.test", "dns: loop.test: malformed answer: name compression loop"),
        ("badlen.test", "dns: badlen.test: malformed answer: A record of 3 bytes"),
        ("empty.test", "dns: empty.test: no A record"),
    ],
)
async def test_bad_answers_fail_the_query_clearly_and_the_node_goes_on(
    dns_lab: Any, name: str, error: str
) -> None:
    node, svc, _, _ = dns_lab
    ok, err = await resolve(node, svc, name)
    assert ok is False
    assert err.startswith(error)
    assert (await resolve(node, svc, "good.test"))[:2] == (True, "10.0.0.1")


async def test_no_answer_times_out(autojump_clock: Any, dns_lab: Any) -> None:
    node, svc, _, _ = dns_lab
    start = trio.current_time()
    assert await resolve(node, svc, "silent.test") == (False, "dns: silent.test: timeout")
    assert 30 <= trio.current_time() - start < 31
    assert (await resolve(node, svc, "good.test"))[:2] == (True, "10.0.0.1")


async def test_addresses_and_bad_names_are_not_asked(dns_lab: Any) -> None:
    node, svc, responder, _ = dns_lab
    assert await resolve(node, svc, "10.1.2.3") == (True, "10.1.2.3")
    assert await resolve(node, svc, "::1", True) == (True, "::1")
    assert await resolve(node, svc, "bad name!") == (True, None, "illegal name")
    assert await resolve(node, svc, "x" * 64 + ".test") == (True, None, "illegal name")
    assert responder.asked == {}


async def test_concurrent_queries_get_their_own_answers(dns_lab: Any) -> None:
    node, svc, _, _ = dns_lab
    results: dict[str, Any] = {}

    async def one(name: str, ipv6: bool) -> None:
        results[f"{name}/{ipv6}"] = await resolve(node, svc, name, ipv6)

    async with trio.open_nursery() as nursery:
        for name in ("good.test", "cname.test", "nx.test", "liar.test"):
            for ipv6 in (False, True):
                nursery.start_soon(one, name, ipv6)
    assert results["good.test/False"][1] == "10.0.0.1"
    assert results["good.test/True"][1] == "2001:db8:0:0:0:0:0:1"
    assert results["cname.test/False"][1] == "10.7.7.7"
    assert results["cname.test/True"] == (False, "dns: cname.test: no AAAA record")
    assert results["nx.test/True"][0] is False
    assert results["liar.test/True"][1] == "2001:db8:0:0:0:0:0:1"


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback")
async def test_a_server_on_ipv6() -> None:
    responder = Responder("::1")
    port = await responder.bind()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(responder.serve)
        async with skylet.open_node({"thread": THREADS, "luaservice": f"{SERVICES}/?.lua"}) as node:
            svc = await node.newservice("udplab")
            await node.call(svc, "lua", "dns_server", "::1", port)
            assert (await resolve(node, svc, "good.test"))[:2] == (True, "10.0.0.1")
        nursery.cancel_scope.cancel()
    responder.sock.close()


skynet_test = Path(SKYNET_ROOT) / "test"


@pytest.mark.skipif(not (skynet_test / "testdns.lua").exists(), reason="no skynet checkout")
async def test_skynets_testdns_runs_unchanged_against_the_responder(autojump_clock: Any) -> None:
    responder = Responder()
    port = await responder.bind()
    printed: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(responder.serve)
        config = {"luaservice": f"{skynet_test}/?.lua", "dns_server": f"127.0.0.1:{port}"}
        async with skylet.open_node(config, log=printed.append, stdout=printed.append) as node:
            await node.newservice("testdns")
            await trio.sleep(20)
        nursery.cancel_scope.cancel()
    responder.sock.close()
    for name in ("github.com", "stackoverflow.com", "lua.com"):
        assert f"{name}\t10.0.0.1" in printed
        assert f"{name}\t10.0.0.2" in printed
