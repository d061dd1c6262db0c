-- skynet.socketchannel: a client connection that reconnects by itself and
-- pairs each request with its response (skynet's lualib/skynet/socketchannel.lua,
-- which redis, mysql, mongo and the cluster sender are built on).
--
--   local channel = socketchannel.channel {
--     host = "127.0.0.1", port = 6379,   -- or host = "127.0.0.1:6379"
--     backup = { "host2", { host = "h3", port = 1 } },  -- tried in turn
--     auth = function(channel) ... end,  -- after each connect; may call request
--     response = function(sock) return session, ok, data, more end,
--                                        -- session mode (see below)
--     nodelay = true, overload = function(is_overloaded) end,
--   }
--
-- Order mode (no `response`): channel:request(req, readfn) writes req and
-- waits; responses are read in request order, each by the readfn given with
-- its request: readfn(sock) -> ok, data [, more].
-- Session mode: one reader calls desc.response for every packet;
-- channel:request(req, session) waits for that session's answer. `more`
-- (padding) collects a multi-part answer into a table.
-- sock:read(n) / sock:readline(sep) raise socketchannel.error once closed.
--
-- When the connection breaks, every request waiting on it raises (the error
-- the reader raised, or socketchannel.error); the next request connects
-- again. channel:connect() retries until it connects (backing off up to 10 s
-- between tries); channel:connect(true) and request try once and raise.
local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"

local coroutine_running = coroutine.running
local tremove, tinsert = table.remove, table.insert
local setmetatable, pcall, error, assert, ipairs, pairs, type =
  setmetatable, pcall, error, assert, ipairs, pairs, type

local socket_error = setmetatable({}, { __tostring = function() return "[Error: socket]" end })

local socketchannel = { error = socket_error }

local channel = {}
local channel_meta = { __index = channel }

local function raising(f)
  return function(sock, ...)
    local r = f(sock[1], ...)
    if not r then
      error(socket_error)
    end
    return r
  end
end

local sock_methods = { read = raising(socket.read), readline = raising(socket.readline) }

local function sock_meta(index)
  return {
    __index = index,
    __gc = function(sock)
      local fd = sock[1]
      sock[1] = false
      if fd then
        socket.shutdown(fd)
      end
    end,
  }
end

local default_sock_meta = sock_meta(sock_methods)

function socketchannel.channel(desc)
  local meta = default_sock_meta
  if desc.socket_read or desc.socket_readline then
    meta = sock_meta {
      read = desc.socket_read or sock_methods.read,
      readline = desc.socket_readline or sock_methods.readline,
    }
  end
  return setmetatable({
    __host = assert(desc.host, "socketchannel needs a host"),
    __port = desc.port,
    __backup = desc.backup,
    __auth = desc.auth,
    __response = desc.response, -- session mode
    __request = {},             -- order mode: read functions, in request order
    __thread = {},              -- order mode: waiting coroutines in order; session mode: session -> coroutine
    __result = {},              -- coroutine -> ok, or socket_error
    __result_data = {},         -- coroutine -> data (or error message)
    __connecting = {},
    __sock = false,
    __closed = false,
    __authcoroutine = false,
    __nodelay = desc.nodelay,
    __overload_notify = desc.overload,
    __overload = false,
    __sock_meta = meta,
  }, channel_meta)
end

local function close_socket(self)
  local sock = self.__sock
  if sock then
    self.__sock = false
    if self.__wait_response then
      skynet.wakeup(self.__wait_response)
      self.__wait_response = nil
    end
    pcall(socket.close, sock[1])
  end
end

-- Fails every request waiting on the connection.
local function wakeup_all(self, errmsg)
  local result, result_data, thread = self.__result, self.__result_data, self.__thread
  local function fail(co)
    result[co] = socket_error
    result_data[co] = errmsg
    skynet.wakeup(co)
  end
  if self.__response then
    for session, co in pairs(thread) do
      thread[session] = nil
      fail(co)
    end
  else
    for i = #self.__request, 1, -1 do
      self.__request[i] = nil
    end
    for i = 1, #thread do
      local co = thread[i]
      thread[i] = nil
      if co then -- false: the close signal
        fail(co)
      end
    end
  end
end

local function reader_error(err)
  if err ~= socket_error then
    return err
  end
end

