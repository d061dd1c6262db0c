"""snax.loginserver and snax.msgserver: skynet's login flow over real TCP.

The services in tests/services/login follow skynet's examples/login (a login
server, a gate on msgserver, one agent per user); the client below speaks the
protocol from Python, as skynet's examples/login/client.lua does in Lua.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet
from skylet._libs import _crypt as crypt

SERVICES = Path(__file__).parents[1] / "services" / "login"


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


class Stream:
    """A TCP client with line and 2-byte-frame reads."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.pending = b""

    async def _fill(self, n: int) -> None:
        while len(self.pending) < n:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(f"closed with {self.pending!r} pending")
            self.pending += chunk

    async def readline(self) -> str:
        while b"\n" not in self.pending:
            await self._fill(len(self.pending) + 1)
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    async def writeline(self, text: str) -> None:
        await self.stream.send_all(text.encode() + b"\n")

    async def send_packet(self, payload: bytes) -> None:
        await self.stream.send_all(struct.pack(">H", len(payload)) + payload)

    async def read_packet(self) -> bytes:
        await self._fill(2)
        (size,) = struct.unpack(">H", self.pending[:2])
        await self._fill(2 + size)
        packet, self.pending = self.pending[2 : 2 + size], self.pending[2 + size :]
        return packet

    async def closed(self) -> bool:
        try:
            return await self.stream.receive_some(65536) == b""
        except trio.BrokenResourceError:
            return True

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class Login:
    node: skylet.Node
    logind: int
    gate: int
    login_port: int
    gate_port: int
    lines: list[str]
    streams: list[Stream]

    async def connect(self, port: int) -> Stream:
        stream = Stream(await trio.open_tcp_stream("127.0.0.1", port))
        self.streams.append(stream)
        return stream

    async def login(
        self, user: str, password: str = "password", server: str = "sample", hmac_ok: bool = True
    ) -> tuple[str, bytes]:
        """The login server's handshake; returns its answer line and the secret."""
        s = await self.connect(self.login_port)
        try:
            challenge = base64.b64decode(await s.readline())
            clientkey = crypt.randomkey()
            await s.writeline(b64(crypt.dhexchange(clientkey)))
            secret = crypt.dhsecret(base64.b64decode(await s.readline()), clientkey)
            hmac = crypt.hmac64(challenge, secret if hmac_ok else b"12345678")
            await s.writeline(b64(hmac))
            token = f"{b64(user)}@{b64(server)}:{b64(password)}".encode()
            await s.writeline(b64(crypt.desencode(secret, token)))
            return await s.readline(), secret
        finally:
            await s.aclose()

    async def handshake(
        self, user: str, subid: str, secret: bytes, index: int, server: str = "sample"
    ) -> tuple[Stream, bytes]:
        s = await self.connect(self.gate_port)
        text = f"{b64(user)}@{b64(server)}#{b64(subid)}:{index}"
        hmac = crypt.hmac64(crypt.hashkey(text.encode()), secret)
        await s.send_packet(f"{text}:{b64(hmac)}".encode())
        return s, await s.read_packet()


async def request(s: Stream, content: bytes, session: int) -> None:
    await s.send_packet(content + struct.pack(">I", session))


async def response(s: Stream) -> tuple[bytes, bool, int]:
    packet = await s.read_packet()
    ok, session = struct.unpack(">BI", packet[-5:])
    return packet[:-5], ok == 1, session


@pytest.fixture
async def login() -> AsyncIterator[Login]:
    lines: list[str] = []
    threads = int(os.environ.get("SKYLET_TEST_THREADS", "1"))  # as the core tests
    config = {"luaservice": f"{SERVICES}/?.lua", "thread": threads}
    async with skylet.open_node(config, log=lines.append, stdout=lines.append) as node:
        logind = await node.newservice("logind")
        gate = await node.newservice("gated", logind)
        conf = {"address": "127.0.0.1", "port": 0, "maxclient": 64, "servername": "sample"}
        gate_port = await node.call(gate, "lua", "open", conf)
        _, login_port = await node.call(logind, "lua", "address")
        started = Login(node, logind, gate, login_port, gate_port, lines, [])
        try:
            yield started
        finally:
            for stream in started.streams:
                await stream.aclose()


async def events(login: Login) -> list[Any]:
    return list(await login.node.call(login.logind, "lua", "events"))


async def test_the_sessions_of_skynets_login_example(login: Login) -> None:
    answer, secret = await login.login("hello")
    assert answer[:4] == "200 "
    subid = base64.b64decode(answer[4:]).decode()
    assert subid == "1" and await events(login) == ["login hello 1"]

    # First connection: a request whose answer the client does not wait for.
    s, ok = await login.handshake("hello", subid, secret, 1)
    assert ok == b"200 OK"
    await request(s, b"echo", 0)
    await s.aclose()

    # Reconnect: session 0 again is the same request, answered from the cache.
    s, ok = await login.handshake("hello", subid, secret, 2)
    assert ok == b"200 OK"
    await request(s, b"fake", 0)
    await request(s, b"again", 1)
    assert await response(s) == (b"echo", True, 0)
    assert await response(s) == (b"again", True, 1)

    await request(s, b"fail", 2)  # the agent raises: ok = 0, no content
    assert await response(s) == (b"", False, 2)
    await request(s, b"bye", 3)  # the agent logs the user out
    assert await response(s) == (b"bye hello", True, 3)
    assert await s.closed()
    with trio.fail_after(5):
        while await events(login) != ["login hello 1", "logout hello 1"]:
            await trio.sleep(0.01)


