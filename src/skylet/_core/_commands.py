"""The only Python a service can reach: ``send`` and ``command``.

Each service gets its own pair of closures (so the source address of what it
sends cannot be forged) and nothing else; ``skynet.lua`` builds the whole
service API on top of them, as skynet's ``skynet.core`` C module does.
The node is seen here as a :class:`Node` protocol: what of it a service can
reach, and all this module may touch.

Both are the boundary of the sandbox, so both hold to three rules:

- **Only data crosses.** Lua strings arrive as ``bytes``; a message payload
  is a string, a number or nil, and command arguments are the same (plus the
  Lua function ``CALLBACK`` and ``DUMPFUNC`` take). Everything handed back to
  Lua is bytes, numbers, booleans or None. A Lua table or function never
  reaches another VM, and no Python object but these two reaches any.
- **Nothing raises into Lua.** lupa hands a Python exception to Lua as the
  exception object itself; so failures are answered as values: ``send``
  returns ``(False, message)``, ``command`` ``(False, message)`` (and
  ``(True, results...)`` on success), and the Lua side raises the message.
- **The node stays whole.** What a service may not do (kill the host or an
  essential system service, raise its memory limit) fails with a clear error.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import lupa.lua54 as lupa

from .._libs._commands import COMMANDS as LIB_COMMANDS
from .._lua._codecache import CodeCache, CodeCacheMode, CompileError
from .._net._udp_ops import resolve as _resolve_host
from . import _ptype as ptypes
from . import _servicelog as servicelog
from ._book import Book, PythonBook
from ._errors import SkyletError
from ._functions import FunctionStore
from ._globalnames import GlobalNames, is_global
from ._logger import Logger
from ._monitor import interrupt
from ._native import NativeScheduler
from ._paths import search
from ._registry import Registry
from ._scheduler import Scheduler
from ._service import Service
from ._sproto_slots import SprotoSlots, sproto_command
from ._workers import ThreadedScheduler

if TYPE_CHECKING:
    from .._net._sockets import SocketServer

#: Message types that answer a request rather than make one.
ANSWERS = frozenset((ptypes.RESPONSE, ptypes.ERROR))


class Node(Protocol):
    """The node as its services' ``send`` and ``command`` see it (``_node.Node`` is one).

    A new command that needs more of the node adds it here.
    """

    threads: int
    registry: Registry
    scheduler: Scheduler | ThreadedScheduler | NativeScheduler
    book: Book
    env: dict[str, str]
    logger: Logger
    codecache: CodeCache
    functions: FunctionStore
    sproto_slots: SprotoSlots
    sockets: SocketServer
    lua_path: str
    luaservice: str
    starttime: int
    globalnames: GlobalNames
    monitor_exit: int

    def resolve(self, address: Any) -> Service | None: ...

    def forget_request(self, caller: Any, session: int) -> None: ...

    def post(self, target: Service, ptype: int, session: int, source: int, msg: Any) -> bool: ...

    def launch(self, name: str, args: str = "") -> Service: ...

    def retire(self, service: Service, reason: str) -> None: ...

    def abort(self) -> None: ...

    def booted(self, ok: bool, error: str | None) -> None: ...

    def print(self, text: str) -> None: ...

    def now(self) -> int: ...

    def set_timer(self, service: Service, ticks: int, session: int) -> None: ...

    def set_memlimit(self, service: Service, limit: int) -> None: ...

    def bind_name(self, name: str, handle: int) -> None: ...

    def check_removable(self, service: Service, what: str) -> None: ...

    def kill_failed(self, service: Service) -> None: ...

    def doomed(self, service: Service) -> None: ...


#: Classes of the values a message payload may be (``bool`` is not one).
PAYLOAD_CLASSES = frozenset((bytes, int, float, type(None)))
#: Classes of the values a command may take and give back.
PLAIN_CLASSES = frozenset((bytes, int, float, bool, type(None)))


def lua_kind(value: Any) -> str:
    """What Lua calls the type of ``value`` (for messages)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, bytes):
        return "string"
    return lupa.lua_type(value) or f"Python {type(value).__name__}"


def payload_error(msg: Any) -> tuple[bool, bytes]:
    """``send``'s answer to a payload that is not data (the sender raises it)."""
    kind = lua_kind(msg)
    return False, (
        f"a message payload must be a string, a number or nil, not a {kind} "
        "(pack Lua values with skynet.pack)"
    ).encode()


