"""``TLS``: what skynet's ``ltls.c`` gives ``http.tlshelper``, over Python's ``ssl``.

skynet runs OpenSSL on memory BIOs: the Lua side reads ciphertext from the
socket, hands it to the TLS object, and writes out what the object produces.
Here the same object is an :class:`ssl.SSLObject` on two
:class:`ssl.MemoryBIO`, kept by the node. Lua sees numeric ids and strings,
never a Python object:

=========================== ==================================================
``newctx()``                a context id (its kind is fixed by the first
                            ``newtls``: client or server)
``set_cert(ctx, cert, key)`` load a PEM certificate chain and its key
``set_ciphers(ctx, list)``  OpenSSL cipher list
``newtls(ctx, method, host)`` a connection id; method is "client" or "server"
``set_host(tls, host)``     SNI name of a client, before its first handshake
``handshake(tls, data)``    feed peer bytes; answers the bytes to send (or
                            nil) and whether the handshake is done
``finished(tls)``           the handshake is done
``read(tls, data)``         feed peer bytes; answers the plaintext they held
``write(tls, data)``        answers the ciphertext of ``data``
``close(tls)``, ``freectx(ctx)`` forget it
=========================== ==================================================

As skynet's ltls, a client does not verify the server's certificate (skynet
never loads a CA store). Lifetime follows services, not Lua's collector: what
a service holds goes when the service is gone (swept as new objects come).
Bad input and TLS failures raise :class:`TlsError`, a one-line error in the
calling Lua code.
"""

from __future__ import annotations

import ssl
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._core._errors import SkyletError

if TYPE_CHECKING:
    from .._core._service import Service
    from ._host import Host as Node

#: Bytes asked of an SSLObject per read.
READ_SIZE = 64 * 1024


class TlsError(SkyletError):
    """A TLS operation failed (bad certificate, garbage from the peer...)."""


@dataclass
class _Context:
    owner: int
    certfile: str | None = None
    keyfile: str | None = None
    ciphers: str | None = None
    built: dict[bool, ssl.SSLContext] = field(default_factory=dict)

    def ssl_context(self, server: bool) -> ssl.SSLContext:
        ctx = self.built.get(server)
        if ctx is None:
            if server:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                if self.certfile is None:
                    raise TlsError("tls: a server context needs set_cert(certfile, keyfile) first")
                ctx.load_cert_chain(self.certfile, self.keyfile)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                # skynet's ltls loads no CA store and verifies nothing.
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.ciphers is not None:
                ctx.set_ciphers(self.ciphers)
            self.built[server] = ctx
        return ctx


@dataclass
class _Conn:
    owner: int
    context: _Context
    server: bool
    hostname: str | None
    incoming: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)
    outgoing: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)
    obj: ssl.SSLObject | None = None
    done: bool = False
    eof: bool = False

    def sslobj(self) -> ssl.SSLObject:
        if self.obj is None:
            ctx = self.context.ssl_context(self.server)
            self.obj = ctx.wrap_bio(
                self.incoming,
                self.outgoing,
                server_side=self.server,
                server_hostname=None if self.server else self.hostname,
            )
        return self.obj


def _why(exc: ssl.SSLError) -> str:
    return exc.reason or exc.strerror or str(exc)


