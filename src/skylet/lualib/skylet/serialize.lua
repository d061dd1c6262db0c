-- skynet.pack's format (lua-seri) for the cluster's wire: the C codec
-- (skylet/_lua/_lseri.c, in the codec library) when the node loaded it,
-- else skylet.seri, the same in Lua.
return package.loaded["skylet.cseri"] or require "skylet.seri"
