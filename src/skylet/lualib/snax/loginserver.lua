-- snax.loginserver: skynet's login server (lualib/snax/loginserver.lua), the
-- same protocol and configuration, on skynet.socket and skynet.crypt.
--
-- A line-based handshake (each line ends with "\n"):
--   server -> client  base64(challenge)              8 random bytes
--   client -> server  base64(dhexchange(clientkey))
--   server -> client  base64(dhexchange(serverkey))
--                     both sides: secret = dhsecret(their public, own key)
--   client -> server  base64(hmac64(challenge, secret))
--   client -> server  base64(desencode(secret, token))
--   server -> client  "200 base64(subid)" on success, or
--                     "401 Unauthorized"   auth_handler raised
--                     "403 Forbidden"      login_handler raised
--                     "406 Not Acceptable" the user is logging in already
--                                          (unless conf.multilogin)
--
-- login(conf) starts the service. The first instance registers
-- "." .. (conf.name or "login") and is the master: it listens on
-- conf.host:conf.port (set to the address bound, so port 0 works), and
-- launches conf.instance (default 8) slaves of the same service file,
-- which run the handshake one connection at a time each:
--   conf.auth_handler(token) -> server, uid     in the slaves
--   conf.login_handler(server, uid, secret) -> subid
--   conf.command_handler(cmd, ...)              "lua" messages to the master
local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"

local format = string.format
local b64encode, b64decode = crypt.base64encode, crypt.base64decode

-- Raised when the client went away mid-handshake (not the client's fault to report).
local socket_error = setmetatable({}, { __tostring = function() return "socket error" end })

local function check_socket(what, fd, v)
  if not v then
    skynet.error(format("%s failed: socket (fd = %d) closed", what, fd))
    error(socket_error)
  end
  return v
end

local function write(what, fd, text)
  check_socket(what, fd, socket.write(fd, text))
end

local function readline(fd)
  return check_socket("auth", fd, socket.readline(fd))
end

----- slave: one handshake per call -----

local function slave(auth_handler)
  -- Returns ok, server, uid, secret (ok false: the auth handler's error).
  local function handshake(fd)
    socket.limit(fd, 8192) -- a client sending more than a handshake is dropped
    local challenge = crypt.randomkey()
    write("auth", fd, b64encode(challenge) .. "\n")

    local clientkey = b64decode(readline(fd))
    if #clientkey ~= 8 then
      error "Invalid client key"
    end
    local serverkey = crypt.randomkey()
    write("auth", fd, b64encode(crypt.dhexchange(serverkey)) .. "\n")
    local secret = crypt.dhsecret(clientkey, serverkey)

    if b64decode(readline(fd)) ~= crypt.hmac64(challenge, secret) then
      error "challenge failed"
    end

    local token = crypt.desdecode(secret, b64decode(readline(fd)))
    local ok, server, uid = pcall(auth_handler, token)
    return ok, server, uid, secret
  end

  -- The answer to the master: ok, ... as handshake, or nil, "socket error"
  -- (the client is gone), or false, why.
  local function answer(ok, first, ...)
    if ok then
      return skynet.pack(first, ...)
    elseif first == socket_error then
      return skynet.pack(nil, "socket error")
    end
    return skynet.pack(false, first)
  end

  skynet.dispatch("lua", function(_, _, fd, addr)
    skynet.error(format("connect from %s (fd = %d)", addr, fd))
    local msg
    if socket.start(fd) then
      msg = answer(pcall(handshake, fd))
      socket.abandon(fd) -- the master answers the client
    else
      msg = skynet.pack(nil, "socket error")
    end
    skynet.ret(msg)
  end)
end

----- master: accepts, hands each client to a slave, logs in -----

local logging_in = {} -- uid -> true while its login_handler runs

local function login(conf, slave_address, fd, addr)
  local ok, server, uid, secret = skynet.call(slave_address, "lua", fd, addr)
  if not ok then
    if ok == false then
      write("response 401", fd, "401 Unauthorized\n")
    end
    error(server)
  end

  if not conf.multilogin then
    if logging_in[uid] then
      write("response 406", fd, "406 Not Acceptable\n")
      error(format("User %s is already login", uid))
    end
    logging_in[uid] = true
  end
  local done, subid = pcall(conf.login_handler, server, uid, secret)
  logging_in[uid] = nil

  if done then
    write("response 200", fd, "200 " .. b64encode(subid or "") .. "\n")
  else
    write("response 403", fd, "403 Forbidden\n")
    error(subid)
  end
end

local function master(conf)
  local slaves = {}
  for i = 1, conf.instance or 8 do
    slaves[i] = skynet.newservice(SERVICE_NAME)
  end
  assert(#slaves > 0, "loginserver needs at least one instance")

  skynet.dispatch("lua", function(_, _, command, ...)
    skynet.ret(skynet.pack(conf.command_handler(command, ...)))
  end)

  local host = conf.host or "0.0.0.0"
  local port = assert(tonumber(conf.port), "loginserver needs conf.port")
  local id, bound
  id, bound, port = socket.listen(host, port)
  conf.host, conf.port = bound, port
  skynet.error(format("login server listen at : %s %d", bound, port))

  local next_slave = 0
  socket.start(id, function(fd, addr)
    next_slave = next_slave % #slaves + 1
    local ok, err = pcall(login, conf, slaves[next_slave], fd, addr)
    if not ok and err ~= socket_error then
      skynet.error(format("invalid client (fd = %d) error = %s", fd, tostring(err)))
    end
    socket.close_fd(fd) -- what was written still goes out first
  end)
end

return function(conf)
  local name = "." .. (conf.name or "login")
  skynet.start(function()
    if skynet.localname(name) then
      slave(assert(conf.auth_handler, "loginserver needs conf.auth_handler"))
    else
      assert(conf.login_handler, "loginserver needs conf.login_handler")
      assert(conf.command_handler, "loginserver needs conf.command_handler")
      skynet.register(name)
      master(conf)
    end
  end)
end
