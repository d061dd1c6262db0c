"""``skynet.crypt`` and ``md5``: the ``CRYPT`` core command, bytes in, bytes out.

Standard algorithms come from ``hashlib``, ``hmac``, ``binascii``, ``secrets``
and ``cryptography`` (DES). skynet's own constructions (``hashkey``, the
64-bit Diffie-Hellman, ``hmac64``) are small and written here, following
skynet's ``lualib-src/lua-crypt.c`` so that every output equals skynet's, bit
for bit (``tests/test_crypt.py`` holds vectors taken from skynet itself).

Bad input raises :class:`CryptError` with skynet's one-line message; the
core answers it to Lua as an error, which the Lua library raises in the
caller.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import re
import secrets
import struct
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from .._core._errors import SkyletError


class CryptError(SkyletError):
    """A crypt function was given bad input (key size, text length, padding...)."""


MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

# -- skynet's hashkey: djb2 and JS hashes, 32 bits each ----------------------


def _hash(text: bytes) -> bytes:
    djb, js = 5381, 1315423911
    for c in text:
        djb = (djb + (djb << 5) + c) & MASK32
        js = (js ^ ((js << 5) + c + (js >> 2))) & MASK32
    return struct.pack("<II", djb, js)


def hashkey(text: bytes) -> bytes:
    return _hash(text)


def randomkey() -> bytes:
    return _never_zero(secrets.token_bytes(8))


def _never_zero(key: bytes) -> bytes:
    # skynet's rule: bytes that xor to 0 get the low bit of the first set, so
    # the key is never all zeros (dhexchange refuses 0).
    x = 0
    for b in key:
        x ^= b
    return key if x else bytes([key[0] | 1]) + key[1:]


# -- hmac64: MD5's compression function on one block, no padding --------------

# MD5's constants: the integer part of |sin(i + 1)| * 2**32 (RFC 1321).
_MD5_K = [int(abs(math.sin(i + 1)) * 2**32) & MASK32 for i in range(64)]
_MD5_R = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4


def _md5_compress(w: list[int]) -> tuple[int, int, int, int]:
    """The 64 MD5 rounds from MD5's initial state, without adding it back."""
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for i in range(64):
        if i < 16:
            f, g = (b & c) | (~b & d), i
        elif i < 32:
            f, g = (d & b) | (~d & c), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | (~d & MASK32)), (7 * i) % 16
        x = (a + (f & MASK32) + _MD5_K[i] + w[g]) & MASK32
        a, d, c = d, c, b
        b = (b + ((x << _MD5_R[i]) | (x >> (32 - _MD5_R[i])))) & MASK32
    return a, b, c, d


def _qword(value: bytes, what: str) -> tuple[int, int]:
    if len(value) != 8:
        raise CryptError(f"Invalid {what}")
    lo, hi = struct.unpack("<II", value)
    return lo, hi


def _hmac64(x: tuple[int, int], y: tuple[int, int]) -> bytes:
    w = [x[1], x[0], y[1], y[0]] * 4
    a, b, c, d = _md5_compress(w)
    return struct.pack("<II", c ^ d, a ^ b)


def hmac64(x: bytes, y: bytes) -> bytes:
    return _hmac64(_qword(x, "uint64 x"), _qword(y, "uint64 y"))


def hmac64_md5(x: bytes, y: bytes) -> bytes:
    # skynet's C runs MD5 over (x..y) three times; that is exactly hashlib's md5.
    _qword(x, "uint64 x")
    _qword(y, "uint64 y")
    m = hashlib.md5((x + y) * 3).digest()
    return xor_str(m[:8], m[8:])


def hmac_hash(key: bytes, text: bytes) -> bytes:
    k = _qword(key, "uint64 key")
    h = struct.unpack("<II", _hash(text))
    return _hmac64((h[0], h[1]), k)


# -- Diffie-Hellman over the largest 64-bit prime, generator 5 ---------------

P = 0xFFFFFFFFFFFFFFC5
G = 5


