import skylet


class Broken(skylet.Service)
    pass
