"""The network: the socket server that ``skynet.socketdriver`` talks to, and TCP.

Below the node: it never imports it. The socket server gets the few
callables it needs (clock, log, ``deliver``) and the table of operations.
"""
