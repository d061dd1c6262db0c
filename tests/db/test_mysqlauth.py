"""MYSQLAUTH, the host half of caching_sha2_password (MySQL 8's login, which
MariaDB does not offer, so no server here can check it): checked the way the
server checks it, through the core command a Lua service calls."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import skylet
from db.dbservers import node_config

SCRAMBLE = bytes(range(1, 21))
Call = Callable[..., Awaitable[Any]]


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    async with skylet.open_node(node_config(), log=lambda line: None) as n:
        address = await n.newservice("mysqlclient")

        async def mysqlauth(*args: Any) -> Any:
            return await n.call(address, "lua", "mysqlauth", *args)

        yield mysqlauth


def server_accepts(token: bytes, password: bytes, scramble: bytes) -> bool:
    """The server's check: it stores SHA256(SHA256(pw)) and recovers
    SHA256(pw) = token XOR SHA256(stored .. scramble)."""
    stored = hashlib.sha256(hashlib.sha256(password).digest()).digest()
    mask = hashlib.sha256(stored + scramble).digest()
    stage1 = bytes(a ^ b for a, b in zip(token, mask, strict=True))
    return hashlib.sha256(stage1).digest() == stored


async def test_fast_path_token_is_what_the_server_accepts(call: Call) -> None:
    for password in [b"s3cret pass", "密码".encode(), b"x" * 100]:
        ok, token = await call("sha2_token", password, SCRAMBLE)
        assert ok and len(token) == 32
        assert server_accepts(token, password, SCRAMBLE)
        assert not server_accepts(token, password + b"!", SCRAMBLE)


async def test_full_path_encrypts_the_password_for_the_servers_key(call: Call) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    password = b"a password longer than the twenty-byte scramble\0"
    ok, secret = await call("rsa_password", pem, password, SCRAMBLE)
    assert ok and len(secret) == 256
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    mixed = key.decrypt(secret, oaep)
    assert bytes(c ^ SCRAMBLE[i % 20] for i, c in enumerate(mixed)) == password


async def test_bad_input_is_a_clear_error(call: Call) -> None:
    ok, why = await call("rsa_password", b"not a key", b"pw\0", SCRAMBLE)
    assert ok is False and "bad public key from the server" in why
    ok, why = await call("nonsense", b"x")
    assert ok is False and "unknown operation" in why
    ok, why = await call("sha2_token", 1, 2)
    assert ok is False and "must be strings" in why
