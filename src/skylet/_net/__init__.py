"""The network: the socket server that ``skynet.socketdriver`` talks to, and TCP."""
