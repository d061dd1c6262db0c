-- A message server on snax.msgserver: one msgagent per logged-in user.
local msgserver = require "snax.msgserver"
local skynet = require "skynet"

local loginservice = tonumber(...)
local servername
local users = {}    -- uid -> { username, agent, subid }
local by_name = {}  -- username -> user
local next_id = 0

local server = {}

function server.login_handler(uid, secret)
  assert(not users[uid], "already logged in")
  next_id = next_id + 1
  local username = msgserver.username(uid, next_id, servername)
  local agent = skynet.newservice("msgagent")
  local u = { username = username, agent = agent, uid = uid, subid = next_id }
  skynet.call(agent, "lua", "login", uid, next_id, secret)
  users[uid], by_name[username] = u, u
  msgserver.login(username, secret)
  return next_id
end

function server.logout_handler(uid, subid)
  local u = users[uid]
  if u then
    assert(u.username == msgserver.username(uid, subid, servername))
    msgserver.logout(u.username)
    users[uid], by_name[u.username] = nil, nil
    skynet.call(loginservice, "lua", "logout", uid, subid)
  end
end

function server.kick_handler(uid, subid)
  local u = users[uid]
  if u then
    pcall(skynet.call, u.agent, "lua", "logout")
  end
end

function server.disconnect_handler(username)
  local u = by_name[username]
  if u then
    skynet.send(u.agent, "lua", "afk")
  end
end

function server.request_handler(username, msg)
  local u = by_name[username]
  return skynet.tostring(skynet.rawcall(u.agent, "client", msg))
end

function server.register_handler(name, gateconf)
  servername = name
  skynet.call(loginservice, "lua", "register_gate", servername, skynet.self())
  return gateconf.port
end

msgserver.start(server)
