"""Answers every ping with its argument: the Python callee."""

import skylet


class PyEcho(skylet.Service):
    async def ping(self, value):
        return value
