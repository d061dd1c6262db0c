-- One user's agent: echoes requests after a short sleep; "fail" raises;
-- "bye" logs the user out.
local skynet = require "skynet"

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = skynet.tostring,
}

local gate, userid, subid

local CMD = {}

function CMD.login(source, uid, sid)
  gate, userid, subid = source, uid, sid
end

local function logout()
  if gate then
    skynet.call(gate, "lua", "logout", userid, subid)
  end
  skynet.exit()
end

function CMD.logout()
  logout()
end

function CMD.afk() end

skynet.start(function()
  skynet.dispatch("lua", function(_, source, command, ...)
    local f = assert(CMD[command])
    skynet.ret(skynet.pack(f(source, ...)))
  end)
  skynet.dispatch("client", function(_, _, msg)
    skynet.sleep(10)
    if msg == "fail" then
      error("the agent refuses")
    elseif msg == "bye" then
      skynet.ret("bye " .. userid)
      skynet.fork(logout)
      return
    end
    skynet.ret(msg)
  end)
end)
