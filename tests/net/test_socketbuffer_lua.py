"""skynet.socket's read buffer (lualib/skylet/socketbuffer.lua), checked against Python bytes."""

from __future__ import annotations

import random
from typing import Any

import lupa.lua54 as lupa
import pytest

from skylet._core._paths import LUALIB

SOURCE = (LUALIB / "skylet" / "socketbuffer.lua").read_bytes()


@pytest.fixture
def new_buffer() -> Any:
    runtime = lupa.LuaRuntime(encoding=None)
    module = runtime.execute(SOURCE)
    return module.new


def fill(buffer: Any, *chunks: bytes) -> None:
    for chunk in chunks:
        buffer.push(buffer, chunk)


def test_pop_within_and_across_chunks(new_buffer: Any) -> None:
    b = new_buffer()
    fill(b, b"abc", b"", b"defg", b"h")
    assert b.size == 8
    assert b.pop(b, 2) == b"ab"
    assert b.pop(b, 3) == b"cde"
    assert b.pop(b, 4) is None  # only 3 left
    assert b.pop(b, 0) == b""
    assert b.pop(b, 3) == b"fgh"
    assert b.size == 0
    assert b.popall(b) == b""


def test_find_and_popline_with_a_separator_split_over_chunks(new_buffer: Any) -> None:
    b = new_buffer()
    fill(b, b"one\r", b"\ntwo", b"\r")
    assert b.find(b, b"\r\n") == 5
    assert b.popline(b, b"\r\n") == b"one"
    assert b.popline(b, b"\r\n") is None
    fill(b, b"\n")
    assert b.popline(b, b"\r\n") == b"two"
    assert b.size == 0


def test_a_long_separator_spread_over_three_short_chunks(new_buffer: Any) -> None:
    b = new_buffer()
    fill(b, b"xx<", b"-", b"-")
    assert b.find(b, b"<-->") is None
    fill(b, b">rest")
    assert b.popline(b, b"<-->") == b"xx"
    assert b.popall(b) == b"rest"


def test_randomised_against_python(new_buffer: Any) -> None:
    rng = random.Random(1234)
    for sep in (b"\n", b"\r\n", b"END!"):
        b = new_buffer()
        model = bytearray()
        for _ in range(3000):
            action = rng.random()
            if action < 0.5:
                chunk = bytes(rng.choice(b"ab\r\nEND!") for _ in range(rng.randint(1, 9)))
                fill(b, chunk)
                model += chunk
            elif action < 0.75:
                n = rng.randint(0, 12)
                expected = bytes(model[:n]) if n <= len(model) else None
                assert b.pop(b, n) == expected
                if expected is not None:
                    del model[:n]
            else:
                at = model.find(sep)
                if at < 0:
                    assert b.popline(b, sep) is None
                else:
                    assert b.popline(b, sep) == bytes(model[:at])
                    del model[: at + len(sep)]
            assert b.size == len(model)
