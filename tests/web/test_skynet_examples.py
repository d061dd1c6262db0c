"""skynet's examples/simpleweb.lua and examples/simplewebsocket.lua, unchanged,
on skylet (only with SKYNET_ROOT set to a skynet checkout: the files are
skynet's, not the project's). They listen on their own fixed ports, 8001
and 9948."""

from __future__ import annotations

import os

import httpx
import pytest
import trio

import skylet

SKYNET_ROOT = os.environ.get("SKYNET_ROOT")
pytestmark = pytest.mark.skipif(not SKYNET_ROOT, reason="no SKYNET_ROOT")


async def test_simpleweb_answers_with_the_request() -> None:
    config = {"luaservice": f"{SKYNET_ROOT}/examples/?.lua"}
    log: list[str] = []
    async with skylet.open_node(config, log=log.append) as node:
        await node.newservice("simpleweb")
        async with httpx.AsyncClient() as client:
            r = await client.post("http://127.0.0.1:8001/a/b?x=1", content=b"k=v")
    assert r.status_code == 200
    lines = r.text.split("\n")
    assert "path: /a/b" in lines and "query: x= 1" in lines
    assert lines[-2:] == ["-----body----", "k=v"]
    assert any("Listen web port 8001" in line for line in log)


async def test_simplewebsocket_echo_client_talks_to_its_server() -> None:
    config = {"luaservice": f"{SKYNET_ROOT}/examples/?.lua"}
    printed: list[str] = []
    async with (
        skylet.open_node(config, log=printed.append, stdout=printed.append) as node,
        trio.open_nursery() as nursery,
    ):
        # its start blocks on service.new, whose echo client never returns
        nursery.start_soon(node.newservice, "simplewebsocket")
        with trio.fail_after(10):
            while sum("<: hello world!" in p for p in printed) < 2:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert any("ws handshake from" in p for p in printed)
    assert any("ws ping from" in p for p in printed)
