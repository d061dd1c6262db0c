-- Answers which skynet.pack codec the cluster services get: "C" or "Lua".
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function()
    local seri = require "skylet.serialize"
    skynet.retpack(debug.getinfo(seri.pack, "S").what, seri.unpack(seri.pack(1, nil, "x")))
  end)
end)
