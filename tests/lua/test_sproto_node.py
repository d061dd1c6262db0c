"""sproto in services: schemas shared through the node's slots (sprotoloader),
an RPC server on TCP that a skynet-made client talks to, and bad input that
fails in the caller while the node goes on."""

from __future__ import annotations

import re
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

import skylet
from conftest import SERVICES, Lines, NodeFactory
from skylet._lua._sproto_accel import sproto_library
from sproto_support import CORES, VECTORS, bundle

RPC = {name: bytes.fromhex(h) for name, h in VECTORS["rpc"].items()}


def raw(value: Any) -> Any:
    """A Lua string as bytes (the node hands back valid UTF-8 as str)."""
    if isinstance(value, tuple):
        return tuple(raw(v) for v in value)
    return value.encode() if isinstance(value, str) else value


def sproto_config(**extra: Any) -> dict[str, Any]:
    services = SERVICES / "sproto"
    return {"luaservice": f"{services}/?.lua", "lua_path": f"{services}/?.lua", **extra}


@pytest.fixture(params=CORES)
async def node(
    node_with: NodeFactory, request: pytest.FixtureRequest
) -> AsyncIterator[skylet.Node]:
    async with node_with(**sproto_config(sproto_core=request.param)) as running:
        await running.newservice("protoloader")
        client = await running.newservice("client")
        assert await running.call(client, "lua", "core") == request.param
        yield running


async def test_a_schema_saved_by_one_service_loads_in_another(node: skylet.Node) -> None:
    client = await node.newservice("client")
    # slot 1 was registered from game.sproto: the same requests skynet's client makes
    assert raw(await node.call(client, "lua", "requests")) == (
        RPC["login_request"],
        RPC["move_request"],
    )
    assert (
        raw(await node.call(client, "lua", "push")) == b"\x05\x01\x04"
    )  # type 1: heartbeat of slot 2
    assert await node.call(client, "lua", "same_object") is True


async def test_a_slot_saved_again_is_seen_by_every_service(node: skylet.Node) -> None:
    one, two = await node.newservice("client"), await node.newservice("client")
    await node.call(one, "lua", "save", b"login 1 {}", 7)
    assert await node.call(two, "lua", "load", 7) is True
    await node.call(two, "lua", "save", b"logout 1 {}", 7)
    assert await node.call(one, "lua", "load", 7) is False


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("load", 5), "nil sproto at index 5"),
        (("load", 16), "Invalid global slot index 16"),
        (("load", -1), "Invalid global slot index -1"),
        (("save", b"a 1 {}", 16), "Invalid global slot index 16"),
        (("save", b".A { x 0 : nope }", 3), "Undefined type nope in type A at [=text] line (1)"),
        (("save_bytes", b"\x05\x00garbage", 3), "invalid sproto schema bundle: truncated"),
    ],
)
async def test_bad_slots_and_schemas_fail_in_the_caller(
    node: skylet.Node, args: tuple[Any, ...], error: str
) -> None:
    client = await node.newservice("client")
    with pytest.raises(skylet.CallError, match=re.escape(error)):
        await node.call(client, "lua", *args)
    # the service, and slot 1, are still there
    assert raw(await node.call(client, "lua", "requests"))[0] == RPC["login_request"]


async def test_bad_packets_fail_in_the_caller_and_the_server_goes_on(node: skylet.Node) -> None:
    server = await node.newservice("server")
    for packet, error in [
        (b"\xff", "Invalid unpack stream"),
        (b"\x01\x05", "decode error"),
        (b"\x11\x02\x00\x00", "decode error"),
    ]:
        with pytest.raises(skylet.CallError, match=error):
            await node.call(server, "lua", "dispatch", packet)
    assert (
        raw(await node.call(server, "lua", "dispatch", RPC["login_request"]))
        == RPC["login_response"]
    )


class Frames:
    """Reads the 2-byte-size framed packets of a connection."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.pending = b""

    async def next(self) -> bytes:
        while len(self.pending) < 2 or len(self.pending) < 2 + self.size():
            chunk = await self.stream.receive_some()
            assert chunk, "connection closed"
            self.pending += chunk
        size = self.size()
        packet, self.pending = self.pending[2 : 2 + size], self.pending[2 + size :]
        return packet

    def size(self) -> int:
        return int(struct.unpack(">H", self.pending[:2])[0])


def frame(packet: bytes) -> bytes:
    return struct.pack(">H", len(packet)) + packet


async def test_a_skynet_client_talks_to_a_skylet_server_over_tcp(
    node: skylet.Node, log: Lines
) -> None:
    # The packets are the ones skynet's sproto wrote; the answers must be the
    # bytes a skynet server writes, garbage on the way notwithstanding.
    server = await node.newservice("server")
    port = await node.call(server, "lua", "port")
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    frames = Frames(stream)
    async with stream:
        await stream.send_all(frame(RPC["login_request"]))
        assert await frames.next() == RPC["login_response"]
        await stream.send_all(frame(b"\xff\x07garbage") + frame(RPC["heartbeat_push"]))
        await stream.send_all(frame(RPC["move_request"]))
        assert await frames.next() == RPC["move_response"]
    assert log.matching("bad packet: Invalid unpack stream")


@pytest.mark.parametrize("name", ["game", "c2s", "s2c"])
def test_the_schema_files_are_the_ones_the_vectors_use(name: str) -> None:
    text = (SERVICES / "sproto" / f"{name}.sproto").read_text(encoding="utf-8")
    assert text == VECTORS["schemas"][name]["text"]
    assert bundle(name)  # and skynet parsed it


async def test_bad_sproto_setting_is_a_config_error(node_with: NodeFactory) -> None:
    error = "sproto_core must be one of auto, c, lua, not 'fast'"
    with pytest.raises(skylet.SkyletError, match=error):
        async with node_with(**sproto_config(sproto_core="fast")):
            pass  # pragma: no cover - the node does not start


async def test_the_c_core_is_the_default(node_with: NodeFactory, log: Lines) -> None:
    async with node_with(**sproto_config()) as running:
        client = await running.newservice("client")
        expected = "c" if sproto_library()[0] else "lua"
        assert await running.call(client, "lua", "core") == expected
    assert not log.matching("sproto:")


async def test_skynets_example_client_talks_to_agents_behind_the_gate(
    node: skylet.Node, log: Lines
) -> None:
    # skynet's examples/client.lua and agent.lua, as packets: what skynet's
    # client sends reaches the agent through the gate as "client" messages
    # (host:dispatch(msg, sz)); the agent's answers are skynet's bytes.
    watchdog = await node.newservice("example_watchdog")
    _, port = await node.call(watchdog, "lua", "start", {"address": "127.0.0.1", "port": 0})
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    frames = Frames(stream)
    async with stream:
        assert await frames.next() == RPC["example_heartbeat"]
        await stream.send_all(frame(RPC["example_handshake"]) + frame(RPC["example_set"]))
        assert await frames.next() == RPC["example_handshake_response"]
        assert await frames.next() == RPC["example_set_response"]
        await stream.send_all(frame(b"\xff\x03garbage") + frame(RPC["example_get"]))
        assert await frames.next() == RPC["example_get_response"]
    assert log.matching("Invalid unpack stream")
