import skylet


class Shadowed(skylet.Service):
    async def which(self):
        return "python"
