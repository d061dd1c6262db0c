-- A hotfix for counter.lua: incr counts double, the count is kept.
local hotfix = require "skylet.hotfix"
local bump

return hotfix.patch {
  ["_P.lua.CMD.incr"] = function(n) return bump(2 * (n or 1)) end,
}
