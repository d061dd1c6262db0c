"""skylet: many isolated Lua VMs in one process as skynet-style services."""

from ._codecache import CodeCache, CodeCacheMode, CodeCacheStats
from ._config import load_config
from ._errors import (
    CallError,
    ConfigError,
    LaunchError,
    NodeStopped,
    ServiceNotFound,
    SkyletError,
)
from ._inject import InjectResult
from ._node import Node, open_node
from ._pyservice import Service

__all__ = [
    "CallError",
    "CodeCache",
    "CodeCacheMode",
    "CodeCacheStats",
    "ConfigError",
    "InjectResult",
    "LaunchError",
    "Node",
    "NodeStopped",
    "Service",
    "ServiceNotFound",
    "SkyletError",
    "load_config",
    "open_node",
]
