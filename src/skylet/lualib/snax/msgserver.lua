-- snax.msgserver: skynet's message server (lualib/snax/msgserver.lua), the
-- same protocol and API, on snax.gateserver, skynet.netpack and skynet.crypt.
-- Every packet is framed as the gate frames them (2-byte big-endian length).
--
-- Handshake, the first packet of a connection:
--   client -> server  base64(uid)@base64(server)#base64(subid):index:base64(hmac)
--                     hmac = hmac64(hashkey(everything before the last ':'), secret)
--                     index: greater than the index of the last handshake
--   server -> client  "200 OK", or "404 User Not Found", "403 Index Expired",
--                     "401 Unauthorized", "400 Bad Request" (then it closes)
-- Then requests and responses (numbers big-endian):
--   client -> server  content .. uint32 session
--   server -> client  content .. uint8 ok (1 ok, 0 the handler raised) .. uint32 session
-- Responses are kept per user: a request that repeats a session of an earlier
-- connection (a reconnect) gets the response again instead of running twice;
-- reusing a session on the same connection replaces it, unless its request is
-- still running (then the connection is closed: "Conflict session").
--
-- server.start(conf), with conf:
--   login_handler(uid, secret) -> subid   "login" from the login server
--   logout_handler(uid, subid)            "logout" (from the agent)
--   kick_handler(uid, subid)              "kick" from the login server
--   request_handler(username, msg) -> response  may yield
--   register_handler(servername, gateconf)  the gate opened (skylet also passes
--                                         the gate's conf: address, port bound)
--   disconnect_handler(username)          the user's connection closed (optional)
--   expired_number                        responses kept after sending (default 128)
-- and server.login(username, secret), server.logout(username),
-- server.username(uid, subid, servername), server.userid(username) -> uid,
-- subid, servername, server.ip(username).
local skynet = require "skynet"
local gateserver = require "snax.gateserver"
local netpack = require "skynet.netpack"
local crypt = require "skynet.crypt"
local driver = require "skynet.socketdriver"

local b64encode, b64decode = crypt.base64encode, crypt.base64decode
local format, pack, unpack, sub = string.format, string.pack, string.unpack, string.sub

local server = {}

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
}

local user_online = {} -- username -> user
local handshake = {}   -- fd -> addr, until its first packet
local connection = {}  -- fd -> user, once authenticated

function server.userid(username)
  local uid, servername, subid = username:match "([^@]*)@([^#]*)#(.*)"
  return b64decode(uid), b64decode(subid), b64decode(servername)
end

function server.username(uid, subid, servername)
  return format("%s@%s#%s", b64encode(uid), b64encode(servername), b64encode(tostring(subid)))
end

function server.login(username, secret)
  assert(user_online[username] == nil, "user is online already")
  user_online[username] = {
    username = username,
    secret = secret,
    version = 0,   -- index of the last accepted handshake
    index = 0,     -- counts responses, for expiry
    response = {}, -- session -> { fd waiting or nil, framed response, version, index }
  }
end

function server.logout(username)
  local u = user_online[username]
  user_online[username] = nil
  if u and u.fd and connection[u.fd] then
    gateserver.closeclient(u.fd)
    connection[u.fd] = nil
  end
end

function server.ip(username)
  local u = user_online[username]
  if u and u.fd then
    return u.ip
  end
end