async def test_login_server_refusals(login: Login) -> None:
    answer, _ = await login.login("hello", password="wrong")
    assert answer == "401 Unauthorized"
    answer, _ = await login.login("hello", hmac_ok=False)  # the challenge fails
    assert answer == "401 Unauthorized"
    answer, _ = await login.login("hello", server="nowhere")  # login_handler raises
    assert answer == "403 Forbidden"
    # (The server logs after it answers: on a dispatcher thread at thread = N
    # the answer can arrive first.)
    with trio.fail_after(5):
        for text in ("Invalid password", "challenge failed", "Unknown server"):
            while not any(text in line for line in login.lines):
                await trio.sleep(0.01)
    answer, _ = await login.login("hello")  # the server went on
    assert answer.startswith("200 ")


async def test_a_second_login_while_the_first_runs_is_not_acceptable(login: Login) -> None:
    async with trio.open_nursery() as nursery:
        first: list[str] = []

        async def slow() -> None:
            first.append((await login.login("slow"))[0])

        nursery.start_soon(slow)
        with trio.fail_after(5):
            while not any(
                "slow is login" in line or "connect from" in line for line in login.lines
            ):
                await trio.sleep(0.01)
        await trio.sleep(0.05)
        assert (await login.login("slow"))[0] == "406 Not Acceptable"
    assert first[0].startswith("200 ")


async def test_a_second_login_kicks_the_first(login: Login) -> None:
    _, secret = await login.login("hello")
    s, ok = await login.handshake("hello", "1", secret, 1)
    assert ok == b"200 OK"
    answer2, secret2 = await login.login("hello")
    assert answer2 == "200 " + b64("2") and secret2 != secret
    assert await s.closed()  # kicked: the agent logged out, the gate closed it
    s2, ok = await login.handshake("hello", "2", secret2, 1)
    assert ok == b"200 OK"
    await request(s2, b"hi", 7)
    assert await response(s2) == (b"hi", True, 7)
    assert await events(login) == ["login hello 1", "logout hello 1", "login hello 2"]


async def test_msgserver_handshake_refusals(login: Login) -> None:
    _, secret = await login.login("hello")
    s, ok = await login.handshake("nobody", "1", secret, 1)
    assert ok == b"404 User Not Found" and await s.closed()
    s, ok = await login.handshake("hello", "1", b"87654321", 1)
    assert ok == b"401 Unauthorized" and await s.closed()
    s, ok = await login.handshake("hello", "1", secret, 1)
    assert ok == b"200 OK"
    await s.aclose()
    s, ok = await login.handshake("hello", "1", secret, 1)  # the same index again
    assert ok == b"403 Index Expired" and await s.closed()

    s = await login.connect(login.gate_port)
    username = f"{b64('hello')}@{b64('sample')}#{b64('1')}"
    await s.send_packet(f"{username}:two:AAAA".encode())
    assert await s.read_packet() == b"400 Bad Request" and await s.closed()

    s, ok = await login.handshake("hello", "1", secret, 5)  # the user still gets in
    assert ok == b"200 OK"
    await request(s, b"still here", 1)
    assert await response(s) == (b"still here", True, 1)


async def test_a_session_reused_while_it_runs_closes_the_connection(login: Login) -> None:
    _, secret = await login.login("hello")
    s, _ = await login.handshake("hello", "1", secret, 1)
    # As in skynet: while a request runs, the same session again is taken for
    # a resend (it will get the one answer); a third time is a conflict.
    await request(s, b"first", 9)
    await request(s, b"second", 9)
    await request(s, b"third", 9)
    with trio.fail_after(5):
        assert await s.closed()
    assert any("Conflict session 00000009" in line for line in login.lines)
    s, ok = await login.handshake("hello", "1", secret, 2)
    assert ok == b"200 OK"


async def test_a_client_that_hangs_up_mid_handshake_leaves_the_server_running(
    login: Login,
) -> None:
    s = await login.connect(login.login_port)
    await s.readline()
    await s.aclose()
    s = await login.connect(login.login_port)
    await s.readline()
    await s.writeline(b64("not 8 bytes"))
    assert await s.readline() == "401 Unauthorized"
    assert await s.closed()
    assert any("Invalid client key" in line for line in login.lines)
    assert (await login.login("hello"))[0].startswith("200 ")


async def test_an_oversize_handshake_line_closes_only_that_client(login: Login) -> None:
    s = await login.connect(login.login_port)
    await s.readline()
    await s.stream.send_all(b"A" * 20000)  # no newline: past the 8 KiB limit
    with trio.fail_after(5):
        assert await s.closed()
    assert (await login.login("hello"))[0].startswith("200 ")
