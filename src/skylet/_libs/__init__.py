"""skynet's service libraries: the core commands they need of the node
(``_commands.COMMANDS``, merged into the core's table)."""