def _powmodp(a: int, b: int) -> int:
    if a > P:
        a %= P
    if b == 1:
        return a  # skynet returns the base unreduced here (a == P stays P)
    return pow(a, b, P)


def _u64(value: bytes, what: str) -> int:
    if len(value) != 8:
        raise CryptError(f"Invalid {what}")
    (n,) = struct.unpack("<Q", value)
    return int(n)


def dhexchange(key: bytes) -> bytes:
    x = _u64(key, "dh uint64 key")
    if x == 0:
        raise CryptError("Can't be 0")
    return struct.pack("<Q", _powmodp(G, x))


def dhsecret(x: bytes, y: bytes) -> bytes:
    a, b = _u64(x, "uint64 x"), _u64(y, "uint64 y")
    if a == 0 or b == 0:
        raise CryptError("Can't be 0")
    return struct.pack("<Q", _powmodp(a, b))


# -- DES (ECB) with skynet's paddings -----------------------------------------

ISO7816_4, PKCS7 = 0, 1


def _des(key: bytes) -> Cipher[modes.ECB]:
    if len(key) != 8:
        raise CryptError(f"Invalid key size {len(key)}, need 8 bytes")
    # Three equal keys make TripleDES single DES (EDE: encrypt, decrypt, encrypt).
    return Cipher(TripleDES(key * 3), modes.ECB())


def _padding_mode(mode: Any) -> int:
    if mode is None:
        return ISO7816_4
    if isinstance(mode, float) and mode.is_integer():
        mode = int(mode)
    if not isinstance(mode, int) or isinstance(mode, bool):
        raise CryptError("Invalid padding mode (number expected)")
    if mode not in (ISO7816_4, PKCS7):
        raise CryptError(f"Invalid padding mode {mode}")
    return mode


def desencode(key: bytes, text: bytes, mode: Any = None) -> bytes:
    cipher = _des(key)
    pad = 8 - len(text) % 8
    if _padding_mode(mode) == ISO7816_4:
        padded = text + b"\x80" + b"\0" * (pad - 1)
    else:
        padded = text + bytes([pad]) * pad
    encryptor = cipher.encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _unpadded_size(plain: bytes, mode: int) -> int:
    if mode == ISO7816_4:
        tail = plain[-8:].rstrip(b"\0")
        if tail.endswith(b"\x80"):
            return len(plain) - (len(plain[-8:]) - len(tail) + 1)
    else:
        pad = plain[-1]
        if 1 <= pad <= 8 and plain[-pad:] == bytes([pad]) * pad:
            return len(plain) - pad
    raise CryptError("Invalid des crypt text")


def desdecode(key: bytes, text: bytes, mode: Any = None) -> bytes:
    cipher = _des(key)
    if len(text) % 8 or not text:
        raise CryptError(f"Invalid des crypt text length {len(text)}")
    padding = _padding_mode(mode)
    decryptor = cipher.decryptor()
    plain = decryptor.update(text) + decryptor.finalize()
    return plain[: _unpadded_size(plain, padding)]


# -- hex and base64 -------------------------------------------------------------

_LOWER_HEX = re.compile(rb"[0-9a-f]*")


def hexencode(text: bytes) -> bytes:
    return text.hex().encode()


def hexdecode(text: bytes) -> bytes:
    if len(text) % 2:
        raise CryptError(f"Invalid hex text size {len(text)}")
    if not _LOWER_HEX.fullmatch(text):  # skynet's decoder knows lowercase only
        raise CryptError("Invalid hex text")
    return bytes.fromhex(text.decode())


def base64encode(text: bytes) -> bytes:
    return binascii.b2a_base64(text, newline=False)


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")
_TRAILING_JUNK = re.compile(rb"[^A-Za-z0-9+/=]\Z")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _padded_group(group: bytes) -> bytes:
    """One 4-character group holding '=' (skynet's rules for where it may be)."""
    if group[3:] != b"=" or b"=" in group[:2]:
        raise CryptError("Invalid base64 text")
    if group[2:3] == b"=":
        if _ALPHABET.index(group[1]) & 0xF:
            raise CryptError("Invalid base64 text")
    elif _ALPHABET.index(group[2]) & 0x3:
        raise CryptError("Invalid base64 text")
    return binascii.a2b_base64(group)


