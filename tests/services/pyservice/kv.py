"""A key-value store written in Python, called from Lua and Python tests."""

import threading

import trio

import skylet


class KV(skylet.Service):
    async def init(self, prefix="kv", *rest):
        self.prefix = prefix
        self.rest = rest
        self.store = {}
        self.log("kv started with", prefix, *rest)

    async def set(self, key, value):
        self.store[key] = value

    async def get(self, key):
        return self.store.get(key)

    async def append(self, value):
        self.store.setdefault("list", []).append(value)

    async def several(self):
        return 1, 2.5, "three"

    def plain(self, x):
        return x * 2

    async def echo(self, *values):
        return values

    async def types(self, *values):
        return ",".join(type(v).__name__ for v in values)

    async def nothing(self):
        return None

    async def raise_(self, message):
        raise ValueError(message)

    async def unanswerable(self):
        return {1, 2}

    async def ask(self, address, *args):
        return await self.call(address, "lua", *args)

    async def tell(self, address, *args):
        self.send(address, "lua", *args)

    async def sleep(self, seconds):
        await trio.sleep(seconds)
        return "slept"

    async def launch(self, name, *args):
        return await self.newservice(name, *args)

    async def quit(self):
        await self.exit()

    async def whoami(self):
        return self.address, self.name, self.prefix

    async def thread(self):
        return threading.current_thread().name

    async def _private(self):
        return "secret"
