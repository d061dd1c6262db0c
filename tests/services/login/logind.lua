-- A login server on snax.loginserver, as a game would write one: tokens are
-- base64(user)@base64(server):base64(password); one login per user at a time.
local login = require "snax.loginserver"
local crypt = require "skynet.crypt"
local skynet = require "skynet"

local server = {
  host = "127.0.0.1",
  port = 0,
  multilogin = false,
  name = "test_login",
  instance = 2,
}

local gates = {}  -- server name -> gate address
local online = {} -- uid -> { address, subid, server }
local events = {}

function server.auth_handler(token)
  local user, servername, password = token:match("([^@]+)@([^:]+):(.+)")
  user, servername = crypt.base64decode(user), crypt.base64decode(servername)
  assert(crypt.base64decode(password) == "password", "Invalid password")
  return servername, user
end

function server.login_handler(servername, uid, secret)
  local gate = assert(gates[servername], "Unknown server")
  local last = online[uid]
  if last then
    skynet.call(last.address, "lua", "kick", uid, last.subid)
  end
  if online[uid] then
    error(string.format("user %s is already online", uid))
  end
  if uid == "slow" then
    skynet.error("slow login waits")
    skynet.sleep(30) -- keeps the login open, to try a second one meanwhile
  end
  local subid = tostring(skynet.call(gate, "lua", "login", uid, secret))
  online[uid] = { address = gate, subid = subid, server = servername }
  events[#events + 1] = "login " .. uid .. " " .. subid
  return subid
end

local CMD = {}

function CMD.register_gate(servername, address)
  gates[servername] = address
end

function CMD.logout(uid, subid)
  if online[uid] then
    online[uid] = nil
    events[#events + 1] = "logout " .. uid .. " " .. subid
  end
end

function CMD.address()
  return server.host, server.port
end

function CMD.events()
  return events
end

function server.command_handler(command, ...)
  return assert(CMD[command], "unknown command")(...)
end

login(server)
