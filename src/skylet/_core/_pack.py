"""Message payloads on the Python side: msgpack, as ``skynet.pack`` writes it.

A payload is the concatenation of one msgpack object per argument, so an
argument list keeps its length (``nil`` included). Lua strings that are valid
UTF-8 travel as msgpack str and come out as Python ``str``; others as bin and
come out as ``bytes``. Lua sequences become lists, other tables dicts.
"""

from __future__ import annotations

from typing import Any

import msgpack


def pack(*args: Any) -> bytes:
    """Encode an argument list the way ``skynet.pack`` does."""
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join(packer.pack(arg) for arg in args)


def unpack(payload: bytes | None) -> tuple[Any, ...]:
    """Decode a ``skynet.pack`` payload into its argument list."""
    if not payload:
        return ()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=0)
    unpacker.feed(payload)
    return tuple(unpacker)
