"""A node: one process's services, their scheduler, timers and names."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio
from lupa.lua54 import LuaError, LuaMemoryError

from .._lua._accel import choose_codec
from .._lua._codecache import CodeCache
from .._lua._codeshare import choose_codeshare
from .._lua._native import EV_CLOSE, EV_DOOMED, EV_ERROR, EV_LOG, EV_MEMORY, EV_OVERLOAD
from .._lua._sandbox import choose_sandbox
from .._lua._sproto_accel import choose_sproto
from .._lua._vm import boot_service
from .._lua._watchdog import choose_watchdog
from .._net._socket_ops import OPS, QUEUED_OPS
from .._net._sockets import SocketServer
from .._pyservice._manager import PythonServices
from . import _ptype as ptypes
from . import _servicelog as servicelog
from . import _settings as settings
from ._book import Book, NativeBook, PythonBook
from ._commands import make_command, make_send
from ._config import ConfigValue, env_string, load_config, normalize_config
from ._errors import CallError, LaunchError, NodeStopped, ServiceNotFound, SkyletError
from ._functions import FunctionStore
from ._globalnames import GlobalNames
from ._inject import InjectResult
from ._inject import inject as run_inject
from ._logger import Logger, Writer
from ._monitor import Monitor
from ._native import NativeScheduler, choose_scheduler
from ._pack import pack, unpack
from ._paths import LUALIB, LUALIB_PATTERN, SERVICES_PATTERN
from ._registry import Registry
from ._scheduler import Scheduler
from ._service import Message, Service
from ._settings import check_settings
from ._sproto_slots import SprotoSlots
from ._timers import Timers, ticks_at
from ._workers import ThreadedScheduler

#: Per-service Lua memory limit unless the config sets ``service_memlimit``.
DEFAULT_MEMLIMIT = 1 << 30
#: Seconds one message may run before the node interrupts it (``runaway_timeout``).
DEFAULT_RUNAWAY = 30.0
#: The system services a node cannot run without: no service may kill them
#: or make them exit (nor the Python host's own address).
ESSENTIAL_NAMES = frozenset((".launcher", ".service"))

_DEFAULTS: dict[str, ConfigValue] = {
    "thread": 1,
    "harbor": 0,
    "bootstrap": "snlua bootstrap",
    "luaservice": "./service/?.lua",
    "lua_path": "./lualib/?.lua;./lualib/?/init.lua",
}


class Node:
    """One skylet node: run it inside trio with :meth:`run` or :func:`open_node`.

    ``config`` is a path to a config file in skynet's format or a mapping of
    config keys. A file config without ``start`` launches ``main``, as
    skynet does; a mapping launches a start service only if it names one.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | Mapping[str, object],
        *,
        log: Writer | None = None,
        stdout: Callable[[str], None] | None = None,
    ) -> None:
        if isinstance(config, Mapping):
            values: dict[str, ConfigValue] = normalize_config(config)
            check_settings(values)
        else:
            values = load_config(config)
            check_settings(values, os.fspath(config))
            values.setdefault("start", "main")
        self.config: dict[str, ConfigValue] = {**_DEFAULTS, **values}
        self.env: dict[str, str] = {k: env_string(v) for k, v in self.config.items()}
        self.lua_path = f"{self.config['lua_path']};{LUALIB_PATTERN};{LUALIB / '?/init.lua'}"
        self.luaservice = f"{self.config['luaservice']};{SERVICES_PATTERN}"
        self.threads = settings.integer(self.config, "thread", 1)
        self.memlimit = settings.integer(self.config, "service_memlimit", DEFAULT_MEMLIMIT)
        self.logger = Logger(write=log, path=_opt_str(self.config.get("logger")))
        #: The C msgpack codec each VM loads at boot (config ``msgpack``), or None.
        self.codec_path = choose_codec(self.config.get("msgpack"), lambda m: self.logger.log(0, m))
        #: The C watchdog each VM loads at boot (config ``runaway_check``), or None.
        self.watchdog_path = choose_watchdog(
            self.config.get("runaway_check"), lambda m: self.logger.log(0, m)
        )
        #: The C sproto core each VM loads at boot (config ``sproto_core``), or None.
        self.sproto_path = choose_sproto(
            self.config.get("sproto_core"), lambda m: self.logger.log(0, m)
        )
        #: The C sandbox each VM installs at boot (config ``sandbox``), or None.
        self.sandbox_path = choose_sandbox(
            self.config.get("sandbox"), lambda m: self.logger.log(0, m)
        )
        #: The shared-code library each VM opens at boot (config ``codeshare``), or None.
        self.codeshare_path = choose_codeshare(
            self.config.get("codeshare"), lambda m: self.logger.log(0, m)
        )
        self._stdout = stdout
        self.registry = Registry(settings.integer(self.config, "harbor", 0))
        self.codecache = CodeCache.from_config(self.config, warn=self._warn)
        #: The native message path's library each Lua VM opens (config
        #: ``scheduler``), or None: the Python schedulers.
        self.native_path = choose_scheduler(
            self.config.get("scheduler", os.environ.get("SKYLET_SCHEDULER")),
            lambda m: self.logger.log(0, m),
        )
        self.scheduler: Scheduler | ThreadedScheduler | NativeScheduler
        self.book: Book
        if self.native_path is not None:
            self.scheduler = NativeScheduler(
                self.threads,
                self.registry,
                self._dispatch_failed,
                self.doomed,
                self._native_event,
            )
            self.book = NativeBook(self.scheduler.core, self.registry)
        else:
            if self.threads == 1:
                self.scheduler = Scheduler(self._dispatch_failed, self.doomed)
            else:
                self.scheduler = ThreadedScheduler(self.threads, self._dispatch_failed, self.doomed)
            self.book = PythonBook()
        self.scheduler.warn = self.logger.log
        self.timers = Timers(self._timer_expired)
        self.sockets = SocketServer(
            self.config,
            OPS,
            QUEUED_OPS,
            now=self.now,
            log=self.logger.log,
            deliver=self._deliver_socket_message,
        )
        self.monitor = Monitor(
            self.scheduler,
            settings.seconds(self.config, "runaway_timeout", DEFAULT_RUNAWAY),
            self.logger,
        )
        self.functions = FunctionStore()
        self.globalnames = GlobalNames(self)
        #: skynet.monitor: the service told (a client message) of every exit.
        self.monitor_exit = 0
        #: Schema bundles sprotoloader shares between services, by slot.
        self.sproto_slots = SprotoSlots()
        #: Python services (config ``pyservice``), or None.
        pyservice = self.config.get("pyservice")
        self.pyservices = PythonServices(self, str(pyservice)) if pyservice else None
        #: Native services retired while a dispatcher ran them: their VMs
        #: close once the turn ends (EV_CLOSE).
        self._closing: dict[int, Service] = {}
        self.starttime = int(time.time())
        self.exit_status = 0
        self._clock: trio.abc.Clock | None = None
        self._t0 = 0.0
        self._stopped: trio.Event | None = None
        self._boot: tuple[bool, str | None] | None = None
        self._booted_event: trio.Event | None = None
        self._host: Service | None = None
        self._host_session = 0
        self._host_waiting: dict[int, _Reply] = {}
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._trio_thread = 0

    # ----- running -----

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> int:
        """Boot the node and run until :meth:`stop` or ``skynet.abort()``.

        Reports started once the bootstrap has launched the start service;
        raises :class:`LaunchError` if it could not. Returns the exit status.
        """
        self._clock = self.timers.clock = trio.lowlevel.current_clock()
        self._trio_token = trio.lowlevel.current_trio_token()
        self._trio_thread = threading.get_ident()
        self._t0 = self.timers.origin = self._clock.current_time()
        self._stopped = trio.Event()
        self._booted_event = trio.Event()
        failure: str | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.scheduler.run)
                nursery.start_soon(self.timers.run)
                await nursery.start(self.sockets.run)
                self.monitor.start()
                if self.pyservices is not None:
                    await nursery.start(self.pyservices.run)
                self._host = self._new_host()
                _, bootstrap = str(self.config["bootstrap"]).split(None, 1)
                try:
                    self.launch(bootstrap, "")
                except LaunchError as exc:
                    self.booted(False, str(exc))
                # Boot ends when bootstrap reports, or when the node is
                # stopped first (a start function may well abort).
                await self._booted_event.wait()
                assert self._boot is not None
                ok, failure = self._boot
                if ok:
                    task_status.started(self)
                    await self._stopped.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.scheduler.stop()
            self.monitor.stop()
            self._fail_host_calls()
            self._close_vms()  # (each one's console `logon` file with it)
            self.logger.close()
        if not ok:
            raise LaunchError(failure or "boot failed")
        return self.exit_status

    def on_trio(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on trio's thread: now if this is it, else soon."""
        if self._trio_token is None or threading.get_ident() == self._trio_thread:
            fn(*args)
        else:
            self._trio_token.run_sync_soon(fn, *args)

    def stop(self, status: int = 0) -> None:
        """Stop the node; :meth:`run` returns ``status``. Safe from any thread."""
        self.exit_status = status
        self.scheduler.stop()
        self.on_trio(self._set_stopped)

    def _set_stopped(self) -> None:
        if self._stopped is not None:
            self._stopped.set()
        if self._boot is None:
            self._set_booted(True, None)

    def abort(self) -> None:
        """``skynet.abort()``: stop the node with exit status 0."""
        self.stop(0)

    def booted(self, ok: bool, error: str | None) -> None:
        self.on_trio(self._set_booted, ok, error)

    def _set_booted(self, ok: bool, error: str | None) -> None:
        if self._boot is None:
            self._boot = (ok, error)
        if self._booted_event is not None:
            self._booted_event.set()

    # ----- services -----

    def launch(self, name: str, args: str = "") -> Service:
        """Create a service from the Lua file ``name`` and run its main chunk.

        The service counts as launched by skynet once its start function
        returned; that wait is the launcher's job (``skynet.newservice``).
        Raises :class:`LaunchError` and leaves nothing behind on failure.
        """
        service = Service(self.registry.new_handle(), name, args)
        # Marked queued until booted, as skynet does, so no dispatcher can
        # enter the VM while its main chunk still runs here.
        service.in_queue = True
        self.registry.add(service)
        try:
            if self.pyservices is not None and (found := self.pyservices.find(name)):
                self.pyservices.boot(service, found)  # Lua files win: found is None
            else:
                if isinstance(self.scheduler, NativeScheduler):
                    self.scheduler.adopt(service)
                boot_service(self, service, make_send(self, service), make_command(self, service))
        except LaunchError:
            self.retire(service, "failed to launch")
            raise
        self.scheduler.release(service)
        return service

    def bind_name(self, name: str, handle: int) -> None:
        """Give the service at ``handle`` a local name (``skynet.register``/``name``)."""
        target = self.registry.services.get(handle)
        if target is None:
            raise ServiceNotFound(f"no service at :{handle:08x}")
        self.registry.bind_name(name, handle)
        if name in ESSENTIAL_NAMES:
            target.essential = True

    def check_removable(self, service: Service, what: str) -> None:
        """Raise unless ``service`` may ``what`` ("exit", "be killed")."""
        if service.essential:
            raise SkyletError(
                f"service {service.address} ({service.name}) is essential to the node "
                f"and cannot {what}"
            )

    def retire(self, service: Service, reason: str) -> None:
        """Remove a service: every request it holds or has queued gets an error."""
        running = False
        with self.scheduler.lock:
            if service.dead:
                return
            service.dead = True
            self.registry.remove(service.handle)
            if service.native:
                assert isinstance(self.scheduler, NativeScheduler)
                running, queued = self.scheduler.retire(service)
                if running:
                    # A dispatcher is inside its VM (it retired itself, or
                    # another thread killed it): the VM closes when that turn
                    # ends (EV_CLOSE), which may be before this returns.
                    self._closing[service.handle] = service
            else:
                queued = list(service.mailbox)
                service.mailbox.clear()
            unanswered = [
                (source, session)
                for ptype, session, source, _ in queued
                if session and ptype != ptypes.RESPONSE and ptype != ptypes.ERROR
            ]
            # A queued request is booked too: answer each once.
            unanswered = list(dict.fromkeys(unanswered + self.book.drop(service)))
        message = f"service {service.address} {reason}".encode()
        for caller, session in unanswered:
            self.answer_error(caller, session, service.handle, message)
        self.sockets.release(service.handle)
        servicelog.logoff(service)
        if self.monitor_exit and self.monitor_exit != service.handle:
            self._answer_client(self.monitor_exit, service.handle)
        if self.pyservices is not None:
            self.pyservices.retired(service)
        if not running:
            self._close_vm(service)

    def _close_vms(self) -> None:
        # Close every VM now, while Python is whole: a VM closed later (by the
        # garbage collector, at interpreter exit) runs its Lua finalizers,
        # which may call the node's entry points, when lupa can no longer take
        # the call (that crashed the process).
        with self.scheduler.lock:
            services = list(self.registry.services.values()) + list(self._closing.values())
            self._closing.clear()
            for service in services:
                service.dead = True
                service.mailbox.clear()
        for service in services:
            self._close_vm(service)

    def _close_vm(self, service: Service) -> None:
        servicelog.logoff(service)  # (a dispatcher's EV_CLOSE may come first)
        _close_vm(service)
        if isinstance(self.scheduler, NativeScheduler):
            self.scheduler.forget(service)

    def answer_error(self, dest: int, session: int, source: int, message: bytes) -> None:
        """Post an error answer to the request ``session`` of ``dest``, if it still lives."""
        target = self.registry.services.get(dest)
        if target is not None:
            self.post(target, ptypes.ERROR, session, source, message)

    def _answer_client(self, dest: int, source: int) -> None:
        target = self.registry.services.get(dest)
        if target is not None:
            self.post(target, ptypes.CLIENT, 0, source, b"")

    def forget_request(self, caller: Any, session: int) -> None:
        """An answer went to a caller that is gone: stop tracking the request."""
        if isinstance(caller, int):
            self.book.answer(caller, session)

    def resolve(self, address: Any) -> Service | None:
        """The live service at a handle, ``.name`` or ``:hex`` address."""
        if isinstance(address, bytes):
            address = address.decode("utf-8", "replace")
        elif isinstance(address, float) and address.is_integer():
            address = int(address)
        elif not isinstance(address, (int, str)):
            return None
        return self.registry.resolve(address)

    def post(self, target: Service, ptype: int, session: int, source: int, msg: Any) -> bool:
        """Queue a message the node itself produces (timers, errors, host sends).

        False if ``target`` is gone (it retired meanwhile)."""
        return self.scheduler.deliver(target, (ptype, session, source, msg)) is not False

    def _deliver_socket_message(self, owner: int, payload: bytes) -> bool:
        service = self.registry.services.get(owner)
        if service is None or service.dead:
            return False
        return self.post(service, ptypes.SOCKET, 0, 0, payload)  # False: retired meanwhile

    def kill(self, address: int | str) -> None:
        """Kill a service from Python, as ``skynet.kill`` does."""
        target = self.resolve(address)
        if target is None:
            raise ServiceNotFound(f"no service at {address!r}")
        self.check_removable(target, "be killed")
        self._kill(target, "was killed")

    def _kill(self, target: Service, reason: str) -> None:
        # The launcher hears first: with dispatchers on other threads, a
        # caller answered by the retirement could otherwise ask the
        # launcher before it knows.
        launcher = self.registry.resolve(".launcher")
        if launcher is not None and launcher is not target:
            self.post(launcher, ptypes.LUA, 0, 0, pack("REMOVE", target.handle, True))
        self.retire(target, reason)

    def kill_failed(self, service: Service) -> None:
        """A service whose start failed and that could not report it goes as killed."""
        self._kill(service, "failed to start")

    def _native_event(
        self, kind: int, handle: int, ptype: int, session: int, source: int, text: bytes
    ) -> None:
        # What a C dispatcher reports (on its own thread, holding the GIL).
        if kind == EV_CLOSE:
            with self.scheduler.lock:
                service = self._closing.pop(handle, None)
            if service is not None:
                self._close_vm(service)
            return
        service = self.registry.services.get(handle)
        if service is None:  # retired during the message
            if kind in (EV_ERROR, EV_MEMORY):
                self.logger.log(handle, f"dispatch failed: {text.decode('utf-8', 'replace')}")
            return
        if kind == EV_LOG:
            servicelog.log_message(service, ptype, session, source, text)
        elif kind == EV_DOOMED:
            self.doomed(service)
        elif kind == EV_OVERLOAD:
            self.logger.log(handle, f"error: May overload, message queue length = {session}")
        else:
            error_class = LuaMemoryError if kind == EV_MEMORY else LuaError
            error = error_class(text.decode("utf-8", "replace"))
            self._dispatch_failed(service, error, (ptype, session, source, None))

    def doomed(self, service: Service) -> None:
        # The monitor doomed it (it swallowed its interrupts) and its message
        # has unwound: it goes, as if killed, whatever it is.
        if not service.dead:
            reason = (service.doomed or b"").decode("utf-8", "replace")
            self.logger.log(service.handle, f"killed: {reason}")
            self._kill(service, "was killed: it kept running after being interrupted")

    def set_memlimit(self, service: Service, limit: int) -> None:
        """``skynet.memlimit``: lower a service's Lua memory limit (never raise it).

        ``service_memlimit`` is the ceiling every service starts at.
        """
        ceiling = service.memlimit
        if limit <= 0 or (ceiling > 0 and limit > ceiling):
            now = f"{ceiling} bytes" if ceiling > 0 else "no limit"
            raise SkyletError(
                f"skynet.memlimit can only lower the memory limit ({now} now), not set {limit}"
            )
        service.memlimit = limit
        if service.runtime is not None:
            service.runtime.set_max_memory(limit)

    def _dispatch_failed(self, service: Service, exc: BaseException, message: Message) -> None:
        """An error escaped a service's dispatch: log it, answer the request it carried."""
        if service.doomed is not None and not service.dead:
            # A doomed message unwound: the service goes first, which answers
            # the request as killed.
            self.doomed(service)
        if isinstance(exc, LuaError):
            self.logger.log(service.handle, f"dispatch failed: {exc}")
        else:
            trace = "".join(traceback.format_exception(exc)).rstrip()
            self.logger.log(service.handle, f"dispatch failed:\n{trace}")
        ptype, session, source, _ = message
        if isinstance(exc, LuaMemoryError) and not service.dead:
            # Its own dispatch code ran out of memory (not a handler: those
            # errors are caught in Lua): it cannot answer or report any more,
            # so it goes, as if killed; its callers and the launcher hear.
            self.logger.log(service.handle, "killed: out of memory in its dispatch code")
            self._kill(service, "was killed: out of memory")
        if not session or ptype == ptypes.RESPONSE or ptype == ptypes.ERROR:
            return
        with self.scheduler.lock:
            if not self.book.settle(source, session, service):
                return  # answered already, or its caller is gone
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.answer_error(source, session, service.handle, first.encode())

    # ----- time -----

    def now(self) -> int:
        """Ticks (1/100 s) since the node started, on trio's clock."""
        assert self._clock is not None
        return ticks_at(self._clock.current_time() - self._t0)

    def set_timer(self, service: Service, ticks: int, session: int) -> None:
        if ticks <= 0:
            self.post(service, ptypes.RESPONSE, session, 0, None)
        else:
            self.on_trio(self.timers.add, ticks, service.handle, session)

    def _timer_expired(self, handle: int, session: int) -> None:
        target = self.registry.services.get(handle)
        if target is not None:
            self.post(target, ptypes.RESPONSE, session, 0, None)

    # ----- output -----

    def _warn(self, message: str) -> None:
        self.logger.log(0, message)

    def print(self, text: str) -> None:
        if self._stdout is not None:
            self._stdout(text)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    # ----- the Python API -----

    def _new_host(self) -> Service:
        host = Service(self.registry.new_handle(), "<python>", "")
        host.essential = True
        host.dispatch = self._host_dispatch
        self.registry.add(host)
        return host

    def _host_dispatch(self, ptype: int, session: int, source: int, msg: Any) -> None:
        if ptype != ptypes.RESPONSE and ptype != ptypes.ERROR:
            # The Python side answers no requests; a caller must not wait forever
            # (nor may its session be taken for the answer to a host call).
            if session and self._host is not None:
                with self.scheduler.lock:
                    self.book.answer(source, session)
                self.answer_error(
                    source, session, self._host.handle, b"the Python host answers no requests"
                )
            return
        self.on_trio(self._host_reply, ptype, session, msg)

    def _host_reply(self, ptype: int, session: int, msg: Any) -> None:
        reply = self._host_waiting.pop(session, None)
        if reply is not None:
            reply.ptype, reply.msg = ptype, msg
            reply.event.set()

    def _fail_host_calls(self) -> None:
        for reply in self._host_waiting.values():
            reply.ptype, reply.msg = ptypes.ERROR, b"the node stopped"
            reply.event.set()
        self._host_waiting.clear()

    def _payload(self, ptype: int, args: tuple[Any, ...]) -> Any:
        if ptype in (ptypes.LUA, ptypes.DEBUG):
            return pack(*args)
        if len(args) != 1 or not isinstance(args[0], (bytes, str)):
            raise TypeError("protocols other than lua and debug take one bytes/str payload")
        return args[0].encode() if isinstance(args[0], str) else args[0]

    def _host_send(self, address: int | str, proto: int | str, session: int, args: Any) -> Service:
        if self._host is None or self.scheduler.stopping:
            raise NodeStopped("the node is not running")
        target = self.resolve(address)
        if target is None:
            raise ServiceNotFound(f"no service at {address!r}")
        ptype = ptypes.resolve(proto)
        payload = self._payload(ptype, args)
        if session:
            with self.scheduler.lock:
                self.book.ask(self._host.handle, session, target)
        if not self.post(target, ptype, session, self._host.handle, payload):
            if session:
                self.book.answer(self._host.handle, session)
            raise ServiceNotFound(f"no service at {address!r}")
        return target

    def send(self, address: int | str, proto: int | str, *args: Any) -> None:
        """``skynet.send`` from Python; raises ServiceNotFound for a bad address."""
        self._host_send(address, proto, 0, args)

    async def call(self, address: int | str, proto: int | str, *args: Any) -> Any:
        """``skynet.call`` from Python.

        Returns what the service answered: None for nothing, the value for one
        value, a tuple for several. Raises :class:`CallError` if the callee
        raised, exited or was killed, :class:`ServiceNotFound` if there is no
        such service.
        """
        self._host_session += 1
        session = self._host_session
        reply = _Reply()
        self._host_waiting[session] = reply
        try:
            target = self._host_send(address, proto, session, args)
        except BaseException:
            del self._host_waiting[session]
            raise
        await reply.event.wait()
        if reply.ptype == ptypes.ERROR:
            why = reply.msg.decode("utf-8", "replace") if reply.msg else "call failed"
            raise CallError(f"call to {target.address} failed: {why}")
        if ptypes.resolve(proto) not in (ptypes.LUA, ptypes.DEBUG):
            return reply.msg
        try:
            values = unpack(reply.msg)
        except Exception as exc:  # not skynet.pack's output (e.g. a number, or garbage)
            raise CallError(f"call to {target.address} failed: bad answer: {exc}") from None
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    async def inject(
        self, address: int | str, source: str | bytes, filename: str | None = None, *args: Any
    ) -> InjectResult:
        """Run a Lua script inside a live service (the debug ``RUN``), as a hotfix.

        Extra ``args`` reach the script as ``...``. Raises like :meth:`call`
        if the service is not there; a script that fails is a result with
        ``ok`` False, not an exception.
        """
        return await run_inject(self.call, address, source, filename, *args)

    async def newservice(self, name: str, *args: Any) -> int:
        """``skynet.newservice`` from Python: the new service's handle."""
        return int(await self.call(".launcher", "lua", "LAUNCH", "snlua", name, *args))


class _Reply:
    __slots__ = ("event", "msg", "ptype")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.ptype = 0
        self.msg: Any = None


def _close_vm(service: Service) -> None:
    """Let go of a dead service's VM; with the last reference, Lua closes it.

    Its finalizers may still call ``send``/``command``: those refuse a dead
    service.
    """
    service.dispatch = None
    service.bytecode = None
    service.runtime = None


def _opt_str(value: ConfigValue | None) -> str | None:
    return None if value is None or value is False else str(value)


@asynccontextmanager
async def open_node(
    config: str | os.PathLike[str] | Mapping[str, object],
    *,
    log: Writer | None = None,
    stdout: Callable[[str], None] | None = None,
) -> AsyncIterator[Node]:
    """Run a node for the duration of an ``async with`` block.

    The node has booted (its start service launched) when the block starts,
    and is stopped when it ends.
    """
    node = Node(config, log=log, stdout=stdout)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            try:
                yield node
            finally:
                node.stop()
    except BaseExceptionGroup as group:
        raise _sole(group) from None


def _sole(group: BaseExceptionGroup) -> BaseException:
    # A nursery wraps whatever crosses it; callers of open_node want the
    # error itself (a LaunchError, or what their own block raised).
    while len(group.exceptions) == 1 and isinstance(group.exceptions[0], BaseExceptionGroup):
        group = group.exceptions[0]
    return group.exceptions[0] if len(group.exceptions) == 1 else group
