"""skylet: many isolated Lua VMs in one process as skynet-style services."""

from ._core._config import load_config
from ._core._errors import (
    CallError,
    ConfigError,
    LaunchError,
    NodeStopped,
    ServiceNotFound,
    SkyletError,
)
from ._core._inject import InjectResult
from ._core._node import Node, open_node
from ._lua._codecache import CodeCache, CodeCacheMode, CodeCacheStats
from ._pyservice._base import Service

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
