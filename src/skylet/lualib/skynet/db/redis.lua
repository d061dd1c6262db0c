-- skynet.db.redis: a Redis client over skynet.socketchannel (order mode),
-- with skynet's API:
--
--   local redis = require "skynet.db.redis"
--   local db = redis.connect { host = "127.0.0.1", port = 6379,
--                              auth = "pw", username = "u", db = 0,
--                              overload = function(is_overloaded) end }
--   db:set("k", "v"); db:get("k"); db:hmset("h", { "a", 1, "b", 2 })
--   db:exists("k") / db:sismember("s", "m")       -- booleans
--   db:pipeline({ { "set", "a", 1 }, { "get", "a" } } [, resp])
--   db:disconnect()
--
-- Any method name is a command (db:zadd(...) sends ZADD). Arguments go as
-- bulk strings (tostring); a table argument is the argument list ({ n = }
-- keeps nils, sent as RESP nulls). Replies: status and bulk strings as
-- strings, integers as numbers, arrays as tables, nil bulk/array as nil. A
-- Redis error reply raises in the caller with the server's text ("ERR ...");
-- the connection stays usable.
--
--   local w = redis.watch(conf)    -- a second connection for pub/sub
--   w:subscribe("ch"); w:psubscribe("p*")
--   local data, channel, pattern = w:message()   -- waits for the next one
--
-- Subscriptions are made again after a reconnect.
local socketchannel = require "skynet.socketchannel"

local tostring, tonumber, type, select, setmetatable, pairs, ipairs, error =
  tostring, tonumber, type, select, setmetatable, pairs, ipairs, error
local byte, sub, upper = string.byte, string.sub, string.upper
local tpack = table.pack

local redis = {}

local command = {}
local meta = { __index = command } -- no __gc: the channel closes itself when collected

-- Replies (RESP2). Each reader: (sock, line without its type byte) -> ok, value.
local readers = {}

local function read_reply(sock)
  local line = sock:readline "\r\n"
  local reader = readers[byte(line)]
  if reader == nil then
    error("redis: bad reply line " .. string.format("%q", sub(line, 1, 64)), 0)
  end
  return reader(sock, sub(line, 2))
end

readers[43] = function(_, data) -- '+' status
  return true, data
end

readers[45] = function(_, data) -- '-' error
  return false, data
end

readers[58] = function(_, data) -- ':' integer
  return true, tonumber(data)
end

readers[36] = function(sock, data) -- '$' bulk string
  local n = tonumber(data)
  if n < 0 then
    return true, nil
  end
  return true, sub(sock:read(n + 2), 1, n)
end

readers[42] = function(sock, data) -- '*' array; an error inside makes ok false
  local n = tonumber(data)
  if n < 0 then
    return true, nil
  end
  local list, all_ok = {}, true
  for i = 1, n do
    local ok, value = read_reply(sock)
    if not ok then
      all_ok = false
    end
    list[i] = value
  end
  return all_ok, list
end

redis.read_response = read_reply -- for redis.cluster and tests

-- Requests: "*<n>\r\n$<len>\r\n<arg>\r\n..." built as a list of strings (the
-- socket write joins them). The header strings repeat, so they are cached.
local function cache(make)
  return setmetatable({}, {
    __mode = "kv",
    __index = function(t, k)
      local v = make(k)
      t[k] = v
      return v
    end,
  })
end

