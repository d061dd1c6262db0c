"""skynet's service libraries and host-side halves of Lua libraries: the core
commands they need of the node (``_commands.COMMANDS``, merged into the core's
table), each reached through one core command."""
