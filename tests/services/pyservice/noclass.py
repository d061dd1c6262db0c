from skylet import Service  # noqa: F401 - imported, not defined here: not this module's class

VALUE = 1