def _bad_send(dest: Any, ptype: Any, session: Any) -> tuple[bool, bytes]:
    for name, value in (("type", ptype), ("session", session)):
        if value.__class__ is not int:
            kind = lua_kind(value)
            return False, f"send: the message {name} must be an integer, not a {kind}".encode()
    if not 0 <= ptype <= 255:
        return False, f"send: message type {ptype} is not in 0..255".encode()
    kind = lua_kind(dest)
    return False, f"send: bad destination (a {kind})".encode()


def _target_of(
    node: Node, source: int, dest: Any, ptype: Any, session: Any, msg: Any, lock: Any
) -> tuple[Service | None, Any]:
    """The live service a send goes to, or (None, what the send answers):
    a bad type or session, no such address (None), or a global name not
    registered yet (True: held until it is)."""
    if ptype.__class__ is not int or session.__class__ is not int or not 0 <= ptype <= 255:
        return None, _bad_send(dest, ptype, session)
    try:
        target = node.registry.services.get(dest)
    except TypeError:  # an unhashable Lua value
        return None, _bad_send(dest, ptype, session)
    if target is None:
        target = node.resolve(dest)
    if target is not None:
        return target, None
    if session and ptype in ANSWERS:
        with lock:
            node.forget_request(dest, session)
    elif node.globalnames.hold(source, dest, ptype, session, msg):
        return None, True
    else:
        # A global name another thread registered since the lookup above.
        target = node.resolve(dest)
        if target is not None:
            return target, None
    return None, None


def make_send(node: Node, service: Service) -> Callable[..., Any]:
    """``send(dest, ptype, session, msg)``: the hot path of every message.

    Answers True (queued), None (no such destination) or ``(False, why)``.
    """
    if isinstance(node.scheduler, NativeScheduler):
        return _make_native_send(node, service)
    if node.threads > 1:
        return _make_threaded_send(node, service)
    services = node.registry.services
    assert isinstance(node.book, PythonBook)
    pending = node.book.pending
    scheduler = node.scheduler
    assert isinstance(scheduler, Scheduler)
    runq = scheduler.runq
    source = service.handle

    def send(dest: Any = None, ptype: Any = None, session: Any = 0, msg: Any = None) -> Any:
        if msg.__class__ not in PAYLOAD_CLASSES:
            return payload_error(msg)
        if service.dead:  # a finalizer of its closing VM
            return False, b"send: this service is gone"
        if ptype.__class__ is not int or session.__class__ is not int or not 0 <= ptype <= 255:
            return _bad_send(dest, ptype, session)
        try:
            target = services.get(dest)
        except TypeError:  # an unhashable Lua value
            return _bad_send(dest, ptype, session)
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


def _make_threaded_send(node: Node, service: Service) -> Callable[..., Any]:
    """The same for ``thread > 1``: while the node is parallel, under the lock."""
    assert isinstance(node.book, PythonBook)
    pending = node.book.pending
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

    def send(dest: Any = None, ptype: Any = None, session: Any = 0, msg: Any = None) -> Any:
        if msg.__class__ not in PAYLOAD_CLASSES:
            return payload_error(msg)
        if service.dead:  # a finalizer of its closing VM
            return False, b"send: this service is gone"
        target, answer = _target_of(node, source, dest, ptype, session, msg, lock)
        if target is None:
            return answer
        if scheduler.parallel:
            with lock:
                if target.dead:
                    return None
                put(target, ptype, session, msg)
        else:
            put(target, ptype, session, msg)
        return True

    return send


def _make_native_send(node: Node, service: Service) -> Callable[..., Any]:
    """The native scheduler's: what the VM's C send does not take itself
    (names, Python services, dead services, number payloads, mistakes)."""
    book = node.book
    deliver = node.scheduler.deliver
    lock = node.scheduler.lock
    source = service.handle

    def send(dest: Any = None, ptype: Any = None, session: Any = 0, msg: Any = None) -> Any:
        if msg.__class__ not in PAYLOAD_CLASSES:
            return payload_error(msg)
        if service.doomed is not None and not service.dead:
            # Its message unwinds: it goes before anything it sends on the
            # way out (its caller is answered by the retirement).
            node.doomed(service)
        if service.dead:  # a finalizer of its closing VM, or doomed
            return False, b"send: this service is gone"
        target, answer = _target_of(node, source, dest, ptype, session, msg, lock)
        if target is None:
            return answer
        request = session and ptype not in ANSWERS
        with lock:
            if request:
                book.ask(source, session, target)
            elif session:
                book.answer(target.handle, session)
            if deliver(target, (ptype, session, source, msg)) is False:
                if request:
                    book.answer(source, session)
                return None
        return True

    return send