def base64decode(text: bytes) -> bytes:
    """skynet's lenient decoder: skips characters outside the alphabet, accepts
    missing '=' at the end and padded groups one after another ("YQ==YQ==")."""
    clean = _NOT_BASE64.sub(b"", text)
    if len(clean) % 4 == 0 and _TRAILING_JUNK.search(text):
        # skynet starts another group after a full one while input is left; a
        # group of nothing but (implied) padding is an error ("YWJj\n").
        raise CryptError("Invalid base64 text")
    clean += b"=" * (-len(clean) % 4)
    first_pad = clean.find(b"=")
    if first_pad < 0:
        return binascii.a2b_base64(clean)
    start = first_pad - first_pad % 4
    out = [binascii.a2b_base64(clean[:start])]
    for i in range(start, len(clean), 4):
        group = clean[i : i + 4]
        out.append(_padded_group(group) if b"=" in group else binascii.a2b_base64(group))
    return b"".join(out)


# -- standard digests ----------------------------------------------------------


def sha1(text: bytes) -> bytes:
    return hashlib.sha1(text).digest()


def hmac_sha1(key: bytes, text: bytes) -> bytes:
    return hmac.new(key, text, hashlib.sha1).digest()


def md5(text: bytes) -> bytes:
    return hashlib.md5(text).digest()


def hmac_md5(key: bytes, text: bytes) -> bytes:
    return hmac.new(key, text, hashlib.md5).digest()


def xor_str(text: bytes, key: bytes) -> bytes:
    if not key:
        raise CryptError("Can't xor empty string")
    if not text:
        return b""
    stream = (key * (len(text) // len(key) + 1))[: len(text)]
    n = int.from_bytes(text, "big") ^ int.from_bytes(stream, "big")
    return n.to_bytes(len(text), "big")


# -- the core command ------------------------------------------------------------

#: op name -> (function, number of byte-string arguments it takes; DES takes
#: one more, optional: the padding mode)
OPS: dict[bytes, tuple[Callable[..., bytes], int]] = {
    b"hashkey": (hashkey, 1),
    b"randomkey": (randomkey, 0),
    b"hmac64": (hmac64, 2),
    b"hmac64_md5": (hmac64_md5, 2),
    b"hmac_hash": (hmac_hash, 2),
    b"dhexchange": (dhexchange, 1),
    b"dhsecret": (dhsecret, 2),
    b"desencode": (desencode, 2),
    b"desdecode": (desdecode, 2),
    b"hexencode": (hexencode, 1),
    b"hexdecode": (hexdecode, 1),
    b"base64encode": (base64encode, 1),
    b"base64decode": (base64decode, 1),
    b"sha1": (sha1, 1),
    b"hmac_sha1": (hmac_sha1, 2),
    b"md5": (md5, 1),
    b"hmac_md5": (hmac_md5, 2),
    b"xor_str": (xor_str, 2),
}


def run(op: Any, *args: Any) -> bytes:
    """Runs one crypt function; raises CryptError for bad input."""
    entry = OPS.get(op) if isinstance(op, bytes) else None
    if entry is None:
        raise CryptError(f"unknown crypt function {op!r}")
    function, strings = entry
    name = op.decode()
    if len(args) < strings:
        raise CryptError(f"{name} needs {strings} string argument(s), got {len(args)}")
    for i, arg in enumerate(args[:strings], 1):
        if not isinstance(arg, bytes):
            raise CryptError(f"bad argument #{i} to '{name}' (string expected)")
    optional = 1 if function in (desencode, desdecode) else 0
    if len(args) > strings + optional:
        raise CryptError(f"{name} takes {strings + optional} argument(s), got {len(args)}")
    return function(*args)


def command(node: object, service: object, op: Any, *args: Any) -> bytes:
    """``CRYPT op ...``: the result bytes; bad input raises CryptError."""
    return run(op, *args)
