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

Threading: everything here runs on the trio thread. :meth:`request` is the
only entry from services, and hops onto the trio thread when called from
another thread (the node's future worker threads).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

import trio

from . import _ptype as ptypes
from ._errors import ConfigError
from ._pack import pack
from ._tcp import Connection, Listener, Socket, configure, format_address

if TYPE_CHECKING:
    from ._node import Node

DATA, CONNECT, CLOSE, ACCEPT, ERROR, WARNING = 1, 2, 3, 4, 5, 7

HEADER = struct.Struct(">BIq")

#: Config ``socket_send_buffer_limit``: bytes queued for one connection
#: before it is closed (a peer that does not read).
DEFAULT_SEND_LIMIT = 8 * 1024 * 1024
#: Config ``socket_read_buffer_limit``: bytes a connection delivers to its
#: owner and the owner has not consumed, before it stops reading.
DEFAULT_READ_WINDOW = 256 * 1024
#: Queued bytes at which the owner first gets a WARNING (doubles each time).
WARNING_SIZE = 1024 * 1024
#: Default listen backlog.
BACKLOG = socket.SOMAXCONN


def _size(config: dict[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    try:
        size = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        size = -1
    if size <= 0 or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{key} must be a positive number of bytes, not {value!r}")
    return size


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class SocketServer:
    """Owned by the Node; runs its socket tasks in a nursery of its own."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.send_limit = _size(node.config, "socket_send_buffer_limit", DEFAULT_SEND_LIMIT)
        self.read_window = _size(node.config, "socket_read_buffer_limit", DEFAULT_READ_WINDOW)
        self.sockets: dict[int, Socket] = {}
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
                self._destroy(sock)

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
        if op in _QUEUED_OPS:
            self._token.run_sync_soon(self._queued_request, caller, op, args)
            return self._would_accept(op, args)
        return trio.from_thread.run_sync(self._request, caller, op, args, trio_token=self._token)

    def _request(self, caller: int, op: bytes, args: tuple[Any, ...]) -> Any:
        handler = _OPS.get(op)
        if handler is None:
            raise ValueError(f"unknown socket operation {_text(op)!r}")
        return handler(self, caller, *args)

    def _queued_request(self, caller: int, op: bytes, args: tuple[Any, ...]) -> None:
        try:
            self._request(caller, op, args)
        except Exception as exc:  # nobody waits for the answer: log it, keep trio alive
            self.node.logger.log(caller, f"socket {_text(op)} failed: {exc}")

    def _would_accept(self, op: bytes, args: tuple[Any, ...]) -> bool | None:
        """What a queued send will most likely answer (the socket may close meanwhile)."""
        if op not in (b"send", b"lsend"):
            return None
        conn = self._get(args[0]) if args else None
        return isinstance(conn, Connection) and not (conn.closing or conn.closed)

    # ----- ids and owners -----

    def _new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _add(self, sock: Socket) -> None:
        self.sockets[sock.id] = sock
        if sock.owner:
            self.owned.setdefault(sock.owner, set()).add(sock.id)

    def _set_owner(self, sock: Socket, owner: int) -> None:
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

    def _get(self, sid: Any) -> Socket | None:
        if isinstance(sid, float) and sid.is_integer():
            sid = int(sid)
        return self.sockets.get(sid) if isinstance(sid, int) else None

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
                self._destroy(sock)

    # ----- events -----

    def _emit(self, sock: Socket, event: int, ud: int = 0, data: bytes = b"") -> None:
        if sock.owner == 0:
            sock.stash.append((event, ud, data))
            return
        service = self.node.registry.services.get(sock.owner)
        if service is None or service.dead:
            self._destroy(sock)
            return
        self.node.post(service, ptypes.SOCKET, 0, 0, HEADER.pack(event, sock.id, ud) + data)

    def _end(self, sock: Socket, event: int, data: bytes = b"") -> None:
        """Post the one CLOSE or ERROR a socket ever posts."""
        if isinstance(sock, Connection):
            if sock.ended:
                return
            sock.ended = True
        self._emit(sock, event, 0, data)

    def delivered(self, conn: Connection, data: bytes) -> None:
        conn.read_bytes += len(data)
        conn.rtime = self.node.now()
        self._emit(conn, DATA, self._held(conn), data)

    def _held(self, conn: Connection) -> int:
        """The window if the connection waits for credit before reading on, else 0."""
        limit = max(self.read_window, conn.want)
        return limit if conn.outstanding >= limit else 0

    def read_eof(self, conn: Connection) -> None:
        conn.read_done = True
        self._end(conn, CLOSE)

    def read_failed(self, conn: Connection, exc: OSError) -> None:
        conn.read_done = True
        self._end(conn, ERROR, _reason(exc).encode())
        self._destroy(conn)

    def write_failed(self, conn: Connection, exc: OSError) -> None:
        self._end(conn, ERROR, _reason(exc).encode())
        self._destroy(conn)

    def count_write(self, conn: Connection, sent: int) -> None:
        if sent:
            conn.write_bytes += sent
            conn.wtime = self.node.now()

    def drained(self, conn: Connection) -> None:
        if conn.closing:
            self._destroy(conn)
        elif conn.warn_size:
            conn.warn_size = 0
            self._emit(conn, WARNING, 0)

    def accepted(self, listener: Listener, sock: socket.socket, peer: Any) -> None:
        configure(sock)
        conn = Connection(self._new_id(), sock, listener.owner, format_address(peer))
        self._add(conn)
        listener.rtime = self.node.now()
        self._emit(listener, ACCEPT, conn.id, conn.peer.encode())

    def accept_failed(self, listener: Listener, exc: OSError) -> None:
        self._emit(listener, ERROR, 0, f"accept failed: {_reason(exc)}".encode())

    # ----- closing -----

    def _stop_reading(self, conn: Connection) -> None:
        conn.read_done = True
        conn.started = False
        conn.read_scope.cancel()

    def _destroy(self, sock: Socket) -> None:
        """Close the fd and forget the id. Idempotent."""
        if sock.closed:
            return
        sock.closed = True
        if isinstance(sock, Listener):
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
        self._set_owner(sock, 0)

    def _close(self, sock: Socket, graceful: bool) -> None:
        if isinstance(sock, Listener):
            self._emit(sock, CLOSE)
            self._destroy(sock)
            return
        self._stop_reading(sock)
        self._end(sock, CLOSE)
        if graceful and sock.wbuffer and sock.sock is not None:
            sock.closing = True  # the flush task closes it once the queue is out
        else:
            self._destroy(sock)

    # ----- operations (op name -> method, see _OPS) -----

    def op_listen(self, caller: int, host: Any, port: Any, backlog: Any = 0) -> Any:
        where = f"{_text(host)}:{port}"
        try:
            number = int(port)
            infos = socket.getaddrinfo(
                _text(host) or None, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
        except (OSError, ValueError, TypeError, OverflowError) as exc:
            return None, f"listen {where} failed: {exc}".encode()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(int(backlog) if backlog else BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            return None, f"listen {where} failed: {_reason(exc)}".encode()
        listener = Listener(self._new_id(), sock, caller)
        self._add(listener)
        return listener.id, listener.host.encode(), listener.port

    def op_connect(self, caller: int, host: Any, port: Any) -> Any:
        try:
            number = int(port)
        except (TypeError, ValueError):
            return None, f"connect {_text(host)}:{port} failed: bad port".encode()
        conn = Connection(self._new_id(), None, caller, f"{_text(host)}:{number}")
        conn.connect_scope = trio.CancelScope()
        self._add(conn)
        assert self._nursery is not None
        self._nursery.start_soon(self._connect, conn, _text(host), number)
        return conn.id

    async def _connect(self, conn: Connection, host: str, port: int) -> None:
        assert conn.connect_scope is not None
        sock = None
        with conn.connect_scope:
            try:
                sock = await _open_tcp(host, port)
            except OSError as exc:
                self._end(conn, ERROR, f"connect {host}:{port} failed: {_reason(exc)}".encode())
                self._destroy(conn)
                return
        if sock is None or conn.closed:
            if sock is not None:
                sock.close()
            return
        conn.sock = sock
        conn.connect_scope = None
        conn.peer = format_address(sock.getpeername())
        self._emit(conn, CONNECT, port, conn.peer.encode())
        self._begin_reading(conn)
        if conn.wbuffer:
            self._start_flush(conn)

    def op_start(self, caller: int, sid: Any) -> Any:
        sock = self._get(sid)
        if sock is None:
            return None, f"invalid socket id {sid}".encode()
        changed = sock.owner != caller
        self._set_owner(sock, caller)
        stash, sock.stash = sock.stash, []
        for event, ud, data in stash:
            self._emit(sock, event, ud, data)
        if isinstance(sock, Listener):
            if not sock.accepting:
                sock.accepting = True
                assert self._nursery is not None
                self._nursery.start_soon(sock.accept_loop, self)
            return True
        if changed:
            # The new owner's buffer is empty: what went to the old one is gone.
            sock.outstanding = sock.want = 0
            if sock.ended and not stash:
                sock.ended = False
                self._end(sock, CLOSE)
        if sock.sock is not None and not sock.closing:
            self._begin_reading(sock)
        return True

    def _begin_reading(self, conn: Connection) -> None:
        if conn.read_done:
            return
        conn.started = True
        if conn.reader_running:
            conn.wake_reader()
        else:
            conn.reader_running = True
            assert self._nursery is not None
            self._nursery.start_soon(conn.read_loop, self)

    def op_pause(self, caller: int, sid: Any) -> None:
        sock = self._get(sid)
        if isinstance(sock, Connection):
            sock.started = False

    def op_abandon(self, caller: int, sid: Any) -> None:
        """The caller hands the socket on: stop reading until someone starts it."""
        sock = self._get(sid)
        if sock is not None and sock.owner == caller:
            if isinstance(sock, Connection):
                sock.started = False
            self._set_owner(sock, 0)

    def op_ack(self, caller: int, sid: Any, consumed: Any, want: Any = 0) -> int | None:
        """Credit back: ``consumed`` bytes were used; ``want`` buffered are needed.

        Returns the read window if the connection still waits for credit.
        """
        conn = self._get(sid)
        if not isinstance(conn, Connection):
            return None
        conn.outstanding = max(0, conn.outstanding - int(consumed))
        conn.want = max(0, int(want or 0))
        held = self._held(conn)
        if not held:
            conn.wake_reader()
        return held or None

    def op_send(self, caller: int, sid: Any, data: Any, low: bool = False) -> bool:
        conn = self._get(sid)
        if not isinstance(conn, Connection) or conn.closing or conn.closed:
            return False
        if not isinstance(data, bytes):
            data = _text(data).encode()
        if not data:
            return True
        if not conn.wbuffer and conn.sock is not None:
            try:
                sent = conn.send_now(data)
            except OSError as exc:
                self.write_failed(conn, exc)
                return False
            self.count_write(conn, sent)
            if sent == len(data):
                return True
            conn.queue(memoryview(data)[sent:], low)
        else:
            conn.queue(data, low)
        if conn.wbuffer > self.send_limit:
            self.node.logger.log(
                conn.owner,
                f"socket {conn.id} ({conn.peer}): {conn.wbuffer} bytes waiting to be sent "
                f"exceed socket_send_buffer_limit ({self.send_limit}); closing it",
            )
            self._end(conn, ERROR, b"send buffer overflow")
            self._destroy(conn)
            return False
        if conn.wbuffer >= WARNING_SIZE and conn.wbuffer >= conn.warn_size:
            conn.warn_size = conn.warn_size * 2 if conn.warn_size else WARNING_SIZE * 2
            self._emit(conn, WARNING, -(-conn.wbuffer // 1024))
        if conn.sock is not None:
            self._start_flush(conn)
        return True

    def op_lsend(self, caller: int, sid: Any, data: Any) -> bool:
        return self.op_send(caller, sid, data, True)

    def _start_flush(self, conn: Connection) -> None:
        if not conn.flushing:
            conn.flushing = True
            assert self._nursery is not None
            self._nursery.start_soon(conn.flush_loop, self)

    def op_close(self, caller: int, sid: Any) -> None:
        sock = self._get(sid)
        if sock is not None:
            self._close(sock, graceful=True)

    def op_shutdown(self, caller: int, sid: Any) -> None:
        sock = self._get(sid)
        if sock is not None:
            self._close(sock, graceful=False)

    def op_nodelay(self, caller: int, sid: Any) -> None:
        sock = self._get(sid)
        if isinstance(sock, Connection) and sock.sock is not None:
            sock.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def op_sendbuffer(self, caller: int, sid: Any) -> int:
        sock = self._get(sid)
        return sock.wbuffer if isinstance(sock, Connection) else 0

    def op_info(self, caller: int) -> bytes:
        return pack([sock.info() for sock in sorted(self.sockets.values(), key=lambda s: s.id)])


async def _open_tcp(host: str, port: int) -> socket.socket:
    """Connect a non-blocking TCP socket, trying each address of ``host``."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    failure: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            configure(sock)
            try:
                sock.connect(address)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err)) from None
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
        except BaseException:
            sock.close()
            raise
    raise failure


#: Operations a thread other than trio's does not wait for (see request).
_QUEUED_OPS = frozenset(
    (b"send", b"lsend", b"close", b"shutdown", b"pause", b"abandon", b"nodelay")
)

_OPS: dict[bytes, Any] = {
    b"listen": SocketServer.op_listen,
    b"connect": SocketServer.op_connect,
    b"start": SocketServer.op_start,
    b"pause": SocketServer.op_pause,
    b"abandon": SocketServer.op_abandon,
    b"ack": SocketServer.op_ack,
    b"send": SocketServer.op_send,
    b"lsend": SocketServer.op_lsend,
    b"close": SocketServer.op_close,
    b"shutdown": SocketServer.op_shutdown,
    b"nodelay": SocketServer.op_nodelay,
    b"sendbuffer": SocketServer.op_sendbuffer,
    b"info": SocketServer.op_info,
}