def make_command(node: Node, service: Service) -> Callable[..., Any]:
    """``command(name, ...)``: everything a service asks the node that is not a send.

    Answers ``(True, results...)`` or ``(False, why)``; never raises.
    """

    def command(name: Any = None, *args: Any) -> Any:
        if service.dead and name != b"CHECK":  # a finalizer of its closing VM
            return False, b"this service is gone"
        try:
            handler = COMMANDS.get(name) if name.__class__ is bytes else None
            if handler is None:
                return False, f"unknown core command {_shown(name)}".encode()
            takes_function = FUNCTION_ARGS.get(name, -1)
            takes_payload = PAYLOAD_ARGS.get(name, -1)
            for index, arg in enumerate(args):
                if index == takes_payload and arg.__class__ not in PAYLOAD_CLASSES:
                    return payload_error(arg)
                if arg.__class__ not in PLAIN_CLASSES and not (
                    index == takes_function and lupa.lua_type(arg) == "function"
                ):
                    kind = lua_kind(arg)
                    return False, (
                        f"{name.decode()}: argument #{index + 1} is a {kind} "
                        "(only strings, numbers, booleans and nil)"
                    ).encode()
            results = _results(name, handler(node, service, *args))
            if service.memlimit:
                # lupa writes the results into the VM where a memory error
                # cannot be caught; the dispatcher settles after the message
                service.make_room(sum(len(v) for v in results if v.__class__ is bytes))
            return results
        except SkyletError as exc:
            return False, _one_line(str(exc)).encode()
        except Exception as exc:
            # A bug of ours or a value we did not expect: the service gets the
            # error, the log gets the traceback, the node goes on.
            node.logger.log(
                service.handle,
                f"core command {_shown(name)} failed:\n{traceback.format_exc().rstrip()}",
            )
            return False, _one_line(f"{_shown(name)}: {type(exc).__name__}: {exc}").encode()

    return command


def _shown(name: Any) -> str:
    if name.__class__ is bytes:
        return repr(name.decode("utf-8", "replace"))
    return f"(a {lua_kind(name)})"


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")) if text else "error"


def _results(name: bytes, result: Any) -> tuple[Any, ...]:
    values = result if result.__class__ is tuple else (result,)
    for value in values:
        if value.__class__ in PLAIN_CLASSES:
            continue
        if value.__class__ is str:
            values = tuple(v.encode() if v.__class__ is str else v for v in values)
            continue
        if name in FUNCTION_RESULTS and lupa.lua_type(value) == "function":
            continue
        raise TypeError(f"core command {name!r} answered a {type(value).__name__}")
    return (True, *values)


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


def _exit(node: Node, service: Service, stage: Any = None) -> None:
    # skynet.exit asks first ("check"), before it answers its own callers;
    # "failed": a start that failed and could not even report it (out of
    # memory): the node tells the launcher, as for a kill.
    node.check_removable(service, "exit")
    if stage == b"failed":
        node.kill_failed(service)
    elif stage != b"check":
        node.retire(service, "exited")


def _kill(node: Node, service: Service, address: Any) -> None:
    target = node.resolve(address)
    if target is not None:
        node.check_removable(target, "be killed")
        node.retire(target, "was killed")


def _abort(node: Node, service: Service) -> None:
    node.abort()


def _register(node: Node, service: Service, name: bytes) -> None:
    _name(node, service, name, service.handle)


def _name(node: Node, service: Service, name: bytes, handle: Any) -> None:
    if handle.__class__ is not int:
        raise SkyletError(f"skynet.name needs a service address, not {handle!r}")
    text = _text(name)
    if is_global(text):
        node.globalnames.register(text, handle)
    else:
        node.bind_name(text, handle)


def _queryname(node: Node, service: Service, name: bytes, session: Any) -> int | None:
    # harbor.queryname: the handle now, or a response on `session` later.
    if session.__class__ is not int:
        raise SkyletError("QUERYNAME needs a session")
    return node.globalnames.query(service.handle, _text(name), session)


