"""The node's socket server: what ``skynet.socketdriver`` asks of the node.

Every socket has an id (never reused while the node runs) and an owner, the
service its events go to as ``socket`` messages (ptype 6). The payload of a
socket message is a 13-byte header, ``>BIq`` = (event, id, ud), followed by
the event's data; ``skynet.socketdriver.unpack`` reads it. Events, numbered as
skynet's ``SKYNET_SOCKET_TYPE_*``:

====== ========= ==================================== ==================
event  name      ud                                   data
====== ========= ==================================== ==================
1      DATA      0, or the read window if the node    the bytes read
                 stopped reading until it gets credit
2      CONNECT   the peer's port                      ``ip:port``
3      CLOSE     0 (the peer or the owner closed)
4      ACCEPT    the new connection's id              ``ip:port``
5      ERROR     0                                    what went wrong
7      WARNING   KiB waiting to be sent (0: drained)
====== ========= ==================================== ==================

A connection posts at most one CLOSE or ERROR. After a CLOSE caused by the
peer the connection can still be written to (half-close) until its owner
closes it. ``start`` makes the caller the owner and starts reading; that is
how a connection changes hands (``abandon`` in one service, ``start`` in
another).

The operations services ask for are in ``_socket_ops.py`` (the node hands
their table to the server); connections and listeners in ``_tcp.py``. Of the
node, the server knows only the callables it is given: the clock, the log,
and ``deliver`` for socket messages. Threading: everything here runs on the trio
thread. :meth:`SocketServer.request` is the only entry from services; from
another thread (worker threads) it queues writes and closes onto the trio
thread in order, and waits for the trio thread's answer to anything else.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

import trio

from .._core._errors import ConfigError
from ._tcp import (
    ACCEPT,
    CLOSE,
    DATA,
    ERROR,
    HEADER,
    WARNING,
    Connection,
    Listener,
    Socket,
    configure,
    format_address,
    reason,
    text,
)
from ._udp import UDP, UDP_STASH, UdpSocket, unpack_address

#: Config ``socket_send_buffer_limit``: bytes queued for one connection
#: before it is closed (a peer that does not read).
DEFAULT_SEND_LIMIT = 8 * 1024 * 1024
#: Config ``socket_read_buffer_limit``: bytes a connection delivers to its
#: owner and the owner has not consumed, before it stops reading.
DEFAULT_READ_WINDOW = 256 * 1024


def _size(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    try:
        size = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        size = -1
    if size <= 0 or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{key} must be a positive number of bytes, not {value!r}")
    return size


class SocketServer:
    """Owned by the Node; runs its socket tasks in a nursery of its own.

    ``ops`` answers each ``SOCKET`` sub-operation (``_socket_ops.OPS``), and
    ``queued`` names those another thread does not wait for. ``now`` is the
    node's clock in ticks, ``log(handle, text)`` its log, and
    ``deliver(owner, payload)`` posts a ``socket`` message to the service
    ``owner``, answering False if that service is gone.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        ops: Mapping[bytes, Callable[..., Any]],
        queued: Collection[bytes],
        *,
        now: Callable[[], int],
        log: Callable[[int, str], None],
        deliver: Callable[[int, bytes], bool],
    ) -> None:
        self.ops = ops
        self.queued = queued
        self.now = now
        self.log = log
        self.deliver = deliver
        self.send_limit = _size(config, "socket_send_buffer_limit", DEFAULT_SEND_LIMIT)
        self.read_window = _size(config, "socket_read_buffer_limit", DEFAULT_READ_WINDOW)
        self.sockets: dict[int, Socket | UdpSocket] = {}
        self.owned: dict[int, set[int]] = {}
        self._last_id = 0
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: int | None = None

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._thread = threading.get_ident()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            self._thread = None
            for sock in list(self.sockets.values()):
                self.destroy(sock)

    # ----- the entry point from services -----

    def request(self, service: Any, op: bytes, args: tuple[Any, ...]) -> Any:
        """One ``SOCKET`` core command: ``op`` with its arguments, for ``service``.

        From another thread, operations whose answer the caller can do without
        (writes, closes...) are queued onto the trio thread in order and
        answered at once; the others wait for the trio thread's answer.
        """
        if self._thread is None:
            return None, b"the socket server is not running"
        caller = service.handle
        if threading.get_ident() == self._thread:
            return self._request(caller, op, args)
        assert self._token is not None
        if op in self.queued:
            self._token.run_sync_soon(self._queued_request, caller, op, args)
            return self._would_accept(op, args)
        return trio.from_thread.run_sync(self._request, caller, op, args, trio_token=self._token)

    def _request(self, caller: int, op: bytes, args: tuple[Any, ...]) -> Any:
        handler = self.ops.get(op)
        if handler is None:
            raise ValueError(f"unknown socket operation {text(op)!r}")
        return handler(self, caller, *args)

    def _queued_request(self, caller: int, op: bytes, args: tuple[Any, ...]) -> None:
        try:
            self._request(caller, op, args)
        except Exception as exc:  # nobody waits for the answer: log it, keep trio alive
            self.log(caller, f"socket {text(op)} failed: {exc}")

    def _would_accept(self, op: bytes, args: tuple[Any, ...]) -> Any:
        """What a queued send will most likely answer (the socket may close meanwhile)."""
        if op not in (b"send", b"lsend", b"udp_send"):
            return None
        conn = self.get(args[0]) if args else None
        if isinstance(conn, UdpSocket):
            if op == b"udp_send":
                # As udp_send answers: a bad address fails, and a datagram
                # to the other family is dropped.
                address = args[1] if len(args) > 1 else None
                try:
                    family, _ = unpack_address(address if isinstance(address, bytes) else b"")
                except ValueError:
                    return None, b"invalid udp address"
                if family != conn.family:
                    return False
            return not conn.closed
        return isinstance(conn, Connection) and not (conn.closing or conn.closed)

    # ----- ids and owners -----

    def new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def add(self, sock: Socket | UdpSocket) -> None:
        self.sockets[sock.id] = sock
        if sock.owner:
            self.owned.setdefault(sock.owner, set()).add(sock.id)

    def set_owner(self, sock: Socket | UdpSocket, owner: int) -> None:
        if sock.owner == owner:
            return
        if sock.owner:
            ids = self.owned.get(sock.owner)
            if ids is not None:
                ids.discard(sock.id)
                if not ids:
                    del self.owned[sock.owner]
        sock.owner = owner
        if owner:
            self.owned.setdefault(owner, set()).add(sock.id)

    def get(self, sid: Any) -> Socket | UdpSocket | None:
        if isinstance(sid, float) and sid.is_integer():
            sid = int(sid)
        return self.sockets.get(sid) if isinstance(sid, int) else None

    def spawn(self, fn: Any, *args: Any) -> None:
        """Start a socket task in the server's nursery."""
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)

    def begin_reading(self, conn: Connection) -> None:
        if conn.read_done:
            return
        conn.started = True
        if conn.reader_running:
            conn.wake_reader()
        else:
            conn.reader_running = True
            self.spawn(conn.read_loop, self)

    def start_flush(self, conn: Connection) -> None:
        if not conn.flushing:
            conn.flushing = True
            self.spawn(conn.flush_loop, self)

    def release(self, owner: int) -> None:
        """The owner exited: close its sockets, as skynet does when a VM goes.

        Safe from any thread (a service may exit on a worker thread).
        """
        if self._thread is not None and threading.get_ident() != self._thread:
            assert self._token is not None
            self._token.run_sync_soon(self._release, owner)
        else:
            self._release(owner)

    def _release(self, owner: int) -> None:
        for sid in list(self.owned.pop(owner, ())):
            sock = self.sockets.get(sid)
            if sock is not None:
                sock.owner = 0
                self.destroy(sock)

    # ----- events -----

    def emit(self, sock: Socket | UdpSocket, event: int, ud: int = 0, data: bytes = b"") -> None:
        if sock.owner == 0:
            sock.stash.append((event, ud, data))
            return
        if not self.deliver(sock.owner, HEADER.pack(event, sock.id, ud) + data):
            self.destroy(sock)  # the owner is gone

    def end(self, sock: Socket | UdpSocket, event: int, data: bytes = b"") -> None:
        """Post the one CLOSE or ERROR a socket ever posts."""
        if isinstance(sock, Connection):
            if sock.ended:
                return
            sock.ended = True
        self.emit(sock, event, 0, data)

    def delivered(self, conn: Connection, data: bytes) -> None:
        conn.read_bytes += len(data)
        conn.rtime = self.now()
        self.emit(conn, DATA, self.held(conn), data)

    def held(self, conn: Connection) -> int:
        """The window if the connection waits for credit before reading on, else 0."""
        limit = max(self.read_window, conn.want)
        return limit if conn.outstanding >= limit else 0

    def read_eof(self, conn: Connection) -> None:
        conn.read_done = True
        self.end(conn, CLOSE)

    def read_failed(self, conn: Connection, exc: OSError) -> None:
        conn.read_done = True
        self.end(conn, ERROR, reason(exc).encode())
        self.destroy(conn)

    def write_failed(self, conn: Connection, exc: OSError) -> None:
        self.end(conn, ERROR, reason(exc).encode())
        self.destroy(conn)

    def count_write(self, conn: Connection, sent: int) -> None:
        if sent:
            conn.write_bytes += sent
            conn.wtime = self.now()

    def drained(self, conn: Connection) -> None:
        if conn.closing:
            self.destroy(conn)
        elif conn.warn_size:
            conn.warn_size = 0
            self.emit(conn, WARNING, 0)

    def accepted(self, listener: Listener, sock: socket.socket, peer: Any) -> None:
        configure(sock)
        conn = Connection(self.new_id(), sock, listener.owner, format_address(peer))
        self.add(conn)
        listener.rtime = self.now()
        self.emit(listener, ACCEPT, conn.id, conn.peer.encode())

    def accept_failed(self, listener: Listener, exc: OSError) -> None:
        self.emit(listener, ERROR, 0, f"accept failed: {reason(exc)}".encode())

    def datagram(self, sock: UdpSocket, data: bytes, sender: bytes) -> None:
        sock.rtime = self.now()
        if sock.owner == 0 and len(sock.stash) >= UDP_STASH:
            return  # nobody owns it (abandoned): keep a bounded backlog, as UDP drops
        self.emit(sock, UDP, len(data), data + sender)

    def udp_failed(self, sock: UdpSocket, exc: OSError) -> None:
        self.emit(sock, ERROR, 0, reason(exc).encode())
        self.destroy(sock)

    # ----- closing -----

    def _stop_reading(self, conn: Connection) -> None:
        conn.read_done = True
        conn.started = False
        conn.read_scope.cancel()

    def destroy(self, sock: Socket | UdpSocket) -> None:
        """Close the fd and forget the id. Idempotent."""
        if sock.closed:
            return
        sock.closed = True
        if isinstance(sock, Listener | UdpSocket):
            sock.scope.cancel()
        else:
            self._stop_reading(sock)
            sock.drop_writes()
            if sock.connect_scope is not None:
                sock.connect_scope.cancel()
        if sock.sock is not None:
            if self._thread is not None:
                trio.lowlevel.notify_closing(sock.sock)
            sock.sock.close()
        self.sockets.pop(sock.id, None)
        self.set_owner(sock, 0)

    def close(self, sock: Socket | UdpSocket, graceful: bool) -> None:
        if isinstance(sock, Listener | UdpSocket):
            self.emit(sock, CLOSE)
            self.destroy(sock)
            return
        self._stop_reading(sock)
        self.end(sock, CLOSE)
        if graceful and sock.wbuffer and sock.sock is not None:
            sock.closing = True  # the flush task closes it once the queue is out
        else:
            self.destroy(sock)
