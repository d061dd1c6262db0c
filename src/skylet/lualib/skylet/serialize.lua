-- skynet.pack's format (lua-seri) for the cluster's wire: the C codec
-- (skylet/_lua/_lseri.c, in the codec library) when the node loaded it,
-- else skylet.seri, the same in Lua.
local ok, cseri = pcall(require, "skylet.cseri")
if ok and type(cseri) == "table" then
  return cseri
end
return require "skylet.seri"
