"""One live Python service: its messages in, a trio task per request.

The node's scheduler calls :meth:`ServiceHost.dispatch` once per message, as
it calls a Lua VM's ``skynet.dispatch_message``. Everything past that runs on
trio's thread: with ``thread > 1`` a worker may still take the turn, and then
the message hops to trio in arrival order (``inbox``).

Requests and answers keep the node's bookkeeping because every message this
service sends goes through the same ``send`` a Lua service's VM holds
(``_core._commands.make_send``): the failure rules (errors to callers of a service that
exits or is killed, to queued requests, ...) are the node's, unchanged.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import traceback
import types
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Protocol

import trio

from .._core import _commands
from .._core import _ptype as ptypes
from .._core._errors import CallError, ServiceNotFound
from .._core._pack import pack, unpack
from .._core._service import Message
from .._core._service import Service as Actor
from ._base import Service
from ._loader import ServiceModuleError, command_of, commands
from ._reload import reload

#: What debug MEM answers: a Python service has no VM of its own to measure.
NO_MEMORY_FIGURE = "python service (memory is the node's)"

_ANSWERS = (ptypes.RESPONSE, ptypes.ERROR)


class Node(_commands.Node, Protocol):
    """The node as Python services see it (``_core._node.Node`` is one)."""

    def on_trio(self, fn: Callable[..., object], *args: Any) -> None: ...


class Modules(Protocol):
    """Where a host gets its class and leaves modules: ``_manager.PythonServices``."""

    def service_class(self, name: str, path: str) -> type[Service]: ...

    def adopt(self, module: types.ModuleType) -> None: ...


class _Reply:
    __slots__ = ("event", "msg", "ptype")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.ptype = 0
        self.msg: Any = None


class ServiceHost:
    """The node's side of one Python service (``actor`` is its registry entry)."""

    def __init__(self, node: Node, modules: Modules, actor: Actor, path: str) -> None:
        self.node = node
        self.modules = modules
        self.service = actor
        self.path = path
        #: The file the running code came from (an inject may bring another).
        self.code_path = path
        self.instance: Service | None = None
        #: False until ``init`` returned: requests wait in ``held`` until then.
        self.ready = False
        self.held: deque[Message] = deque()
        self.inbox: deque[Message] = deque()
        self.waiting: dict[int, _Reply] = {}
        self.sessions = itertools.count(1)
        #: Set once the latest request's task has started (see _spawn).
        self._started: trio.Event | None = None
        #: In-flight request tasks -> what each is doing (debug TASK).
        self.tasks: dict[trio.lowlevel.Task, str] = {}
        #: Where its tasks run; cancelled when the service is retired.
        self.nursery: trio.Nursery | None = None
        self.send: Callable[..., bool | None] = _commands.make_send(self.node, actor)

    @property
    def class_name(self) -> str:
        return type(self.instance).__qualname__ if self.instance is not None else "?"

    def log(self, message: str) -> None:
        self.node.logger.log(self.service.handle, message)

    def register(self, name: str) -> None:
        self.node.registry.bind_name(name, self.service.handle)

    def getenv(self, key: str) -> str | None:
        return self.node.env.get(key)

    # ----- messages in -----

    def dispatch(self, ptype: int, session: int, source: int, msg: Any) -> None:
        """The scheduler's entry: once per message, from whichever dispatcher."""
        self.inbox.append((ptype, session, source, msg))
        self.node.on_trio(self._drain)

    def _drain(self) -> None:
        inbox = self.inbox
        while inbox:
            ptype, session, source, msg = inbox.popleft()
            try:
                self._handle(ptype, session, source, msg)
            except Exception as exc:  # pragma: no cover - a bug here must not stop trio
                self.log(f"dispatch failed:\n{format_traceback(exc)}")
                if session and ptype not in _ANSWERS and not self.service.dead:
                    self.answer_error(source, session, f"{self.service.address} failed: {exc}")

    def _handle(self, ptype: int, session: int, source: int, msg: Any) -> None:
        if ptype in _ANSWERS:
            reply = self.waiting.pop(session, None)
            if reply is not None:
                reply.ptype, reply.msg = ptype, msg
                reply.event.set()
            elif ptype == ptypes.RESPONSE:
                self.log(f"Response for unknown session {session} from :{source:08x}")
            return
        if self.service.dead:
            return  # retire() has answered it
        if not self.ready:
            self.held.append((ptype, session, source, msg))
            return
        if ptype == ptypes.LUA:
            try:
                cmd, *args = unpack(msg) or (None,)
            except Exception as exc:
                self._failed(exc, session, source)
                return
            self._spawn(f"{cmd} from :{source:08x}", self._request, session, source, cmd, args)
        elif ptype == ptypes.DEBUG:
            self._spawn(f"debug from :{source:08x}", self._debug, session, source, msg)
        else:
            self.log(f"Unknown request ({ptype}): from :{source:08x}")
            if session:
                why = f"{self.service.address} has no dispatch for protocol {ptype}"
                self.answer_error(source, session, why)

    def _spawn(self, label: str, fn: Callable[..., Any], *args: Any) -> None:
        # trio runs the tasks made ready together in either order; skynet starts
        # each message's coroutine in arrival order. So each task waits until
        # the one before it has started (run up to its first await).
        assert self.nursery is not None  # requests wait until init has returned
        before, started = self._started, trio.Event()
        try:
            self.nursery.start_soon(self._task, before, started, label, fn, *args)
        except RuntimeError:  # the nursery closed: the node is stopping
            return
        self._started = started

    async def _task(
        self, before: trio.Event | None, started: trio.Event, label: str, fn: Any, *args: Any
    ) -> None:
        try:
            if before is not None and not before.is_set():
                await before.wait()
        finally:
            started.set()  # the next one may start once this one yields
        if self.service.dead:
            return  # retired before it started: no await cancels it
        me = trio.lowlevel.current_task()
        self.tasks[me] = label
        try:
            await fn(*args)
        finally:
            del self.tasks[me]

    # ----- requests -----

    async def _request(self, session: int, source: int, cmd: Any, args: list[Any]) -> None:
        assert self.instance is not None
        try:
            if command_of(type(self.instance), cmd) is None:
                known = ", ".join(commands(type(self.instance))) or "none"
                raise Refused(f"{self.service.name} has no command {cmd!r} (commands: {known})")
            result = getattr(self.instance, cmd)(*args)
            if inspect.isawaitable(result):
                result = await result
            payload = _answer_payload(self.service.name, cmd, result)
        except Exception as exc:
            self._failed(exc, session, source)
            return
        if session and not self.service.dead:
            self.send(source, ptypes.RESPONSE, session, payload)

    def _failed(self, exc: BaseException, session: int, source: int) -> None:
        # Log before answering: the caller may act on the error at once.
        self.log(str(exc) if isinstance(exc, Refused) else format_traceback(exc))
        if session and not self.service.dead:
            self.answer_error(source, session, error_message(exc, self.code_path))

    def answer_error(self, dest: int, session: int, why: str) -> None:
        self.send(dest, ptypes.ERROR, session, why.encode())

    def answer(self, dest: int, session: int, *values: Any) -> None:
        if session and not self.service.dead:
            self.send(dest, ptypes.RESPONSE, session, pack(*values))

    # ----- booting -----

    async def run(self, args: str) -> None:
        """The service's own task: its nursery, for as long as it lives."""
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            if self.service.dead:  # killed before it started
                return
            if await self._boot(args):
                await trio.sleep_forever()

    async def _boot(self, args: str) -> bool:
        """Load the module, make the instance, run ``init``; tell the launcher."""
        try:
            cls = self.modules.service_class(self.service.name, self.path)
            instance = cls.__new__(cls)
            instance._skylet = self
            instance.__init__()  # type: ignore[misc]
            self.instance = instance
            await instance.init(*args.split())
        except Exception as exc:
            self.log(f"init service failed: {format_traceback(exc)}")
            self.post(".launcher", ptypes.LUA, 0, ("ERROR", error_message(exc, self.code_path)))
            self.node.retire(self.service, "exited")
            return False
        line = f"python {self.service.name} {args}".rstrip()
        line += f" (module {self.path}, class {self.class_name})"
        self.post(".launcher", ptypes.LUA, 0, ("LAUNCHOK", line))
        self.ready = True
        held, self.held = self.held, deque()
        for message in held:
            self._handle(*message)
        return True

    # ----- the debug protocol (skynet.debug's, for the console) -----

    async def _debug(self, session: int, source: int, msg: Any) -> None:
        try:
            cmd, *args = unpack(msg) or (None,)
            values = self._debug_answer(cmd, args)
        except Exception as exc:
            self._failed(exc, session, source)
            return
        if cmd == "EXIT":
            await self.exit()
        self.answer(source, session, *values)

    def _debug_answer(self, cmd: Any, args: list[Any]) -> tuple[Any, ...]:
        service = self.service
        if cmd == "PING" or cmd == "EXIT":
            return ()
        if cmd == "MEM":
            return (NO_MEMORY_FIGURE,)
        if cmd == "GC":
            gc.collect()
            return (NO_MEMORY_FIGURE,)
        if cmd == "STAT":
            stat = {
                "task": len(self.tasks) - 1,  # not counting this one
                "mqlen": len(service.mailbox) + len(self.held),
                "cpu": service.cpu,
                "message": service.message_count,
            }
            return (stat,)
        if cmd == "INFO":
            return ({"module": self.path, "class": self.class_name},)
        if cmd == "TASK":
            tasks = [label for label in self.tasks.values() if not label.startswith("debug ")]
            return ({str(i): label for i, label in enumerate(tasks, 1)},)
        if cmd == "RUN":  # inject: reload the module, swap the live instance's class
            assert self.instance is not None
            source = args[0] if args else None
            filename = args[1] if len(args) > 1 else None
            done = reload(self.instance, service.name, self.path, source, filename)
            if done.module is not None and done.path is not None:
                self.modules.adopt(done.module)
                self.code_path = done.path
            return done.ok, done.report
        raise Refused(f"unknown debug command {cmd!r}")

    # ----- calling out -----

    def _payload(self, ptype: int, args: tuple[Any, ...]) -> Any:
        if ptype in (ptypes.LUA, ptypes.DEBUG):
            return pack(*args)
        if len(args) != 1 or not isinstance(args[0], (bytes, str)):
            raise TypeError("protocols other than lua and debug take one bytes/str payload")
        return args[0].encode() if isinstance(args[0], str) else args[0]

    def post(self, address: int | str, proto: int | str, session: int, args: Any) -> Actor:
        target = self.node.resolve(address)
        if target is None:
            raise ServiceNotFound(f"no service at {address!r}")
        ptype = ptypes.resolve(proto)
        if not self.send(target.handle, ptype, session, self._payload(ptype, args)):
            raise ServiceNotFound(f"no service at {address!r}")
        return target

    async def call(self, address: int | str, proto: int | str, args: tuple[Any, ...]) -> Any:
        session = next(self.sessions)
        reply = self.waiting[session] = _Reply()
        try:
            target = self.post(address, proto, session, args)
            await reply.event.wait()
        finally:
            self.waiting.pop(session, None)
        if reply.ptype == ptypes.ERROR:
            why = reply.msg.decode("utf-8", "replace") if reply.msg else "call failed"
            raise CallError(f"call to {target.address} failed: {why}")
        if ptypes.resolve(proto) not in (ptypes.LUA, ptypes.DEBUG):
            return reply.msg
        values = unpack(reply.msg)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    # ----- the end -----

    async def exit(self) -> NoReturn:
        handle = self.service.handle
        if not self.service.dead:
            launcher = self.node.resolve(".launcher")
            if launcher is not None:
                self.send(launcher.handle, ptypes.LUA, 0, pack("REMOVE", handle, False))
            self.node.retire(self.service, "exited")
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """The service was retired (exit, kill, failed init): stop its tasks.

        ``Node.retire`` has answered every request it held; a call it is
        waiting for fails with the cancellation. May run on any thread.
        """
        self.node.on_trio(self._cancel)

    def _cancel(self) -> None:
        self.held.clear()
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()


class Refused(Exception):
    """A request the service cannot take (no such command, an answer Lua
    cannot hold): logged as one line, not a traceback of skylet's code."""


def _answer_payload(service: str, cmd: str, result: Any) -> bytes:
    values = () if result is None else result if isinstance(result, tuple) else (result,)
    try:
        return pack(*values)
    except (TypeError, ValueError, OverflowError) as exc:
        why = f"{service}.{cmd} returned {result!r}, which Lua cannot take: {exc}"
        raise Refused(why) from None


_PACKAGE = str(Path(__file__).resolve().parent.parent)


def format_traceback(exc: BaseException) -> str:
    """The traceback from the service's own code on (skylet's frames dropped)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def error_message(exc: BaseException, path: str) -> str:
    """What a Lua caller sees: ``file:line: Type: message``, as a Lua error
    names where it was raised (the service file's innermost frame)."""
    if isinstance(exc, Refused | ServiceModuleError):
        return str(exc)
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}:{exc.lineno}: SyntaxError: {exc.msg}"
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename == path]
    if ours:
        where = f"{ours[-1].filename}:{ours[-1].lineno}: "
    text = str(exc)
    return f"{where}{type(exc).__name__}: {text}" if text else f"{where}{type(exc).__name__}"
