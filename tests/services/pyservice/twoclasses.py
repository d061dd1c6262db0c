import skylet


class One(skylet.Service):
    pass


class Two(skylet.Service):
    pass
