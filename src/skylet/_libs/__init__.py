"""skynet's service libraries: the core commands they need of the node
(``_commands.COMMANDS``, merged into the core's table), and host-side halves
of Lua libraries, each reached through one core command (crypt)."""
