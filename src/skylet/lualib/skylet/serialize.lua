-- skynet.pack's format (lua-seri) for the cluster's wire: the C codec
-- (skylet/_lua/_lseri.c, in the codec library; opened on first require) when
-- the node has it, else skylet.seri, the same in Lua.
local c = package.preload["skylet.cseri"] and require "skylet.cseri"
return type(c) == "table" and c or require "skylet.seri"
