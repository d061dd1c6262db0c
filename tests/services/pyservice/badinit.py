import skylet


class BadInit(skylet.Service):
    async def init(self, *args):
        self.register(".badinit")
        raise RuntimeError("init failed on purpose")
