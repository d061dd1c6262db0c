"""``MYSQLAUTH``: the host half of ``skynet.db.mysql``'s caching_sha2_password
login, bytes in, bytes out (SHA-256 and RSA come from ``hashlib`` and
``cryptography``; mysql_native_password needs only ``skynet.crypt.sha1``).

- ``MYSQLAUTH sha2_token password scramble``: the fast-path token,
  SHA256(password) XOR SHA256(SHA256(SHA256(password)) .. scramble).
- ``MYSQLAUTH rsa_password pem password_nul scramble``: the full path over a
  plain connection: (password .. NUL) XOR scramble, encrypted with the
  server's RSA public key (PEM) under OAEP/SHA-1, as MySQL 8 expects.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .._core._errors import SkyletError


class MySQLAuthError(SkyletError):
    """MYSQLAUTH was given bad input (unknown operation, not bytes, bad key)."""


def sha2_token(password: bytes, scramble: bytes) -> bytes:
    stage1 = hashlib.sha256(password).digest()
    stage2 = hashlib.sha256(hashlib.sha256(stage1).digest() + scramble).digest()
    return bytes(a ^ b for a, b in zip(stage1, stage2, strict=True))


def rsa_password(pem: bytes, password: bytes, scramble: bytes) -> bytes:
    if not scramble:
        raise MySQLAuthError("mysqlauth: empty scramble")
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise MySQLAuthError(f"mysqlauth: bad public key from the server: {e}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise MySQLAuthError("mysqlauth: the server's public key is not RSA")
    mixed = bytes(c ^ scramble[i % len(scramble)] for i, c in enumerate(password))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return key.encrypt(mixed, oaep)


def mysqlauth(node: object, service: object, op: Any = None, *args: Any) -> bytes:
    """The core command: see the module's docstring."""
    if not all(isinstance(a, bytes) for a in args):
        raise MySQLAuthError("mysqlauth: arguments must be strings")
    if op == b"sha2_token" and len(args) == 2:
        return sha2_token(args[0], args[1])
    if op == b"rsa_password" and len(args) == 3:
        return rsa_password(args[0], args[1], args[2])
    raise MySQLAuthError(f"mysqlauth: unknown operation {op!r} with {len(args)} arguments")
