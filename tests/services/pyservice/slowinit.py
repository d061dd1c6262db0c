import trio

import skylet


class SlowInit(skylet.Service):
    async def init(self):
        self.register(".slowinit")
        await trio.sleep(10)
        self.log("init finished")
        self.ready = "after init"

    async def state(self):
        return self.ready