local count_header = cache(function(n) return "*" .. n .. "\r\n" end)
local length_header = cache(function(n) return "$" .. n .. "\r\n" end)
local name_bulk = cache(function(name) return "$" .. #name .. "\r\n" .. upper(name) .. "\r\n" end)
local bare_command = cache(function(name) return "*1\r\n" .. name_bulk[name] end)

local function add_args(lines, k, args, n)
  for i = 1, n do
    local v = args[i]
    if v == nil then
      lines[k] = "$-1\r\n"
      k = k + 1
    else
      v = tostring(v)
      lines[k], lines[k + 1], lines[k + 2] = length_header[#v], v, "\r\n"
      k = k + 3
    end
  end
  return k
end

-- name: the command; args: nil, a list ({ n = } may count nils) or one value.
local function compose(name, args)
  if args == nil then
    return bare_command[name]
  end
  if type(args) ~= "table" then
    args = { args, n = 1 }
  end
  local n = args.n or #args
  local lines = { count_header[n + 1], name_bulk[name] }
  add_args(lines, 3, args, n)
  return lines
end

-- { "cmd", args... } lists, one after another in one write.
local function compose_many(lines, k, list)
  for _, cmd in ipairs(list) do
    local n = cmd.n or #cmd
    lines[k] = count_header[n]
    k = add_args(lines, k + 1, cmd, n)
  end
  return lines
end

redis.compose_message = compose

local function login(conf)
  local auth, db = conf.auth, conf.db
  if auth == nil and db == nil then
    return nil
  end
  if auth and conf.username then
    auth = { conf.username, auth }
  end
  return function(channel)
    if auth then
      channel:request(compose("AUTH", auth), read_reply)
    end
    if db then
      channel:request(compose("SELECT", db), read_reply)
    end
  end
end

-- Connects once: a bad address or a refused login raises here, saying why.
local function open_channel(conf, auth, overload)
  local refused -- the server's answer to a failed login
  local login = auth and function(channel)
    local ok, err = pcall(auth, channel)
    if not ok then
      refused = tostring(err)
      error(err, 0)
    end
  end
  local channel = socketchannel.channel {
    host = conf.host,
    port = conf.port or 6379,
    auth = login,
    nodelay = true,
    overload = overload,
  }
  local ok, err = pcall(channel.connect, channel, true)
  if not ok then
    channel:close()
    local why = refused or channel.__last_error or tostring(err)
    error(string.format("redis: cannot connect to %s:%s: %s", tostring(conf.host),
      tostring(conf.port or 6379), why), 3)
  end
  return channel
end

function redis.connect(conf)
  return setmetatable({ open_channel(conf, login(conf), conf.overload) }, meta)
end

function command:disconnect()
  self[1]:close()
  setmetatable(self, nil)
end

-- Every other method is the command of its name.
setmetatable(command, {
  __index = function(t, name)
    local NAME = upper(name)
    local f = function(self, v, ...)
      local args = v
      if v ~= nil and type(v) ~= "table" then
        args = tpack(v, ...)
      end
      return self[1]:request(compose(NAME, args), read_reply)
    end
    t[name] = f
    return f
  end,
})

local function read_boolean(sock)
  local ok, n = read_reply(sock)
  return ok, n ~= 0
end

function command:exists(key)
  return self[1]:request(compose("EXISTS", key), read_boolean)
end

function command:sismember(key, member)
  return self[1]:request(compose("SISMEMBER", { key, member }), read_boolean)
end

-- ops: { { "cmd", args... }, ... } sent in one write. With resp (a table),
-- every reply is appended to it as { ok = , out = } and resp is returned;
-- without, the last reply is returned (and raises if it is an error).
function command:pipeline(ops, resp)
  assert(ops and #ops > 0, "pipeline is null")
  local count = #ops
  local lines = compose_many({}, 1, ops)
  if resp then
    return self[1]:request(lines, function(sock)
      for _ = 1, count do
        local ok, out = read_reply(sock)
        resp[#resp + 1] = { ok = ok, out = out }
      end
      return true, resp
    end)
  end
  return self[1]:request(lines, function(sock)
    local ok, out
    for _ = 1, count do
      ok, out = read_reply(sock)
    end
    return ok, out
  end)
end

-- Pub/sub ------------------------------------------------------------------

local watch = {}
local watchmeta = {
  __index = watch,
  __gc = function(self) self.__sock:close() end,
}

local function watch_login(conf, obj)
  local auth = login(conf)
  return function(channel)
    if auth then
      auth(channel)
    end
    -- after a reconnect: subscribe again (the confirmations arrive as messages)
    for pattern in pairs(obj.__psubscribe) do
      channel:request(compose("PSUBSCRIBE", pattern))
    end
    for name in pairs(obj.__subscribe) do
      channel:request(compose("SUBSCRIBE", name))
    end
  end
end

function redis.watch(conf)
  local obj = { __subscribe = {}, __psubscribe = {} }
  obj.__sock = open_channel(conf, watch_login(conf, obj))
  return setmetatable(obj, watchmeta)
end

function watch:disconnect()
  self.__sock:close()
  setmetatable(self, nil)
end

-- Requests without a reply: the confirmations come through watch:message.
for _, name in ipairs { "subscribe", "psubscribe", "unsubscribe", "punsubscribe" } do
  local NAME = upper(name)
  watch[name] = function(self, ...)
    local channel = self.__sock
    for i = 1, select("#", ...) do
      channel:request(compose(NAME, (select(i, ...))))
    end
  end
end

-- The next message: data, channel (or data, channel, pattern for a pattern
-- subscription's). Confirmations update the subscription sets on the way.
function watch:message()
  local channel = self.__sock
  while true do
    local kind, name, a, b = table.unpack(channel:response(read_reply))
    if kind == "message" then
      return a, name
    elseif kind == "pmessage" then
      return b, a, name
    elseif kind == "subscribe" then
      self.__subscribe[name] = true
    elseif kind == "psubscribe" then
      self.__psubscribe[name] = true
    elseif kind == "unsubscribe" then
      self.__subscribe[name] = nil
    elseif kind == "punsubscribe" then
      self.__psubscribe[name] = nil
    end
  end
end

return redis