function server.start(conf)
  local expired_number = conf.expired_number or 128
  local request_handler = assert(conf.request_handler, "msgserver needs conf.request_handler")
  local CMD = {
    login = assert(conf.login_handler, "msgserver needs conf.login_handler"),
    logout = assert(conf.logout_handler, "msgserver needs conf.logout_handler"),
    kick = assert(conf.kick_handler, "msgserver needs conf.kick_handler"),
  }

  local handler = {}

  function handler.command(cmd, source, ...)
    local f = assert(CMD[cmd], "unknown msgserver command")
    return f(...)
  end

  function handler.open(source, gateconf)
    return conf.register_handler(assert(gateconf.servername, "gate open needs servername"), gateconf)
  end

  function handler.connect(fd, addr)
    handshake[fd] = addr
    gateserver.openclient(fd)
  end

  function handler.disconnect(fd)
    handshake[fd] = nil
    local u = connection[fd]
    if u then
      if conf.disconnect_handler then
        conf.disconnect_handler(u.username)
      end
      if connection[fd] then -- the handler may have closed it
        u.fd = nil
        connection[fd] = nil
        gateserver.closeclient(fd)
      end
    end
  end

  handler.error = handler.disconnect

  -- Returns nil when the handshake is accepted, else the error line. Never yields.
  local function check_handshake(fd, addr, message)
    local username, index, hmac = message:match "([^:]*):([^:]*):([^:]*)"
    local u = user_online[username]
    if u == nil then
      return "404 User Not Found"
    end
    local idx = assert(tonumber(index), "index is not a number")
    if idx <= u.version then
      return "403 Index Expired"
    end
    if crypt.hmac_hash(u.secret, format("%s:%s", username, index)) ~= b64decode(hmac) then
      return "401 Unauthorized"
    end
    u.version = idx
    u.fd = fd
    u.ip = addr
    connection[fd] = u
  end

  local function auth(fd, addr, message)
    local ok, refused = pcall(check_handshake, fd, addr, message)
    if not ok then
      skynet.error(refused)
      refused = "400 Bad Request"
    end
    driver.send(fd, netpack.pack(refused or "200 OK"))
    if refused then
      gateserver.closeclient(fd)
    end
  end

  -- Drops responses older than expired_number once 2 * expired_number were sent.
  local function expire(u)
    if u.index < expired_number * 2 then
      return
    end
    local newest = 0
    for session, p in pairs(u.response) do
      if p[1] == nil then -- answered
        if p[4] < expired_number then
          u.response[session] = nil
        else
          p[4] = p[4] - expired_number
          if p[4] > newest then
            newest = p[4]
          end
        end
      end
    end
    u.index = newest + 1
  end

  local function do_request(fd, message)
    local u = assert(connection[fd], "invalid fd")
    local session = unpack(">I4", message, -4)
    message = sub(message, 1, -5)
    local p = u.response[session]
    if p and p[3] == u.version then
      -- the same session again on this connection: a new request
      u.response[session] = nil
      if p[2] == nil then
        local why = format("Conflict session %s", crypt.hexencode(pack(">I4", session)))
        skynet.error(why)
        error(why)
      end
      p = nil
    end

    if p == nil then
      p = { fd }
      u.response[session] = p
      local ok, result = pcall(request_handler, u.username, message) -- may yield
      if ok then
        result = (result or "") .. pack(">BI4", 1, session)
      else
        skynet.error(result)
        result = pack(">BI4", 0, session)
      end
      p[2] = pack(">s2", result)
      p[3] = u.version
      p[4] = u.index
    else
      -- a request of an earlier connection, sent again: answer it here
      p[1] = fd
      p[3] = u.version
      p[4] = u.index
      if p[2] == nil then
        return -- still running; its answer goes to p[1] when ready
      end
    end
    u.index = u.index + 1
    fd = p[1] -- the connection waiting now (a reconnect may have moved it)
    if connection[fd] then
      driver.send(fd, p[2])
    end
    p[1] = nil
    expire(u)
  end

  local function request(fd, message)
    local ok, err = pcall(do_request, fd, message)
    if not ok then
      skynet.error(format("Invalid package %s : %s", tostring(err), message))
      if connection[fd] then
        gateserver.closeclient(fd)
      end
    end
  end

  function handler.message(fd, msg, sz)
    local message = netpack.tostring(msg, sz)
    local addr = handshake[fd]
    if addr then
      handshake[fd] = nil
      auth(fd, addr, message)
    else
      request(fd, message)
    end
  end

  return gateserver.start(handler)
end

return server
