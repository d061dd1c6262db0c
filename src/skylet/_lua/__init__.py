"""The Lua side: a service's VM, the code cache, and the C modules bound to lupa's Lua."""
