"""What services ask of the socket server: one function per ``SOCKET`` sub-operation.

Each takes the server and the caller's handle, then the arguments the Lua
side passed (``skynet.socketdriver``), and answers with bytes, numbers,
booleans or None; a failure the caller should see is ``(None, message)``.
All run on the trio thread (``SocketServer.request`` sees to that).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from .._core._pack import pack
from ._tcp import (
    CLOSE,
    CONNECT,
    ERROR,
    WARNING,
    Connection,
    Listener,
    configure,
    format_address,
    reason,
    text,
)
from ._udp import UdpSocket
from ._udp_ops import UDP_OPS, send_datagram

if TYPE_CHECKING:
    from ._sockets import SocketServer

#: Queued bytes at which the owner first gets a WARNING (doubles each time).
WARNING_SIZE = 1024 * 1024
#: Default listen backlog.
BACKLOG = socket.SOMAXCONN


def listen(server: SocketServer, caller: int, host: Any, port: Any, backlog: Any = 0) -> Any:
    where = f"{text(host)}:{port}"
    try:
        number = int(port)
        infos = socket.getaddrinfo(
            text(host) or None, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
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
        return None, f"listen {where} failed: {reason(exc)}".encode()
    listener = Listener(server.new_id(), sock, caller)
    server.add(listener)
    return listener.id, listener.host.encode(), listener.port


def connect(server: SocketServer, caller: int, host: Any, port: Any) -> Any:
    try:
        number = int(port)
    except (TypeError, ValueError):
        return None, f"connect {text(host)}:{port} failed: bad port".encode()
    conn = Connection(server.new_id(), None, caller, f"{text(host)}:{number}")
    conn.connect_scope = trio.CancelScope()
    server.add(conn)
    server.spawn(_connect, server, conn, text(host), number)
    return conn.id


async def _connect(server: SocketServer, conn: Connection, host: str, port: int) -> None:
    assert conn.connect_scope is not None
    sock = None
    with conn.connect_scope:
        try:
            sock = await _open_tcp(host, port)
        except OSError as exc:
            server.end(conn, ERROR, f"connect {host}:{port} failed: {reason(exc)}".encode())
            server.destroy(conn)
            return
    if sock is None or conn.closed:
        if sock is not None:
            sock.close()
        return
    conn.sock = sock
    conn.connect_scope = None
    conn.peer = format_address(sock.getpeername())
    server.emit(conn, CONNECT, port, conn.peer.encode())
    server.begin_reading(conn)
    if conn.wbuffer:
        server.start_flush(conn)


def start(server: SocketServer, caller: int, sid: Any) -> Any:
    sock = server.get(sid)
    if sock is None:
        return None, f"invalid socket id {sid}".encode()
    changed = sock.owner != caller
    server.set_owner(sock, caller)
    stash, sock.stash = sock.stash, []
    for event, ud, data in stash:
        server.emit(sock, event, ud, data)
    if isinstance(sock, UdpSocket):
        return True  # reads from creation
    if isinstance(sock, Listener):
        if not sock.accepting:
            sock.accepting = True
            server.spawn(sock.accept_loop, server)
        return True
    if changed:
        # The new owner's buffer is empty: what went to the old one is gone.
        sock.outstanding = sock.want = 0
        if sock.ended and not stash:
            sock.ended = False
            server.end(sock, CLOSE)
    if sock.sock is not None and not sock.closing:
        server.begin_reading(sock)
    return True


def pause(server: SocketServer, caller: int, sid: Any) -> None:
    sock = server.get(sid)
    if isinstance(sock, Connection):
        sock.started = False


def abandon(server: SocketServer, caller: int, sid: Any) -> None:
    """The caller hands the socket on: stop reading until someone starts it."""
    sock = server.get(sid)
    if sock is not None and sock.owner == caller:
        if isinstance(sock, Connection):
            sock.started = False
        server.set_owner(sock, 0)


def ack(server: SocketServer, caller: int, sid: Any, consumed: Any, want: Any = 0) -> int | None:
    """Credit back: ``consumed`` bytes were used; ``want`` buffered are needed.

    Returns the read window if the connection still waits for credit.
    """
    conn = server.get(sid)
    if not isinstance(conn, Connection):
        return None
    conn.outstanding = max(0, conn.outstanding - int(consumed))
    conn.want = max(0, int(want or 0))
    held = server.held(conn)
    if not held:
        conn.wake_reader()
    return held or None


def send(server: SocketServer, caller: int, sid: Any, data: Any, low: bool = False) -> bool:
    conn = server.get(sid)
    if isinstance(conn, UdpSocket):  # to the address of udp_connect / udp_dial
        return not conn.closed and send_datagram(server, conn, data, conn.peer)
    if not isinstance(conn, Connection) or conn.closing or conn.closed:
        return False
    if not isinstance(data, bytes):
        data = text(data).encode()
    if not data:
        return True
    if not conn.wbuffer and conn.sock is not None:
        try:
            sent = conn.send_now(data)
        except OSError as exc:
            server.write_failed(conn, exc)
            return False
        server.count_write(conn, sent)
        if sent == len(data):
            return True
        # A low-priority buffer the kernel has begun must finish first: its
        # rest is queued as normal priority.
        conn.queue(memoryview(data)[sent:], low and sent == 0)
    else:
        conn.queue(data, low)
    if conn.wbuffer > server.send_limit:
        server.log(
            conn.owner,
            f"socket {conn.id} ({conn.peer}): {conn.wbuffer} bytes waiting to be sent "
            f"exceed socket_send_buffer_limit ({server.send_limit}); closing it",
        )
        server.end(conn, ERROR, b"send buffer overflow")
        server.destroy(conn)
        return False
    if conn.wbuffer >= WARNING_SIZE and conn.wbuffer >= conn.warn_size:
        conn.warn_size = conn.warn_size * 2 if conn.warn_size else WARNING_SIZE * 2
        server.emit(conn, WARNING, -(-conn.wbuffer // 1024))
    if conn.sock is not None:
        server.start_flush(conn)
    return True


def lsend(server: SocketServer, caller: int, sid: Any, data: Any) -> bool:
    return send(server, caller, sid, data, True)


def close(server: SocketServer, caller: int, sid: Any) -> None:
    sock = server.get(sid)
    if sock is not None:
        server.close(sock, graceful=True)


def shutdown(server: SocketServer, caller: int, sid: Any) -> None:
    sock = server.get(sid)
    if sock is not None:
        server.close(sock, graceful=False)


def nodelay(server: SocketServer, caller: int, sid: Any) -> None:
    sock = server.get(sid)
    if isinstance(sock, Connection) and sock.sock is not None:
        sock.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def sendbuffer(server: SocketServer, caller: int, sid: Any) -> int:
    sock = server.get(sid)
    return sock.wbuffer if isinstance(sock, Connection) else 0


def info(server: SocketServer, caller: int) -> bytes:
    return pack([sock.info() for sock in sorted(server.sockets.values(), key=lambda s: s.id)])


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


#: Operations a thread other than trio's does not wait for (see SocketServer.request).
QUEUED_OPS = frozenset(
    (b"send", b"lsend", b"close", b"shutdown", b"pause", b"abandon", b"nodelay", b"udp_send")
)

OPS: dict[bytes, Callable[..., Any]] = {
    b"listen": listen,
    b"connect": connect,
    b"start": start,
    b"pause": pause,
    b"abandon": abandon,
    b"ack": ack,
    b"send": send,
    b"lsend": lsend,
    b"close": close,
    b"shutdown": shutdown,
    b"nodelay": nodelay,
    b"sendbuffer": sendbuffer,
    b"info": info,
    **UDP_OPS,
}