local function dispatch_by_session(self)
  local response = self.__response
  local thread, result, result_data = self.__thread, self.__result, self.__result_data
  while self.__sock do
    local ok, session, result_ok, data, more = pcall(response, self.__sock)
    if ok and session then
      local co = thread[session]
      if co == nil then
        skynet.error("socket: unknown session :", session)
      elseif more and result_ok then
        local parts = result_data[co]
        if parts == nil then
          parts = {}
          result_data[co] = parts
        end
        parts[#parts + 1] = data
      else
        thread[session] = nil
        result[co] = result_ok
        local parts = result_data[co]
        if result_ok and parts then
          parts[#parts + 1] = data
        else
          result_data[co] = data
        end
        skynet.wakeup(co)
      end
    else
      close_socket(self)
      wakeup_all(self, ok and "invalid response" or reader_error(session))
    end
  end
  wakeup_all(self, "channel_closed")
end

local function pop_response(self)
  while self.__sock do
    if #self.__thread > 0 then
      return tremove(self.__request, 1), tremove(self.__thread, 1)
    end
    self.__wait_response = coroutine_running()
    skynet.wait(self.__wait_response)
  end
end

local function read_response(readfn, sock)
  local ok, data, more = readfn(sock)
  if not (ok and more) then
    return ok, data
  end
  local parts = { data }
  repeat
    ok, data, more = readfn(sock)
    if not ok then
      return ok, data
    end
    parts[#parts + 1] = data
  until not more
  return true, parts
end

local function dispatch_by_order(self)
  local result, result_data = self.__result, self.__result_data
  while self.__sock do
    local readfn, co = pop_response(self)
    if not co then -- the close signal, or closed while waiting
      break
    end
    local sock = self.__sock
    if not sock then
      result[co] = socket_error
      skynet.wakeup(co)
      break
    end
    local ok, result_ok, data = pcall(read_response, readfn, sock)
    if ok then
      result[co] = result_ok
      local parts = result_data[co]
      if result_ok and parts then
        parts[#parts + 1] = data
      else
        result_data[co] = data
      end
      skynet.wakeup(co)
    else
      close_socket(self)
      result[co] = socket_error
      result_data[co] = reader_error(result_ok)
      skynet.wakeup(co)
      wakeup_all(self, reader_error(result_ok))
    end
  end
  wakeup_all(self, "channel_closed")
end

local function push_response(self, response, co)
  if self.__response then
    self.__thread[response] = co
  else
    tinsert(self.__request, response)
    tinsert(self.__thread, co)
    if self.__wait_response then
      skynet.wakeup(self.__wait_response)
      self.__wait_response = nil
    end
  end
end

-- Order mode: a reader blocked waiting for requests learns the connection is
-- being replaced.
local function stop_dispatch(self)
  if not self.__response and self.__dispatch_thread then
    push_response(self, true, false)
  end
end

local function watch_overload(self, fd)
  local notify = self.__overload_notify
  if not notify then
    return
  end
  local function trigger(id, size)
    if not (self.__sock and id == self.__sock[1]) then
      return
    end
    if size == 0 then
      if self.__overload then
        self.__overload = false
        notify(false)
      end
    elseif not self.__overload then
      self.__overload = true
      notify(true)
    else
      skynet.error(string.format("WARNING: %d K bytes need to send out (fd = %d)", size, id),
        self.__host, self.__port)
    end
  end
  socket.warning(fd, trigger)
end

local function start_dispatch(self, fd)
  while self.__dispatch_thread do -- the previous connection's reader is finishing
    skynet.yield()
  end
  self.__sock = setmetatable({ fd }, self.__sock_meta)
  if not self.__response then
    socket.onclose(fd, function(id)
      local sock = self.__sock
      if self.__wait_response and sock and sock[1] == id then
        skynet.error("socket closed by peer : ", self.__host, self.__port)
        close_socket(self)
      end
    end)
  end
  local dispatch = self.__response and dispatch_by_session or dispatch_by_order
  self.__dispatch_thread = skynet.fork(function()
    if self.__sock then
      pcall(dispatch, self)
    end
    self.__dispatch_thread = nil
  end)
end

local function backups(self, list, seen)
  for _, addr in ipairs(self.__backup or {}) do
    local host, port
    if type(addr) == "table" then
      host, port = addr.host, addr.port
    else
      host, port = addr, self.__port
    end
    local key = host .. ":" .. tostring(port)
    if not seen[key] then
      seen[key] = true
      list[#list + 1] = { host = host, port = port }
    end
  end
end

-- One attempt through the host and its backups. true, or false and why.
local function connect_once(self)
  if self.__closed then
    return false, "channel closed"
  end
  local list, seen = {}, {}
  backups(self, list, seen)
  local addr = { host = self.__host, port = self.__port }
  while addr do
    local fd, err = socket.open(addr.host, addr.port)
    if fd then
      self.__host, self.__port = addr.host, addr.port
      assert(not self.__sock and not self.__authcoroutine)
      stop_dispatch(self)
      if self.__nodelay then
        driver.nodelay(fd)
      end
      watch_overload(self, fd)
      start_dispatch(self, fd)
      if not self.__auth then
        return true
      end
      self.__authcoroutine = coroutine_running()
      local ok, message = pcall(self.__auth, self)
      self.__authcoroutine = false
      if ok then
        if not self.__sock then
          return connect_once(self) -- auth changed the host: connect again
        end
        return true
      end
      close_socket(self)
      if message ~= socket_error then
        skynet.error("socket: auth failed", message)
      end
      backups(self, list, seen) -- auth may have added backups
      err = "auth failed"
    end
    addr = tremove(list, 1)
    if addr then
      skynet.error("socket: connect to backup host", addr.host, addr.port)
    else
      return false, err
    end
  end
end

local function try_connect(self, once)
  local backoff = 0
  while not self.__closed do
    local ok, err = connect_once(self)
    if ok then
      if not once then
        skynet.error("socket: connect to", self.__host, self.__port)
      end
      return
    elseif once then
      return err
    end
    skynet.error("socket: connect", err)
    skynet.sleep(backoff)
    backoff = backoff < 1000 and backoff + 100 or backoff
  end
end

-- true: usable; false: closed for good; nil: needs connecting.
local function check_connection(self)
  local sock = self.__sock
  if sock then
    local authco = self.__authcoroutine
    if socket.disconnected(sock[1]) then
      skynet.error("socket: disconnect detected ", self.__host, self.__port)
      close_socket(self)
      if authco and authco == coroutine_running() then
        return false -- lost during auth
      end
      return nil
    end
    if not authco or authco == coroutine_running() then
      return true
    end
  end
  if self.__closed then
    return false
  end
end

local function block_connect(self, once)
  local r = check_connection(self)
  if r ~= nil then
    return r
  end
  local err
  local connecting = self.__connecting
  if #connecting > 0 then
    local co = coroutine_running()
    connecting[#connecting + 1] = co
    skynet.wait(co)
  else
    connecting[1] = true
    err = try_connect(self, once)
    for i = 2, #connecting do
      local co = connecting[i]
      connecting[i] = nil
      skynet.wakeup(co)
    end
    connecting[1] = nil
  end
  r = check_connection(self)
  if r == nil then
    skynet.error("Connect failed", err, self.__host, self.__port)
    self.__last_error = err -- (skylet) why, for a caller that wants to say it
    error(socket_error)
  end
  self.__last_error = nil
  return r
end

function channel:connect(once)
  self.__closed = false
  return block_connect(self, once)
end

local function wait_for_response(self, response)
  local co = coroutine_running()
  push_response(self, response, co)
  skynet.wait(co)
  local result, data = self.__result[co], self.__result_data[co]
  self.__result[co] = nil
  self.__result_data[co] = nil
  if result == socket_error then
    error(data or socket_error, 0)
  end
  if not result then
    error(data, 0) -- the peer's error, as it was written
  end
  return data
end

local function write_failed(self)
  close_socket(self)
  wakeup_all(self)
  error(socket_error)
end

-- Writes request (a string; `padding`, a list of more strings, goes after it
-- at low priority, so smaller requests can pass between its parts) and, unless
-- response is nil, waits for the answer.
function channel:request(request, response, padding)
  if not block_connect(self, true) then
    error(socket_error)
  end
  local fd = self.__sock[1]
  if padding then
    if not socket.lwrite(fd, request) then
      write_failed(self)
    end
    for _, part in ipairs(padding) do
      if not socket.lwrite(fd, part) then
        write_failed(self)
      end
    end
  elseif not socket.write(fd, request) then
    write_failed(self)
  end
  if response == nil then
    return
  end
  return wait_for_response(self, response)
end

-- Order mode: waits for a response nobody requested (a server push).
function channel:response(response)
  if not block_connect(self) then
    error(socket_error)
  end
  return wait_for_response(self, response)
end

function channel:close()
  if not self.__closed then
    stop_dispatch(self)
    self.__closed = true
    close_socket(self)
  end
end

function channel:changehost(host, port)
  self.__host = host
  if port then
    self.__port = port
  end
  if not self.__closed then
    close_socket(self)
  end
end

function channel:changebackup(backup)
  self.__backup = backup
end

channel_meta.__gc = channel.close

return socketchannel
