"""Dropping local-variable names from Lua 5.4 bytecode (``string.dump`` output).

Every service loads skylet's own Lua library, so what it costs to load is
paid once per service. The names of local variables were about a tenth of a
launch's instructions and an eighth of skynet.lua's size in a VM (each name
is a string the VM interns while loading), yet they only serve
``debug.getlocal`` and the "(local 'x')" in some error messages. Line info
stays (tracebacks keep file and line), and so do upvalue names: inject's
``_U`` reaches skynet's internals by them, as in skynet.

The walk follows lundump.c of Lua 5.4. A chunk it does not recognise is
returned unchanged.
"""

from __future__ import annotations

#: "\x1bLua", version 5.4, format 0, LUAC_DATA, then the sizes of
#: Instruction, lua_Integer and lua_Number; LUAC_INT and LUAC_NUM follow.
_HEADER = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08"
_HEADER_SIZE = len(_HEADER) + 8 + 8
_NO_ENTRIES = b"\x80"  # a size of 0 in the dump's variable-length encoding

# Constant tags (lobject.h): numbers carry 8 bytes, strings a sized string.
_NUMBERS = (0x03, 0x13)
_STRINGS = (0x04, 0x14)


class _Chunk:
    """A cursor over a dump, copying everything but the local names to ``out``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.out: list[bytes] = []

    def size(self) -> int:
        # Big-endian groups of 7 bits; the last byte has the high bit set.
        value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value = (value << 7) | (byte & 0x7F)
            if byte & 0x80:
                return value

    def skip(self, count: int) -> None:
        # (Not `self.pos += self.size()`: that adds to pos as it was before
        # reading the size.)
        self.pos += count

    def skip_string(self) -> None:
        size = self.size()  # 0: no string; else the length plus one
        self.skip(max(size - 1, 0))

    def function(self) -> None:
        start = self.pos
        self.skip_string()  # source
        self.size()  # linedefined
        self.size()  # lastlinedefined
        self.pos += 3  # numparams, is_vararg, maxstacksize
        self.skip(4 * self.size())  # code
        for _ in range(self.size()):  # constants
            tag = self.data[self.pos]
            self.pos += 1
            if tag in _NUMBERS:
                self.pos += 8
            elif tag in _STRINGS:
                self.skip_string()
        self.skip(3 * self.size())  # upvalues: instack, idx, kind
        nested = self.size()
        self.out.append(self.data[start : self.pos])
        for _ in range(nested):
            self.function()
        start = self.pos
        self.skip(self.size())  # lineinfo
        for _ in range(self.size()):  # abslineinfo: pc, line
            self.size()
            self.size()
        self.out.append(self.data[start : self.pos])
        for _ in range(self.size()):  # locvars: name, startpc, endpc
            self.skip_string()
            self.size()
            self.size()
        self.out.append(_NO_ENTRIES)
        start = self.pos
        for _ in range(self.size()):  # upvalue names
            self.skip_string()
        self.out.append(self.data[start : self.pos])


def drop_local_names(chunk: bytes) -> bytes:
    """``chunk`` without its local-variable names, or unchanged if it is not
    a Lua 5.4 dump this walk understands."""
    if not chunk.startswith(_HEADER):
        return chunk
    walk = _Chunk(chunk)
    walk.pos = _HEADER_SIZE + 1  # the main closure's upvalue count
    walk.out.append(chunk[: walk.pos])
    try:
        walk.function()
    except IndexError:
        return chunk
    if walk.pos != len(chunk):
        return chunk
    return b"".join(walk.out)
