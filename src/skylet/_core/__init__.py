"""The core: the node, its services, scheduler, timers and names, and the leaf
modules every layer uses (errors, paths, message types, the service record)."""
