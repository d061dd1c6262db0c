"""Talking to a node's debug console from tests: raw TCP, and the skylet CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

import skylet
from skylet._tools import _cli


class Console:
    """A raw TCP client of the console, reading lines as a user's tool would."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def readline(self) -> str | None:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some(4096)
            if not data:
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    async def command(self, line: str) -> list[str]:
        await self.stream.send_all(line.encode() + b"\r\n")
        answer = []
        while True:
            got = await self.readline()
            assert got is not None, f"console closed during {line!r}: {answer}"
            answer.append(got)
            if got in ("<CMD OK>", "<CMD Error>"):
                return answer


async def console_port(node: skylet.Node) -> int:
    for address, line in (await node.call(".launcher", "lua", "LIST")).items():
        if line.split()[1] == "debug_console":
            host, port = await node.call(address, "lua", "address")
            assert host == "127.0.0.1"
            return int(port)
    raise AssertionError("no debug_console running")


@asynccontextmanager
async def connect(port: int) -> AsyncIterator[Console]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        console = Console(stream)
        assert await console.readline() == "Welcome to skylet console"
        yield console


async def run_cli(*argv: str) -> int:
    return await trio.to_thread.run_sync(_cli.main, list(argv))
