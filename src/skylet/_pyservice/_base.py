"""``skylet.Service``: the base class of a Python service."""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from .._core._service import Service as Actor


class Host(Protocol):
    """What a service object reaches of the node: its ``_host.ServiceHost``."""

    service: Actor

    async def call(self, address: int | str, proto: int | str, args: tuple[Any, ...]) -> Any: ...

    def post(self, address: int | str, proto: int | str, session: int, args: Any) -> Actor: ...

    def log(self, message: str) -> None: ...

    def register(self, name: str) -> None: ...

    def getenv(self, key: str) -> str | None: ...

    async def exit(self) -> NoReturn: ...


class Service:
    """Subclass this in a module on the config's ``pyservice`` path.

    Every public ``async def`` (or plain ``def``) method the subclass defines
    is a command of the ``lua`` protocol: ``skynet.call(addr, "lua", "get",
    k)`` from Lua awaits ``self.get(k)`` and answers with what it returned
    (``None``: no values; a tuple: several; anything else: one value). ``init``
    and names starting with ``_`` are not commands, nor are the methods of
    this base class. Each request runs in a trio task of its own, on trio's
    thread, so a command may await anything trio can.
    """

    _skylet: Host

    async def init(self, *args: str) -> None:
        """Runs once, like the function given to ``skynet.start``.

        ``args`` are the words ``newservice`` was given, as strings (as a Lua
        service gets them). ``newservice`` returns once this has returned;
        requests that arrive meanwhile wait until then. If it raises, the
        launch fails and ``newservice`` raises in the caller.
        """

    # ----- who am I -----

    @property
    def address(self) -> int:
        """This service's handle, as ``skynet.self()`` gives it to a Lua service."""
        return self._skylet.service.handle

    @property
    def name(self) -> str:
        """The name it was launched by (``kv`` for ``newservice("kv")``)."""
        return self._skylet.service.name

    # ----- talking to other services -----

    async def call(self, address: int | str, proto: int | str, *args: Any) -> Any:
        """``skynet.call``: returns None, the one value, or a tuple of values.

        Raises :class:`skylet.CallError` if the callee raised, exited or was
        killed, :class:`skylet.ServiceNotFound` if there is no such service.
        """
        return await self._skylet.call(address, proto, args)

    def send(self, address: int | str, proto: int | str, *args: Any) -> None:
        """``skynet.send``: no answer. Raises ServiceNotFound for a bad address."""
        self._skylet.post(address, proto, 0, args)

    async def newservice(self, name: str, *args: Any) -> int:
        """``skynet.newservice``: launch a Lua or Python service, its handle."""
        return int(await self.call(".launcher", "lua", "LAUNCH", "snlua", name, *args))

    async def uniqueservice(self, name: str, *args: Any) -> int:
        """``skynet.uniqueservice``: the one service of that name, launched once."""
        return int(await self.call(".service", "lua", "LAUNCH", name, *args))

    def register(self, name: str) -> None:
        """``skynet.register``: give this service a local name (``.name``)."""
        self._skylet.register(name)

    def getenv(self, key: str) -> str | None:
        """``skynet.getenv``: a config key as the string Lua would see."""
        return self._skylet.getenv(key)

    def log(self, *parts: Any) -> None:
        """``skynet.error``: one log line, the parts joined by spaces."""
        self._skylet.log(" ".join(str(p) for p in parts))

    async def exit(self) -> NoReturn:
        """``skynet.exit``: retire this service; never returns.

        Queued and in-flight requests are answered with errors and every task
        of the service (this one included) is cancelled.
        """
        await self._skylet.exit()
        raise AssertionError("unreachable")  # pragma: no cover
