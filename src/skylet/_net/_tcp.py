"""One TCP connection or listening socket of the node's socket server.

Sockets are non-blocking stdlib sockets driven by trio's I/O waits
(``trio.lowlevel.wait_readable`` / ``wait_writable``) rather than
``trio.SocketStream``, for two reasons: a write from a service goes straight
to the kernel (``sock.send``) inside the command that asked for it, with no
task switch, and only spills into a flush task when the kernel's buffer is
full; and a connection reads only as much as the owning service has given it
credit for (see ``Connection.may_read``).

Events go to the server (``_sockets.SocketServer``, seen here as
:class:`Events`), which turns them into ``socket`` messages for the owning
service and owns every close decision.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from itertools import islice
from typing import Any, Protocol

import trio

#: Bytes asked of the kernel per read.
RECV_SIZE = 64 * 1024
#: Buffers handed to one ``sendmsg`` (well under any IOV_MAX).
SENDMSG_BUFFERS = 64
#: Connections a listener accepts before it lets other tasks run.
ACCEPT_BATCH = 64
#: Seconds a listener waits after the OS refused an accept (out of fds...).
ACCEPT_RETRY = 0.1

Chunk = bytes | memoryview

# Events a socket reports to its owner, numbered as skynet's
# SKYNET_SOCKET_TYPE_*; a socket message is HEADER (event, id, ud) + data.
DATA, CONNECT, CLOSE, ACCEPT, ERROR, WARNING = 1, 2, 3, 4, 5, 7
HEADER = struct.Struct(">BIq")


def text(value: Any) -> str:
    """A Lua string (bytes) or anything else as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def reason(exc: OSError) -> str:
    """What an OSError says, without its errno prefix."""
    return exc.strerror or str(exc) or type(exc).__name__


def format_address(address: Any) -> str:
    """``ip:port`` (``[ip]:port`` for IPv6) of a socket address."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)


def configure(sock: socket.socket) -> None:
    """Non-blocking, and no Nagle delay: game traffic is small packets."""
    sock.setblocking(False)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Events(Protocol):
    """What a socket's tasks report to, and read from, the server that owns it."""

    @property
    def read_window(self) -> int: ...

    def accepted(self, listener: Listener, sock: socket.socket, peer: Any) -> None: ...

    def accept_failed(self, listener: Listener, exc: OSError) -> None: ...

    def delivered(self, conn: Connection, data: bytes) -> None: ...

    def read_eof(self, conn: Connection) -> None: ...

    def read_failed(self, conn: Connection, exc: OSError) -> None: ...

    def count_write(self, conn: Connection, sent: int) -> None: ...

    def write_failed(self, conn: Connection, exc: OSError) -> None: ...

    def drained(self, conn: Connection) -> None: ...


class Listener:
    """A listening socket: accepts once started, reports each connection."""

    kind = "LISTEN"

    def __init__(self, sid: int, sock: socket.socket, owner: int) -> None:
        self.id = sid
        self.sock = sock
        self.owner = owner
        name = sock.getsockname()
        self.host: str = name[0]
        self.port: int = name[1]
        self.address = format_address(name)
        self.accepting = False
        self.scope = trio.CancelScope()
        self.closed = False
        self.accepted = 0
        self.rtime = 0
        # Events held while nobody owns the socket (see SocketServer.abandon).
        self.stash: list[tuple[int, int, bytes]] = []

    async def accept_loop(self, server: Events) -> None:
        sock = self.sock
        with self.scope:
            try:
                while True:
                    await trio.lowlevel.wait_readable(sock)
                    for _ in range(ACCEPT_BATCH):
                        try:
                            conn, peer = sock.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError as exc:
                            # Out of fds or memory: the listener stays readable,
                            # so back off instead of spinning.
                            server.accept_failed(self, exc)
                            await trio.sleep(ACCEPT_RETRY)
                            break
                        self.accepted += 1
                        server.accepted(self, conn, peer)
            except trio.ClosedResourceError:
                pass

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.kind,
            "address": self.owner,
            "accept": self.accepted,
            "rtime": self.rtime,
            "sock": self.address,
        }


