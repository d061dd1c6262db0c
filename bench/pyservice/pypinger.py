"""Calls a service n times in a row and answers the seconds it took."""

import time

import skylet


class PyPinger(skylet.Service):
    async def run(self, target, n):
        call = self.call
        t0 = time.perf_counter()
        for i in range(1, n + 1):
            await call(target, "lua", "ping", i)
        return time.perf_counter() - t0
