"""Host-side halves of skynet's libraries: the core commands they need of the
node (``_commands.COMMANDS``, merged into the core's table), each taking and
returning only strings, numbers, booleans and nil."""
