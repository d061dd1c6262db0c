-- A module on the demo's lua_path, found by require.
local M = {}

function M.count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

return M
