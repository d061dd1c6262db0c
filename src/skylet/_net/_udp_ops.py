"""The UDP operations of ``SOCKET`` (skynet's socketdriver.udp*), and name resolution.

Like the TCP operations in ``_socket_ops.py``, each takes the server and the
caller's handle, then the Lua side's arguments; a failure the caller should
see is ``(None, message)``, which ``skynet.socketdriver`` raises.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._tcp import reason, text
from ._udp import UdpSocket, unpack_address

if TYPE_CHECKING:
    from ._sockets import SocketServer


def _lookup(host: str, port: int) -> tuple[int, tuple[str, int]]:
    """(family, sockaddr) of the first address of host:port, as skynet's getaddrinfo.

    A literal address costs nothing; a name is looked up on the spot (as
    skynet does, in the caller): /etc/hosts names are quick, others block.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, address = infos[0]
    return family, (str(address[0]), int(address[1]))


def _port(port: Any) -> int:
    number = int(port or 0)
    if not 0 <= number <= 65535:
        raise ValueError(f"bad port {port}")
    return number


def _open(server: SocketServer, caller: int, family: int, bind: Any = None) -> UdpSocket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if bind is not None:
            sock.bind(bind)
    except BaseException:
        sock.close()
        raise
    udp = UdpSocket(server.new_id(), sock, caller)
    server.add(udp)
    server.spawn(udp.read_loop, server)
    return udp


def udp(server: SocketServer, caller: int, host: Any = None, port: Any = 0) -> Any:
    """A UDP socket, bound to host:port when either is given (else IPv4, unbound)."""
    name = text(host) if host is not None else ""
    where = f"{name}:{port}"
    try:
        number = _port(port)
        if name or number:
            family, address = _lookup(name or "0.0.0.0", number)
            return _open(server, caller, family, address).id
        return _open(server, caller, socket.AF_INET).id
    except (OSError, ValueError, TypeError, OverflowError) as exc:
        return None, f"udp {where} failed: {_why(exc)}".encode()


def udp_listen(server: SocketServer, caller: int, host: Any, port: Any) -> Any:
    if not port:
        return None, b"udp_listen needs a port"
    return udp(server, caller, host, port)


def udp_dial(server: SocketServer, caller: int, host: Any, port: Any) -> Any:
    """An unbound UDP socket of host's family, whose writes go to host:port."""
    where = f"{text(host)}:{port}"
    try:
        family, address = _lookup(text(host), _port(port))
        sock = _open(server, caller, family)
    except (OSError, ValueError, TypeError, OverflowError) as exc:
        return None, f"udp_dial {where} failed: {_why(exc)}".encode()
    sock.peer = address
    return sock.id


def udp_connect(server: SocketServer, caller: int, sid: Any, host: Any, port: Any) -> Any:
    """Where socket.write on sid goes from now on (no connect(2): anyone may answer)."""
    sock = server.get(sid)
    where = f"{text(host)}:{port}"
    if not isinstance(sock, UdpSocket):
        return None, f"udp_connect {where}: {sid} is not a UDP socket".encode()
    try:
        family, address = _lookup(text(host), _port(port))
    except (OSError, ValueError, TypeError, OverflowError) as exc:
        return None, f"udp_connect {where} failed: {_why(exc)}".encode()
    if family != sock.family:
        return None, f"udp_connect {where} failed: protocol mismatch".encode()
    sock.peer = address
    return True


def udp_send(server: SocketServer, caller: int, sid: Any, address: Any, data: Any) -> Any:
    """One datagram to ``address`` (a udp address blob); False if it was dropped."""
    sock = server.get(sid)
    if not isinstance(sock, UdpSocket) or sock.closed:
        return False
    try:
        family, peer = unpack_address(address if isinstance(address, bytes) else b"")
    except ValueError:
        return None, b"invalid udp address"
    if family != sock.family:
        return False  # skynet drops a datagram to the other family
    return send_datagram(server, sock, data, peer)


def send_datagram(server: SocketServer, sock: UdpSocket, data: Any, peer: Any) -> bool:
    if peer is None:
        return False  # nowhere to go: neither udp_connect nor udp_dial
    if not isinstance(data, bytes):
        data = text(data).encode()
    if sock.wbuffer + len(data) > server.send_limit:
        return False
    ok = sock.sendto(data, peer)
    if ok:
        sock.wtime = server.now()
    if sock.queue and not sock.flushing:
        sock.flushing = True
        server.spawn(sock.flush_loop, server)
    return ok


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return reason(exc)
    return str(exc) or type(exc).__name__


def resolve(host: Any) -> tuple[Any, ...]:
    """Every address of a host name (skynet's socket.resolve), each once, in
    the resolver's order; or (None, the resolver's reason). Runs in the
    caller's thread: it blocks the caller as skynet's does, not the node."""
    try:
        infos = socket.getaddrinfo(text(host), None)
    except (OSError, UnicodeError) as exc:
        return None, f"resolve {text(host)}: {_why(exc)}".encode()
    found: list[bytes] = []
    for _, _, _, _, address in infos:
        ip = str(address[0]).encode()
        if ip not in found:
            found.append(ip)
    return tuple(found)


UDP_OPS: dict[bytes, Callable[..., Any]] = {
    b"udp": udp,
    b"udp_listen": udp_listen,
    b"udp_dial": udp_dial,
    b"udp_connect": udp_connect,
    b"udp_send": udp_send,
}