class TlsStore:
    """The TLS contexts and connections of one node, by id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contexts: dict[int, _Context] = {}
        self.conns: dict[int, _Conn] = {}
        self.last_id = 0
        self.sweep_at = 64

    def new_id(self, node: Node) -> int:
        if len(self.conns) + len(self.contexts) >= self.sweep_at:
            self.sweep(node)
            self.sweep_at = 2 * (len(self.conns) + len(self.contexts)) + 64
        self.last_id += 1
        return self.last_id

    def sweep(self, node: Node) -> None:
        for cid, ctx in list(self.contexts.items()):
            if node.resolve(ctx.owner) is None:
                del self.contexts[cid]
        for tid, conn in list(self.conns.items()):
            if node.resolve(conn.owner) is None:
                del self.conns[tid]

    def context(self, service: Service, cid: Any) -> _Context:
        ctx = self.contexts.get(cid) if isinstance(cid, int) else None
        if ctx is None or ctx.owner != service.handle:
            raise TlsError(f"tls: no context {cid!r}")
        return ctx

    def conn(self, service: Service, tid: Any) -> _Conn:
        conn = self.conns.get(tid) if isinstance(tid, int) else None
        if conn is None or conn.owner != service.handle:
            raise TlsError(f"tls: no connection {tid!r} (closed?)")
        return conn


_stores: weakref.WeakKeyDictionary[Any, TlsStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def _store(node: Node) -> TlsStore:
    store = _stores.get(node)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(node, TlsStore())
    return store


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TlsError(f"tls: {what} must be a string, not {type(value).__name__}")


def _data(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    raise TlsError(f"tls: data must be a string, not {type(value).__name__}")


def _feed(conn: _Conn, data: bytes) -> None:
    if data:
        conn.incoming.write(data)


def _handshake(conn: _Conn, data: bytes) -> tuple[bytes | None, bool]:
    if conn.done:
        raise TlsError("tls: handshake is finished")
    _feed(conn, data)
    try:
        conn.sslobj().do_handshake()
        conn.done = True
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError as exc:
        raise TlsError(f"tls handshake failed: {_why(exc)}") from None
    out = conn.outgoing.read()
    return (out or None), conn.done


def _read(conn: _Conn, data: bytes) -> bytes:
    _feed(conn, data)
    obj = conn.sslobj()
    chunks = []
    while not conn.eof:
        try:
            chunk = obj.read(READ_SIZE)
        except ssl.SSLWantReadError:
            break
        except ssl.SSLZeroReturnError:
            conn.eof = True
            break
        except ssl.SSLError as exc:
            raise TlsError(f"tls read failed: {_why(exc)}") from None
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _write(conn: _Conn, data: bytes) -> bytes:
    obj = conn.sslobj()
    try:
        if data:
            obj.write(data)
    except ssl.SSLError as exc:
        raise TlsError(f"tls write failed: {_why(exc)}") from None
    return conn.outgoing.read()


def tls(
    node: Node, service: Service, op: Any, oid: Any = None, a: Any = None, b: Any = None
) -> Any:
    """One ``TLS`` operation (see the module's table)."""
    store = _store(node)
    if op == b"newctx":
        with store.lock:
            cid = store.new_id(node)
            store.contexts[cid] = _Context(service.handle)
        return cid
    if op == b"newtls":
        ctx = store.context(service, oid)
        method = _text(a, "method")
        if method not in ("client", "server"):
            raise TlsError(f"tls: invalid method {method!r} (client or server)")
        host = None if b is None else _text(b, "hostname")
        with store.lock:
            tid = store.new_id(node)
            store.conns[tid] = _Conn(service.handle, ctx, method == "server", host)
        return tid
    if op == b"set_cert":
        ctx = store.context(service, oid)
        cert, key = _text(a, "certfile"), _text(b, "keyfile")
        try:  # load now, to fail here with the reason rather than at the first handshake
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"tls: set_cert({cert}, {key}) failed: {exc}") from None
        ctx.certfile, ctx.keyfile, ctx.built = cert, key, {}
        return None
    if op == b"set_ciphers":
        ctx = store.context(service, oid)
        ciphers = _text(a, "cipher list")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(ciphers)
        except ssl.SSLError as exc:
            raise TlsError(f"tls: set_ciphers({ciphers}) failed: {_why(exc)}") from None
        ctx.ciphers, ctx.built = ciphers, {}
        return None
    if op == b"freectx":
        with store.lock:
            if isinstance(oid, int) and oid in store.contexts:
                store.context(service, oid)
                del store.contexts[oid]
        return None
    if op == b"close":
        with store.lock:
            conn = store.conns.get(oid) if isinstance(oid, int) else None
            if conn is not None and conn.owner == service.handle:
                del store.conns[oid]
        return None
    conn = store.conn(service, oid)
    if op == b"handshake":
        return _handshake(conn, _data(a))
    if op == b"finished":
        return conn.done
    if op == b"read":
        return _read(conn, _data(a))
    if op == b"write":
        return _write(conn, _data(a))
    if op == b"set_host":
        if conn.obj is not None:
            raise TlsError("tls: set_ext_host_name after the handshake began")
        conn.hostname = _text(a, "hostname")
        return 1
    raise TlsError(f"tls: unknown operation {op!r}")
