-- A module the counter uses: hotfix targets "rules:cap".
local M = {}
local max = 1000

function M.cap(x)
  if x > max then
    return max
  end
  return x
end

return M
