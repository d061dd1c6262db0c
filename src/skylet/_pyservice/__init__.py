"""Python services: modules found on the config key ``pyservice`` that define
one subclass of :class:`skylet.Service`, run beside Lua services.

- ``_base``: the public base class, what a service's code sees;
- ``_loader``: finding a module, running it, picking its service class;
- ``_host``: one live Python service: messages in, a trio task per request,
  and the debug protocol the console speaks;
- ``_reload``: ``inject`` into a Python service (swap the live instance's class);
- ``_manager``: the node's side, the hooks ``Node.launch``/``Node.retire`` call.

Like the other subpackages, this one imports nothing itself (importing a
module runs its package's ``__init__`` first, so re-exports here would make
circles); ``skylet`` re-exports ``Service`` from ``_base``.
"""
