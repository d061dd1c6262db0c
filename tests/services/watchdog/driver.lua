-- Calls a service n times, as fast as it answers; counts what failed and why.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, target, n, ...)
    assert(cmd == "drive")
    local ok_count, failures = 0, {}
    for _ = 1, n do
      local ok, err = pcall(skynet.call, target, "lua", ...)
      if ok then
        ok_count = ok_count + 1
      else
        failures[#failures + 1] = tostring(err)
      end
    end
    skynet.ret(skynet.pack(ok_count, failures))
  end)
end)
