"""The exceptions skylet raises, each saying when it is raised."""

from __future__ import annotations


class SkyletError(Exception):
    """Base class of every error skylet raises on purpose."""


class ConfigError(SkyletError):
    """A config file or config mapping is wrong.

    The message is one line and starts with ``file:line:`` when the mistake
    has a place in a file.
    """


class ServiceNotFound(SkyletError):
    """A message was addressed to a handle or name with no live service."""


class CallError(SkyletError):
    """A call failed: the callee raised, exited or was killed before replying."""


class LaunchError(SkyletError):
    """A service could not be launched (missing file, compile error, start raised)."""


class NodeStopped(SkyletError):
    """The node is not running, or stopped while the operation was pending."""
