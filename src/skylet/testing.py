"""Types of skylet's pytest kit, for annotating tests.

The plugin itself is registered by installing skylet (entry point
``pytest11``); a test asks for the ``skylet_node`` fixture::

    from skylet.testing import NodeStarter

    async def test_counter(skylet_node: NodeStarter) -> None:
        node = await skylet_node("config.lua")
        assert await node.call(".counter", "lua", "incr", 5) == 5
"""

from ._testing._node import NodeStarter, TestNode

__all__ = ["NodeStarter", "TestNode"]