def _monitor(node: Node, service: Service, handle: Any) -> None:
    # skynet.monitor: this service hears (a client message) of every exit.
    if handle.__class__ is not int:
        raise SkyletError(f"skynet.monitor needs a service address, not {handle!r}")
    node.monitor_exit = handle


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
    runtime = None if target is None else target.runtime  # (it may close meanwhile)
    if target is None or runtime is None:
        return
    if sig == 0:
        if node.scheduler.running_time(target) > 0:
            interrupt(target, "Interrupted")
    else:
        used = runtime.get_memory_used()
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


#: Makes SETENV's look-then-set one step on every dispatcher (skynet's env lock).
_env_lock = threading.Lock()


def _setenv(node: Node, service: Service, key: bytes, value: bytes) -> None:
    name = _text(key)
    with _env_lock:
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
    if limit.__class__ is not int:
        raise SkyletError(f"skynet.memlimit needs an integer number of bytes, not {limit!r}")
    node.set_memlimit(service, limit)
    node.logger.log(service.handle, f"Set memory limit to {limit / (1024 * 1024):.2f} M")


def _stat(node: Node, service: Service, what: bytes) -> Any:
    key = _text(what)
    if key in ("mqlen", "message", "cpu"):
        if isinstance(node.scheduler, NativeScheduler):
            mqlen, count, cpu = node.scheduler.stats(service)
        else:
            mqlen, count, cpu = service.stats()
        return mqlen if key == "mqlen" else count if key == "message" else cpu
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
    patterns = node.lua_path if path is None else _text(path)
    return _load_code(node, service, name, patterns, "module")


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


def _callback(node: Node, service: Service, dispatch: Any = None) -> None:
    if lupa.lua_type(dispatch) != "function":
        raise SkyletError("CALLBACK needs the service's dispatch function")
    service.dispatch = dispatch


def _redirect(
    node: Node, service: Service, dest: Any, source: int, ptype: int, session: int, msg: Any
) -> bool | None:
    for name, value in (("source", source), ("type", ptype), ("session", session)):
        if value.__class__ is not int:
            raise SkyletError(f"skynet.redirect: the {name} must be an integer, not {value!r}")
    if not 0 <= ptype <= 255:
        raise SkyletError(f"skynet.redirect: message type {ptype} is not in 0..255")
    target = node.resolve(dest)
    if target is None:
        return None
    # False: it retired since the lookup (another thread), as if never found.
    return True if node.post(target, ptype, session, source, msg) else None


def _check(node: Node, service: Service) -> tuple[bytes | None, bool]:
    # The Lua count hook asks: (the error to raise or None, whether the
    # service is doomed: then it raises at every instruction until it unwinds).
    if service.doomed is not None:
        return service.doomed, True
    why = service.interrupt
    service.interrupt = None
    return why, False


def _sproto(node: Node, service: Service, op: Any = None, *args: Any) -> Any:
    return sproto_command(node.sproto_slots, op, *args)


def _socket(node: Node, service: Service, op: bytes, *args: Any) -> Any:
    return node.sockets.request(service, op, args)


def _resolve(node: Node, service: Service, host: Any) -> Any:
    return _resolve_host(host)


def _booted(node: Node, service: Service, ok: bool, error: Any = None) -> None:
    node.booted(bool(ok), None if error is None else _text(error))


def _dumpfunc(node: Node, service: Service, function: Any) -> int:
    return node.functions.dump(service, function)


def _loadfunc(node: Node, service: Service, token: Any) -> Any:
    return node.functions.load(service, token)


#: Commands that take a Lua function of the service's own VM, at this argument.
FUNCTION_ARGS: dict[bytes, int] = {b"CALLBACK": 0, b"DUMPFUNC": 0}
#: Commands that take a message payload, at this argument.
PAYLOAD_ARGS: dict[bytes, int] = {b"REDIRECT": 4}
#: Commands that answer with a Lua function (loaded into the caller's VM).
FUNCTION_RESULTS = frozenset((b"LOADFUNC",))

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
    b"RESOLVE": _resolve,
    b"SPROTO": _sproto,
}
COMMANDS.update(LIB_COMMANDS)  # skynet's service libraries (skylet._libs)
