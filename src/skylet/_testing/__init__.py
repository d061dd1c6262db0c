"""skylet's pytest kit: the ``skylet_node`` fixture (``plugin``) and the nodes
it starts (``_node``). Installing skylet registers the plugin (entry point
``pytest11``), so a project needs no conftest to use it."""
