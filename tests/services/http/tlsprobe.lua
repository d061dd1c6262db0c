-- ltls.c misuse, on call; each answers pcall's results.
local skynet = require "skynet"
local c = require "ltls.c"

local commands = {}

function commands.set_cert(certfile, keyfile)
  c.newctx():set_cert(certfile, keyfile)
end

function commands.server_without_cert()
  local tls = c.newtls("server", c.newctx())
  tls:handshake("\22\3\1\0\1\0")
end

function commands.foreign(id)
  -- an id this service does not hold
  local tls = c.newtls("client", c.newctx())
  tls.id = id
  tls:read("")
end

function commands.newtls(method)
  c.newtls(method, c.newctx())
end

-- n connections made and dropped without close; collected if `collect`.
function commands.drop(n, collect)
  local ctx = c.newctx()
  for _ = 1, n do
    c.newtls("client", ctx):handshake()
  end
  if collect then
    collectgarbage()
    collectgarbage()
  end
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(pcall(commands[cmd], ...)))
  end)
end)
