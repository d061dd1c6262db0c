"""Sleeps on request; records what woke up, to show tasks were cancelled."""

import trio

import skylet


class Sleeper(skylet.Service):
    async def nap(self, seconds):
        await trio.sleep(seconds)
        self.log("woke up after", seconds)
        return trio.current_time()

    async def quit_later(self, seconds):
        await trio.sleep(seconds)
        await self.exit()
