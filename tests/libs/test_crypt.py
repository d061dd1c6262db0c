"""skynet.crypt and md5 in a real service: outputs equal skynet's, bad input is a clear error.

The expected values were printed by skynet itself (its lua-crypt.c, lsha1.c
and lua-md5) for the same inputs; DES and SHA-1 vectors also come from
skynet's test/testcrypt.lua and test/testsha.lua.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import skylet
from skylet import CallError
from skylet._libs import _crypt as pycrypt

SERVICES = Path(__file__).parents[1] / "services" / "crypt"

K1 = b"12345678"
K2 = bytes(range(1, 9))
BIG = b"\xff" * 8
P = bytes.fromhex("c5ffffffffffffff")  # 2^64 - 59, skynet's DH modulus, little-endian
ONE = bytes.fromhex("0100000000000000")


@pytest.fixture
async def probe(log: list[str]) -> AsyncIterator[tuple[skylet.Node, int]]:
    async with skylet.open_node({"luaservice": f"{SERVICES}/?.lua"}, log=log.append) as node:
        yield node, await node.newservice("cryptprobe")


def raw(value: Any) -> Any:
    """Lua strings that are valid UTF-8 arrive as str; compare bytes."""
    return value.encode() if isinstance(value, str) else value


async def call(probe: tuple[skylet.Node, int], lib: str, name: str, *args: Any) -> Any:
    node, address = probe
    return raw(await node.call(address, "lua", lib, name, *args))


SKYNET_VECTORS = [
    ("hashkey", (b"",), "05150000a7c6674e"),
    ("hashkey", (b"hello world",), "c1c8513506e36bbc"),
    ("hashkey", (b"\xc8\x01\xff" * 100,), "25b9afec9521d44f"),
    ("hashkey", (12345,), "a4fb910b4cd61a3e"),  # numbers count as their text
    ("hmac64", (K1, K2), "c7738b14f3576ba4"),
    ("hmac64", (BIG, K1), "8087cdbb858138a5"),
    ("hmac64_md5", (K1, K2), "7c042c51bf11381d"),
    ("hmac64_md5", (BIG, K2), "915e73c2430d3f01"),
    ("hmac_hash", (K1, b"hello world"), "dc289049eee8f566"),
    ("hmac_hash", (K2, b""), "5557eef0a339145d"),
    ("dhexchange", (K1,), "a18e89af97222f0e"),
    ("dhexchange", (K2,), "984e1418283235ed"),
    ("dhexchange", (BIG,), "4e2ea6baf651b377"),
    ("dhexchange", (ONE,), "0500000000000000"),
    ("dhsecret", (K1, K2), "9ed2a96a68e2b677"),
    ("dhsecret", (BIG, K1), "b9302737cf2197c5"),
    ("dhsecret", (P, ONE), "c5ffffffffffffff"),  # skynet leaves p^1 unreduced
    ("dhsecret", (bytes.fromhex("c6ffffffffffffff"), ONE), "0100000000000000"),
    ("desencode", (K1, b"hello world"), "28dba02eb5f6dd4706b5c56593dcbe2c"),
    ("desencode", (K1, b"12345678"), "96d0028878d58c898d3d438a718b4510"),
    ("desencode", (K2, b""), "384c312b2a807fe6"),
    ("hexdecode", (b"00017f80ff78797a",), "00017f80ff78797a"),
    ("base64decode", (b"YQ",), "61"),  # missing '=' is accepted, as in skynet
    ("base64decode", (b"YWI",), "6162"),
    ("base64decode", (b"YW Jj\nZA==",), "61626364"),  # characters outside the alphabet skipped
    ("base64decode", (b"YQ==YQ==",), "6161"),  # padded groups one after another
    ("sha1", (b"abc",), "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha1", (b"",), "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("sha1", (b"a" * 10000,), "a080cbda64850abb7b7f67ee875ba068074ff6fe"),
    (
        "hmac_sha1",
        (b"key", b"The quick brown fox jumps over the lazy dog"),
        "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
    ),
    ("hmac_sha1", (b"k" * 100, b"text"), "ee65a3d3561c057d49fb181c09b0b6dd599cf43e"),
    ("xor_str", (b"hello world", b"key"), "030015070a591c0a0b0701"),
    ("xor_str", (b"", b"key"), ""),
]


@pytest.mark.parametrize(("name", "args", "expected"), SKYNET_VECTORS)
async def test_outputs_equal_skynets(
    probe: tuple[skylet.Node, int], name: str, args: tuple[Any, ...], expected: str
) -> None:
    assert (await call(probe, "crypt", name, *args)).hex() == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((K1, b"hello world", 0), "KNugLrX23UcGtcVlk9y+LA=="),
        ((K1, b"", 1), "/rlZt9RkL8s="),
        ((K1, b"1", 1), "g6AtgJul6q0="),
        ((K1, b"1234567", 1), "mYo+BYIT41M="),
        ((K1, b"12345678", 1), "ltACiHjVjIn+uVm31GQvyw=="),
    ],
)
async def test_des_matches_skynets_testcrypt(
    probe: tuple[skylet.Node, int], args: tuple[Any, ...], expected: str
) -> None:
    cipher = await call(probe, "crypt", "desencode", *args)
    assert await call(probe, "crypt", "base64encode", cipher) == expected.encode()
    assert await call(probe, "crypt", "desdecode", args[0], cipher, args[2]) == args[1]


@pytest.mark.parametrize(
    ("padding", "sha1"),
    [
        (0, "68de4fa0fb4e857b8d4e7f54f3f48c606138e25a"),
        (1, "9be3b8d985553b93d371dd33a816490488f199c4"),
    ],
)
async def test_des_long_text(probe: tuple[skylet.Node, int], padding: int, sha1: str) -> None:
    text = b"abcdefghij" * 30
    cipher = await call(probe, "crypt", "desencode", K2, text, padding)
    assert len(cipher) == 304 and hashlib.sha1(cipher).hexdigest() == sha1
    assert await call(probe, "crypt", "desdecode", K2, cipher, padding) == text


async def test_des_round_trips_every_tail_length(probe: tuple[skylet.Node, int]) -> None:
    for padding in (0, 1):
        for n in range(18):
            text = bytes(range(n))
            cipher = await call(probe, "crypt", "desencode", K2, text, padding)
            assert len(cipher) == (n + 8) // 8 * 8
            assert await call(probe, "crypt", "desdecode", K2, cipher, padding) == text


async def test_encodings_equal_skynets(probe: tuple[skylet.Node, int]) -> None:
    hexed = await call(probe, "crypt", "hexencode", b"\x00\x01\x7f\x80\xffxyz")
    assert hexed == b"00017f80ff78797a"
    for text, b64 in [(b"", b""), (b"a", b"YQ=="), (b"ab", b"YWI="), (b"abc", b"YWJj")]:
        assert await call(probe, "crypt", "base64encode", text) == b64
        assert await call(probe, "crypt", "base64decode", b64) == text
    b64 = await call(probe, "crypt", "base64encode", b"\xff\xfe\xfd\x00\x01\x02\xfa")
    assert b64 == b"//79AAEC+g=="


async def test_padding_table(probe: tuple[skylet.Node, int]) -> None:
    assert await call(probe, "crypt", "padding") == {"iso7816_4": 0, "pkcs7": 1}


async def test_dh_both_sides_agree(probe: tuple[skylet.Node, int]) -> None:
    a = await call(probe, "crypt", "randomkey")
    b = await call(probe, "crypt", "randomkey")
    assert len(a) == len(b) == 8 and a != b
    a_pub = await call(probe, "crypt", "dhexchange", a)
    b_pub = await call(probe, "crypt", "dhexchange", b)
    secret = await call(probe, "crypt", "dhsecret", b_pub, a)
    assert secret == await call(probe, "crypt", "dhsecret", a_pub, b)
    k1_pub = await call(probe, "crypt", "dhexchange", K1)
    assert (await call(probe, "crypt", "dhsecret", k1_pub, K2)).hex() == "73603851395d85b8"


async def test_hmac_hash_is_hmac64_of_hashkey(probe: tuple[skylet.Node, int]) -> None:
    # msgserver relies on this identity (its handshake check).
    text = b"aGVsbG8=@c2FtcGxl#MQ==:1"
    key = await call(probe, "crypt", "hashkey", text)
    expected = await call(probe, "crypt", "hmac64", key, K1)
    assert await call(probe, "crypt", "hmac_hash", K1, text) == expected


def test_randomkey_is_never_all_zeros() -> None:
    assert pycrypt._never_zero(b"\0" * 8) == b"\x01" + b"\0" * 7
    assert pycrypt._never_zero(b"\x03\x03" + b"\0" * 6) == b"\x03\x03" + b"\0" * 6
    assert pycrypt._never_zero(b"\x01\x02" + b"\0" * 6) == b"\x01\x02" + b"\0" * 6
    assert len({pycrypt.randomkey() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("desencode", (b"1234567", b"x"), "Invalid key size 7, need 8 bytes"),
        ("desdecode", (b"123456789", b"12345678"), "Invalid key size 9, need 8 bytes"),
        ("desdecode", (K1, b"1234567"), "Invalid des crypt text length 7"),
        ("desdecode", (K1, b""), "Invalid des crypt text length 0"),
        ("desdecode", (K1, b"12345678"), "Invalid des crypt text"),  # bad padding
        ("desencode", (K1, b"x", 2), "Invalid padding mode 2"),
        ("desencode", (K1, b"x", 1.5), "number has no integer representation"),
        ("hexdecode", (b"abc",), "Invalid hex text size 3"),
        ("hexdecode", (b"AB",), "Invalid hex text"),  # skynet's decoder is lowercase only
        ("hexdecode", (b"zz",), "Invalid hex text"),
        ("base64decode", (b"Y",), "Invalid base64 text"),
        ("base64decode", (b"YR==",), "Invalid base64 text"),
        ("base64decode", (b"Y===",), "Invalid base64 text"),
        ("base64decode", (b"YQ=a",), "Invalid base64 text"),
        ("base64decode", (b"YWJj\n",), "Invalid base64 text"),
        ("hmac64", (b"1234", K1), "Invalid uint64 x"),
        ("hmac64", (K1, b"1234"), "Invalid uint64 y"),
        ("hmac64_md5", (K1, b""), "Invalid uint64 y"),
        ("hmac_hash", (b"1234", b"x"), "Invalid uint64 key"),
        ("dhexchange", (b"1234",), "Invalid dh uint64 key"),
        ("dhexchange", (b"\0" * 8,), "Can't be 0"),
        ("dhsecret", (b"\0" * 8, K1), "Can't be 0"),
        ("dhsecret", (K1, b"123"), "Invalid uint64 y"),
        ("xor_str", (b"abc", b""), "Can't xor empty string"),
        ("sha1", (), "bad argument #1 to 'sha1' (string expected, got no value)"),
        ("hmac_sha1", (b"k", True), "bad argument #2 to 'hmac_sha1' (string expected, got boolean"),
    ],
)
async def test_bad_input_is_an_error_in_the_caller(
    probe: tuple[skylet.Node, int], name: str, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(CallError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await call(probe, "crypt", name, *args)
    assert await call(probe, "crypt", "hexencode", b"\x01") == b"01"  # the service goes on


def test_des_padding_with_a_bad_byte_is_refused() -> None:
    # pkcs7 padding must repeat its length; iso7816_4 must be 0x80 then zeros.
    enc = pycrypt.desencode(K1, b"1234567\x02", 1)
    assert pycrypt.desdecode(K1, enc, 1) == b"1234567\x02"
    forged = pycrypt.desencode(K1, b"123456\x01\x02", 0)[:8]  # no padding block
    with pytest.raises(pycrypt.CryptError, match="Invalid des crypt text"):
        pycrypt.desdecode(K1, forged, 1)
    assert pycrypt.desdecode(K1, pycrypt.desencode(K1, b"\x80\x00", 0), 0) == b"\x80\x00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"nope", b"x"), "unknown crypt function b'nope'"),
        ((b"sha1", "text"), "bad argument #1 to 'sha1' (string expected)"),
        ((b"sha1", b"a", b"b"), "sha1 takes 1 argument(s), got 2"),
        ((b"hmac64", b"12345678"), "hmac64 needs 2 string argument(s), got 1"),
        ((b"desencode", K1, b"x", "1"), "Invalid padding mode (number expected)"),
    ],
)
def test_core_command_validates_its_arguments(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(pycrypt.CryptError, match=re.escape(message)):
        pycrypt.command(None, None, *args)


MD5_VECTORS = [
    ("sum", (b"hello world",), bytes.fromhex("5eb63bbbe01eeed093cb22bb8f5acdc3")),
    ("sumhexa", (b"",), b"d41d8cd98f00b204e9800998ecf8427e"),
    ("hmacmd5", (b"data", b"key"), b"9d5c73ef85594d34ec4438b7c97e51d8"),
    ("hmacmd5", (b"data", b"K" * 70), b"41a7bd1e3ef9b905dc8b34617ddca689"),
    ("exor", (b"abc", b"\x01\x02\x03"), b"```"),
    (
        "crypt",
        (b"hello world, this is longer than sixteen", b"key", b"seed1234"),
        bytes.fromhex(
            "087365656431323334340376c85c37a4344671b25859ba9d81b4cb47a3b5395f"
            "0bcb3778569efe97e2ab6d6eb34116c563"
        ),
    ),
]


@pytest.mark.parametrize(("name", "args", "expected"), MD5_VECTORS)
async def test_md5_equals_skynets(
    probe: tuple[skylet.Node, int], name: str, args: tuple[Any, ...], expected: bytes
) -> None:
    assert await call(probe, "md5", name, *args) == expected


async def test_md5_crypt_round_trips_and_refuses_bad_input(probe: tuple[skylet.Node, int]) -> None:
    for n in (0, 1, 15, 16, 17, 100):
        text = bytes(range(n))
        cipher = await call(probe, "md5", "crypt", text, b"secret")  # seed: the time
        assert await call(probe, "md5", "decrypt", cipher, b"secret") == text
    with pytest.raises(CallError, match="lengths must be equal"):
        await call(probe, "md5", "exor", b"abc", b"ab")
    with pytest.raises(CallError, match="invalid cyphered string"):
        await call(probe, "md5", "decrypt", b"\x20abc", b"key")
    with pytest.raises(CallError, match="seed too long"):
        await call(probe, "md5", "crypt", b"x", b"key", b"s" * 17)
