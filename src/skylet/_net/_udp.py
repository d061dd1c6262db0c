"""One UDP socket of the node's socket server, and skynet's UDP address blob.

A datagram goes to the owner as a ``socket`` message with event 6 (UDP): ud =
the datagram's size, data = the datagram followed by the sender's address in
skynet's binary form (what ``socket_server.c`` calls a udp address):

====== ==============================================================
bytes  meaning
====== ==============================================================
1      protocol: 1 = IPv4, 2 = IPv6
2      port, network byte order
4 / 16 the IPv4 / IPv6 address, network byte order
====== ==============================================================

``socket.sendto`` takes that blob back, and ``socket.udp_address`` turns it
into (ip, port). As in skynet, a socket is of one family: a datagram from (or
to) the other family is dropped (refused). UDP sockets read from creation
(skynet's do); writes go straight to the kernel and, when it is full, wait in
a queue a flush task sends.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from typing import Any, Protocol

import trio

#: skynet's MAX_UDP_PACKAGE: the largest datagram read.
MAX_DATAGRAM = 65535
#: Datagrams read before the reader lets other tasks run.
READ_BATCH = 64
#: Datagrams kept for a socket nobody owns (abandoned, not yet started).
UDP_STASH = 1024

UDP = 6
PROTOCOL_IPV4, PROTOCOL_IPV6 = 1, 2
_PORT = struct.Struct(">H")


def pack_address(family: int, address: Any) -> bytes:
    """skynet's udp address blob of a socket address of ``family``."""
    host, port = address[0], address[1]
    if family == socket.AF_INET6:
        return bytes((PROTOCOL_IPV6,)) + _PORT.pack(port) + socket.inet_pton(family, host)
    return bytes((PROTOCOL_IPV4,)) + _PORT.pack(port) + socket.inet_pton(socket.AF_INET, host)


def unpack_address(blob: bytes) -> tuple[int, tuple[str, int]]:
    """(family, sockaddr) of a udp address blob; ValueError if it is not one."""
    if len(blob) == 7 and blob[0] == PROTOCOL_IPV4:
        family = socket.AF_INET
    elif len(blob) == 19 and blob[0] == PROTOCOL_IPV6:
        family = socket.AF_INET6
    else:
        raise ValueError("invalid udp address")
    (port,) = _PORT.unpack_from(blob, 1)
    return family, (socket.inet_ntop(family, blob[3:]), port)


class Events(Protocol):
    def datagram(self, sock: UdpSocket, data: bytes, sender: bytes) -> None: ...

    def udp_failed(self, sock: UdpSocket, exc: OSError) -> None: ...

    def count_write(self, conn: Any, sent: int) -> None: ...


class UdpSocket:
    """A datagram socket: its reader task, its default peer, its write queue."""

    kind = "UDP"

    def __init__(self, sid: int, sock: socket.socket, owner: int) -> None:
        self.id = sid
        self.sock: socket.socket | None = sock
        self.owner = owner
        self.family = sock.family
        #: Where ``send`` (socket.write) goes: set by udp_connect / udp_dial.
        self.peer: tuple[str, int] | None = None
        self.scope = trio.CancelScope()
        self.queue: deque[tuple[bytes, tuple[str, int]]] = deque()
        self.wbuffer = 0
        self.flushing = False
        self.closed = False
        self.stash: list[tuple[int, int, bytes]] = []
        self.read_bytes = 0
        self.write_bytes = 0
        self.rtime = 0
        self.wtime = 0

    @property
    def address(self) -> str:
        if self.peer is None:
            return ""
        host, port = self.peer[0], self.peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def read_loop(self, server: Events) -> None:
        sock = self.sock
        assert sock is not None
        with self.scope:
            try:
                while True:
                    await trio.lowlevel.wait_readable(sock)
                    for _ in range(READ_BATCH):
                        try:
                            data, sender = sock.recvfrom(MAX_DATAGRAM)
                        except (BlockingIOError, InterruptedError):
                            break
                        except ConnectionRefusedError:
                            continue  # an ICMP for an earlier sendto: UDP ignores it
                        except OSError as exc:
                            server.udp_failed(self, exc)
                            return
                        self.read_bytes += len(data)
                        server.datagram(self, data, pack_address(self.family, sender))
                    await trio.lowlevel.checkpoint()
            except trio.ClosedResourceError:
                pass

    def sendto(self, data: bytes, peer: tuple[str, int]) -> bool:
        """Send now, or queue when the kernel is full; False if the datagram was refused."""
        assert self.sock is not None
        if not self.queue:
            try:
                sent = self.sock.sendto(data, peer)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return False  # unreachable, too large...: this datagram is dropped
            else:
                self.write_bytes += sent
                return True
        self.queue.append((data, peer))
        self.wbuffer += len(data)
        return True

    async def flush_loop(self, server: Events) -> None:
        sock = self.sock
        assert sock is not None
        try:
            while self.queue:
                await trio.lowlevel.wait_writable(sock)
                while self.queue:
                    data, peer = self.queue[0]
                    try:
                        sent = sock.sendto(data, peer)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        sent = 0  # one datagram refused: UDP drops it and goes on
                    self.queue.popleft()
                    self.wbuffer -= len(data)
                    server.count_write(self, sent)
        except trio.ClosedResourceError:
            pass
        finally:
            self.flushing = False

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.kind,
            "address": self.owner,
            "read": self.read_bytes,
            "write": self.write_bytes,
            "wbuffer": self.wbuffer,
            "rbuffer": 0,
            "rtime": self.rtime,
            "wtime": self.wtime,
            "reading": not self.closed,
            "writing": self.flushing,
            "peer": self.address,
        }
