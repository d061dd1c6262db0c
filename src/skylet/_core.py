"""The only Python a service can reach: ``send`` and ``command``.

Each service gets its own pair of closures (so the source address of what it
sends cannot be forged) and nothing else; ``skynet.lua`` builds the whole
service API on top of them, as skynet's ``skynet.core`` C module does.
Lua strings arrive here as ``bytes``; everything handed back to Lua is
bytes, numbers, booleans or None.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _ptype as ptypes
from . import _servicelog as servicelog
from ._codecache import CodeCacheMode, CompileError
from ._errors import SkyletError
from ._globalnames import is_global
from ._monitor import interrupt
from ._paths import search
from ._scheduler import Scheduler
from ._service import Service
from ._workers import ThreadedScheduler

if TYPE_CHECKING:
    from ._node import Node

#: Message types that answer a request rather than make one.
ANSWERS = frozenset((ptypes.RESPONSE, ptypes.ERROR))


def make_send(node: Node, service: Service) -> Callable[..., bool | None]:
    """``send(dest, ptype, session, msg)``: the hot path of every message."""
    if node.threads > 1:
        return _make_threaded_send(node, service)
    services = node.registry.services
    pending = node.pending
    scheduler = node.scheduler
    assert isinstance(scheduler, Scheduler)
    runq = scheduler.runq
    source = service.handle

    def send(dest: Any, ptype: int, session: int, msg: Any) -> bool | None:
        target = services.get(dest)
        if target is None:
            target = node.resolve(dest)
            if target is None:
                if session and ptype in ANSWERS:
                    node.forget_request(dest, session)
                elif node.globalnames.hold(source, dest, ptype, session, msg):
                    return True  # to a global name not registered yet
                return None
        if session:
            if ptype in ANSWERS:
                key = (target.handle, session)
                callee = pending.pop(key, None)
                if callee is not None:
                    callee.callers.discard(key)
            else:
                key = (source, session)
                pending[key] = target
                target.callers.add(key)
        target.mailbox.append((ptype, session, source, msg))
        if not target.in_queue:
            # Scheduler.schedule, inlined: this is the hottest path there is.
            target.in_queue = True
            runq.append(target)
            if scheduler.wake is not None:
                scheduler.wake.set()
        return True

    return send


def _make_threaded_send(node: Node, service: Service) -> Callable[..., bool | None]:
    """The same for ``thread > 1``: while the node is parallel, under the lock."""
    services = node.registry.services
    pending = node.pending
    scheduler = node.scheduler
    assert isinstance(scheduler, ThreadedScheduler)
    lock = scheduler.lock
    enqueue = scheduler.enqueue
    source = service.handle

    def put(target: Service, ptype: int, session: int, msg: Any) -> None:
        # The same bookkeeping as make_send's, which keeps it inline: that
        # single-thread path is the hottest code in skylet (a call costs ~2%).
        if session:
            if ptype in ANSWERS:
                key = (target.handle, session)
                callee = pending.pop(key, None)
                if callee is not None:
                    callee.callers.discard(key)
            else:
                key = (source, session)
                pending[key] = target
                target.callers.add(key)
        target.mailbox.append((ptype, session, source, msg))
        if not target.in_queue:
            enqueue(target)

    def send(dest: Any, ptype: int, session: int, msg: Any) -> bool | None:
        target = services.get(dest)
        if target is None:
            target = node.resolve(dest)
            if target is None:
                if session and ptype in ANSWERS:
                    with lock:
                        node.forget_request(dest, session)
                elif node.globalnames.hold(source, dest, ptype, session, msg):
                    return True  # to a global name not registered yet
                return None
        if scheduler.parallel:
            with lock:
                if target.dead:
                    return None
                put(target, ptype, session, msg)
        else:
            put(target, ptype, session, msg)
        return True

    return send


def make_command(node: Node, service: Service) -> Callable[..., Any]:
    """``command(name, ...)``: everything a service asks the node that is not a send."""

    def command(name: bytes, *args: Any) -> Any:
        handler = COMMANDS.get(name)
        if handler is None:
            raise SkyletError(f"unknown core command {name!r}")
        return handler(node, service, *args)

    return command


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _launch(node: Node, service: Service, line: bytes) -> Any:
    words = _text(line).split(None, 2)
    if not words:
        return None, b"launch needs a service name"
    kind = words[0]
    if kind != "snlua":
        return None, f"unsupported service type {kind!r} (skylet runs snlua services)".encode()
    if len(words) < 2:
        return None, b"launch needs a service name"
    try:
        launched = node.launch(words[1], words[2] if len(words) > 2 else "")
    except SkyletError as exc:
        return None, str(exc).encode()
    return launched.handle


def _exit(node: Node, service: Service) -> None:
    node.retire(service, "exited")


def _kill(node: Node, service: Service, address: Any) -> None:
    target = node.resolve(address)
    if target is not None:
        node.retire(target, "was killed")


def _abort(node: Node, service: Service) -> None:
    node.abort()


def _register(node: Node, service: Service, name: bytes) -> None:
    _name(node, service, name, service.handle)


def _name(node: Node, service: Service, name: bytes, handle: int) -> None:
    text = _text(name)
    if is_global(text):
        node.globalnames.register(text, int(handle))
    else:
        node.registry.bind_name(text, int(handle))


def _queryname(node: Node, service: Service, name: bytes, session: int) -> int | None:
    # harbor.queryname: the handle now, or a response on `session` later.
    return node.globalnames.query(service.handle, _text(name), int(session))


def _monitor(node: Node, service: Service, handle: int) -> None:
    # skynet.monitor: this service hears (a client message) of every exit.
    node.monitor_exit = int(handle)


def _logon(node: Node, service: Service, address: Any) -> None:
    target = node.resolve(address)
    if target is not None:
        servicelog.logon(node, target)


def _logoff(node: Node, service: Service, address: Any) -> None:
    target = node.resolve(address)
    if target is not None:
        servicelog.logoff(target)


def _signal(node: Node, service: Service, address: Any, sig: Any = 0) -> None:
    # skynet's snlua: signal 0 interrupts the running Lua code, 1 logs memory.
    target = node.resolve(address)
    if target is None or target.runtime is None:
        return
    if int(sig) == 0:
        if node.scheduler.running_time(target) > 0:
            interrupt(target, "Interrupted")
    else:
        used = target.runtime.get_memory_used()
        node.logger.log(target.handle, f"Current Memory {used / 1024:.3f}K")


def _memory(node: Node, service: Service) -> tuple[int, ...]:
    return servicelog.memory(node)


def _luapath(node: Node, service: Service) -> bytes:
    return node.lua_path.encode()


def _query(node: Node, service: Service, name: bytes) -> int | None:
    target = node.resolve(name)
    return None if target is None else target.handle


def _getenv(node: Node, service: Service, key: bytes) -> bytes | None:
    value = node.env.get(_text(key))
    return None if value is None else value.encode()


def _setenv(node: Node, service: Service, key: bytes, value: bytes) -> None:
    name = _text(key)
    if name in node.env:
        raise SkyletError(f"Can't setenv exist key : {name}")
    node.env[name] = _text(value)


def _log(node: Node, service: Service, message: Any) -> None:
    node.logger.log(service.handle, _text(message))


def _print(node: Node, service: Service, text: bytes) -> None:
    node.print(_text(text))


def _now(node: Node, service: Service) -> int:
    return node.now()


def _starttime(node: Node, service: Service) -> int:
    return node.starttime


def _time(node: Node, service: Service) -> float:
    return node.starttime + node.now() / 100


def _hpc(node: Node, service: Service) -> int:
    return time.perf_counter_ns()


def _timeout(node: Node, service: Service, ticks: Any, session: int) -> None:
    node.set_timer(service, int(ticks), session)


def _memlimit(node: Node, service: Service, limit: Any) -> None:
    node.set_memlimit(service, int(limit))
    node.logger.log(service.handle, f"Set memory limit to {int(limit) / (1024 * 1024):.2f} M")


def _stat(node: Node, service: Service, what: bytes) -> Any:
    key = _text(what)
    if key == "mqlen":
        return len(service.mailbox)
    if key == "message":
        return service.message_count
    if key == "cpu":
        return service.cpu
    if key == "endless":  # set by the monitor; reading it clears it, as in skynet
        endless, service.endless = service.endless, False
        return 1 if endless else 0
    if key == "time":  # seconds the current turn of this service has run
        return node.scheduler.running_time(service)
    return None


def _load_code(
    node: Node, service: Service, name: bytes, patterns: str, kind: str
) -> tuple[Any, ...]:
    # (chunkname, code, load mode) | (None, files tried) | (False, compile error)
    text = _text(name)
    path, tried, stat = search(text, patterns)
    if path is None:
        return None, "\n\t".join(f"no file '{t}'" for t in tried).encode()
    try:
        chunk = node.codecache.load(path, path, service.codecache_mode, stat)
    except CompileError as exc:
        return False, f"error loading {kind} '{text}': {exc}".encode()
    # The pattern that matched: skynet's loader derives SERVICE_PATH from it.
    pattern = next(
        (p for p in patterns.split(";") if p.replace("?", text.replace(".", "/")) == path), ""
    )
    return path.encode(), chunk.code, chunk.mode, pattern.encode()


def _loadmodule(
    node: Node, service: Service, name: bytes, path: bytes | None = None
) -> tuple[Any, ...]:
    # `path`: the service's package.path (skynet's loader puts a service's
    # own folder first); the node's lua_path if not given.
    return _load_code(node, service, name, node.lua_path if path is None else _text(path), "module")


def _loadservice(node: Node, service: Service, name: bytes) -> tuple[Any, ...]:
    found = _load_code(node, service, name, node.luaservice, "service")
    if found[0] is None:
        return None, f"service '{_text(name)}' not found:\n\t{_text(found[1])}".encode()
    return found


def _codecache(node: Node, service: Service, op: bytes, arg: Any = None) -> Any:
    # skynet.codecache: this service's mode, and the node's shared cache.
    if op == b"mode":
        if arg is None:
            return (service.codecache_mode or node.codecache.mode).value.encode()
        service.codecache_mode = CodeCacheMode.parse(arg)
        return None
    if op == b"clear":
        node.codecache.clear()
        return None
    if op == b"stats":
        return tuple(dataclasses.astuple(node.codecache.stats()))
    raise SkyletError(f"unknown codecache operation {op!r}")


def _callback(node: Node, service: Service, dispatch: Any) -> None:
    service.dispatch = dispatch


def _redirect(
    node: Node, service: Service, dest: Any, source: int, ptype: int, session: int, msg: Any
) -> bool | None:
    target = node.resolve(dest)
    if target is None:
        return None
    node.post(target, int(ptype), int(session), int(source), msg)
    return True


def _check(node: Node, service: Service) -> bytes | None:
    why = service.interrupt
    service.interrupt = None
    return why


def _socket(node: Node, service: Service, op: bytes, *args: Any) -> Any:
    return node.sockets.request(service, op, args)


def _booted(node: Node, service: Service, ok: bool, error: Any = None) -> None:
    node.booted(bool(ok), None if error is None else _text(error))


def _dumpfunc(node: Node, service: Service, function: Any) -> int:
    return node.functions.dump(service, function)


def _loadfunc(node: Node, service: Service, token: Any) -> Any:
    return node.functions.load(service, int(token))


COMMANDS: dict[bytes, Callable[..., Any]] = {
    b"LAUNCH": _launch,
    b"EXIT": _exit,
    b"KILL": _kill,
    b"ABORT": _abort,
    b"REG": _register,
    b"NAME": _name,
    b"QUERY": _query,
    b"QUERYNAME": _queryname,
    b"MONITOR": _monitor,
    b"LUAPATH": _luapath,
    b"LOGON": _logon,
    b"LOGOFF": _logoff,
    b"SIGNAL": _signal,
    b"MEMORY": _memory,
    b"GETENV": _getenv,
    b"SETENV": _setenv,
    b"LOG": _log,
    b"PRINT": _print,
    b"NOW": _now,
    b"STARTTIME": _starttime,
    b"TIME": _time,
    b"HPC": _hpc,
    b"TIMEOUT": _timeout,
    b"MEMLIMIT": _memlimit,
    b"STAT": _stat,
    b"LOADMODULE": _loadmodule,
    b"LOADSERVICE": _loadservice,
    b"CODECACHE": _codecache,
    b"CALLBACK": _callback,
    b"REDIRECT": _redirect,
    b"CHECK": _check,
    b"BOOTED": _booted,
    b"DUMPFUNC": _dumpfunc,
    b"LOADFUNC": _loadfunc,
    b"SOCKET": _socket,
}