class Connection:
    """A TCP connection: a reader task (once started) and a write queue.

    Read credit: the reader stops once ``outstanding`` bytes (delivered to the
    owner and not yet reported consumed) reach the server's read window, or
    what the owner said it ``want``s buffered, whichever is larger; the
    owner's ``ack`` gives credit back. Writes: ``high`` is sent before
    ``low`` (skynet's ``write``/``lwrite``); ``wbuffer`` is the bytes queued.
    """

    kind = "TCP"

    def __init__(self, sid: int, sock: socket.socket | None, owner: int, peer: str) -> None:
        self.id = sid
        self.sock = sock
        self.owner = owner
        self.peer = peer
        # reading
        self.started = False
        self.reader_running = False
        self.read_scope = trio.CancelScope()
        self.wake: trio.Event | None = None
        self.read_done = False
        self.outstanding = 0
        self.want = 0
        # writing
        self.high: deque[Chunk] = deque()
        self.low: deque[Chunk] = deque()
        self.wbuffer = 0
        self.flushing = False
        self.warn_size = 0
        # lifecycle
        self.connect_scope: trio.CancelScope | None = None
        self.ended = False  # CLOSE or ERROR posted to the owner
        self.closing = False  # closed by its owner: flush, then close the fd
        self.closed = False
        self.stash: list[tuple[int, int, bytes]] = []
        # statistics (netstat)
        self.read_bytes = 0
        self.write_bytes = 0
        self.rtime = 0
        self.wtime = 0

    # ----- reading -----

    def may_read(self, window: int) -> bool:
        return self.started and self.outstanding < max(window, self.want)

    def wake_reader(self) -> None:
        if self.wake is not None:
            self.wake.set()

    async def read_loop(self, server: Events) -> None:
        sock = self.sock
        assert sock is not None
        with self.read_scope:
            try:
                while True:
                    if not self.may_read(server.read_window):
                        self.wake = trio.Event()
                        await self.wake.wait()
                        self.wake = None
                        continue
                    await trio.lowlevel.wait_readable(sock)
                    if not self.may_read(server.read_window):
                        continue
                    try:
                        data = sock.recv(RECV_SIZE)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        server.read_failed(self, exc)
                        return
                    if not data:
                        server.read_eof(self)
                        return
                    self.outstanding += len(data)
                    server.delivered(self, data)
            except trio.ClosedResourceError:
                pass
            finally:
                self.reader_running = False

    # ----- writing -----

    def send_now(self, data: bytes) -> int:
        """Write what the kernel takes at once; raises OSError on a dead peer."""
        assert self.sock is not None
        try:
            return self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0

    def queue(self, data: Chunk, low: bool) -> None:
        (self.low if low else self.high).append(data)
        self.wbuffer += len(data)

    def send_queued(self) -> int:
        """Hand queued buffers to the kernel until it is full; bytes sent."""
        assert self.sock is not None
        total = 0
        while self.high or self.low:
            queue = self.high if self.high else self.low
            batch = list(islice(queue, SENDMSG_BUFFERS))
            try:
                sent = self.sock.sendmsg(batch)
            except (BlockingIOError, InterruptedError):
                break
            total += sent
            self.wbuffer -= sent
            complete = sent == sum(len(b) for b in batch)
            while sent:
                head = queue[0]
                if len(head) <= sent:
                    sent -= len(head)
                    queue.popleft()
                else:
                    rest = memoryview(head)[sent:]
                    queue.popleft()
                    # A low-priority buffer begun must finish before anything
                    # else goes out (skynet's rule), so it moves to the front.
                    if queue is self.low:
                        self.high.appendleft(rest)
                    else:
                        queue.appendleft(rest)
                    sent = 0
            if not complete:
                break
        return total

    async def flush_loop(self, server: Events) -> None:
        sock = self.sock
        assert sock is not None
        try:
            while self.high or self.low:
                await trio.lowlevel.wait_writable(sock)
                server.count_write(self, self.send_queued())
        except trio.ClosedResourceError:
            return
        except OSError as exc:
            server.write_failed(self, exc)
            return
        finally:
            self.flushing = False
        server.drained(self)

    def drop_writes(self) -> None:
        self.high.clear()
        self.low.clear()
        self.wbuffer = 0

    def state(self) -> str:
        if self.sock is None:
            return "CONNECTING"
        if self.closing:
            return "CLOSING"
        return self.kind

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.state(),
            "address": self.owner,
            "read": self.read_bytes,
            "write": self.write_bytes,
            "wbuffer": self.wbuffer,
            "rbuffer": self.outstanding,
            "rtime": self.rtime,
            "wtime": self.wtime,
            "reading": self.started and not self.read_done,
            "writing": self.flushing,
            "peer": self.peer,
        }


Socket = Listener | Connection
