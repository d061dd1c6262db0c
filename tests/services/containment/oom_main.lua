-- A service fills its memory and keeps it; then the node writes into it
-- (large payloads, command results). lupa cannot take a memory error there:
-- unguarded, the process aborts or deadlocks.
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
  local hog = skynet.newservice("hostile")
  print("FILLED", skynet.call(hog, "lua", "fill") > 0)
  local big = string.rep("x", 200000)
  for i = 1, 20 do
    pcall(skynet.call, hog, "lua", "echo", big)
    skynet.send(hog, "lua", "echo", big)
  end
  print("PAYLOADS DELIVERED")
  local ok, failures = pcall(skynet.call, hog, "lua", "ask_while_full", 200)
  print("ASKED", ok, failures)
  local other = skynet.newservice("hostile")
  print("NODE ALIVE", skynet.call(other, "lua", "echo", "yes"))
  skynet.abort()
end)
