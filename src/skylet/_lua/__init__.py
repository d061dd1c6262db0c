"""The Lua side: a service's VM, the code cache, and the C modules bound to lupa's Lua.

Below the node: it never imports it. Booting a VM reads the node through
``_vm.VMHost`` and gets the service's ``send`` and ``command`` from the core.
"""
