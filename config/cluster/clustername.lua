-- The cluster: node name = "host:port" (false: the node is down).
-- skynet's format, so a skynet node can use this file too.
db = "127.0.0.1:2528"
game = "127.0.0.1:2529"
__nowaiting = true -- a call to a node not listed here fails at once
