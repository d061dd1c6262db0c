-- An idle service that requires the generated ~1,000-line module.
local skynet = require "skynet"
local heavy = require "bench_heavy_module"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd)
    if cmd == "mem" then
      skynet.ret(skynet.pack(collectgarbage("count")))
    elseif cmd == "check" then
      skynet.ret(skynet.pack(heavy.checksum()))
    end
  end)
end)
