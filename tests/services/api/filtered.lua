-- skynet.filter: every message passes through f(type, msg, sz, session, source).
local skynet = require "skynet"
require "skynet.manager"

local seen = 0

skynet.filter(function(ptype, msg, sz, session, source)
  if ptype == skynet.PTYPE_LUA then
    seen = seen + 1
  end
  return ptype, msg, sz, session, source
end, function()
  skynet.dispatch("lua", function(_, _, cmd)
    skynet.ret(skynet.pack(cmd, seen))
  end)
end)
