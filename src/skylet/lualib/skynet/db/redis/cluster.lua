-- skynet.db.redis.cluster: a Redis Cluster client (skynet's API):
--
--   local rediscluster = require "skynet.db.redis.cluster"
--   local db = rediscluster.new({ { host = "127.0.0.1", port = 7000 }, ... },
--                               { auth = nil, db = 0, read_slave = true,
--                                 max_connections = 256 },
--                               onmessage)   -- onmessage(data, channel, pattern)
--   db:set("k", 1); db:get("k")               -- any command, routed by its key
--   db:subscribe("ch"); db:psubscribe("p*")   -- messages go to onmessage
--
-- The slot map comes from CLUSTER SLOTS on the first startup node that
-- answers. A command goes to the master of its key's slot (crc16 of the key,
-- or of its {hash tag}, mod 16384), over one skynet.db.redis connection per
-- node. A MOVED reply re-points that slot and refreshes the whole map before
-- the next command; an ASK reply sends ASKING + the command to the named
-- node once, pipelined. After 16 redirections or failures the call raises.
local skynet = require "skynet"
local redis = require "skynet.db.redis"
local socketchannel = require "skynet.socketchannel"
local crc16 = require "skynet.db.redis.crc16"

local SLOTS = 16384
local MAX_REDIRECTIONS = 16

local format, find, sub, match, lower = string.format, string.find, string.sub, string.match, string.lower
local tpack, tunpack = table.pack, table.unpack

local M = {}

local rediscluster = {}
rediscluster.__index = rediscluster

local function node_name(node)
  return format("%s:%d", node.host, node.port)
end

-- Runs make() once for concurrent callers with the same scope and key; all
-- get pcall's results.
local pending = setmetatable({}, { __mode = "k" }) -- scope -> key -> waiters
local function single_flight(scope, key, make)
  local flights = pending[scope]
  if flights == nil then
    flights = {}
    pending[scope] = flights
  end
  local waiting = flights[key]
  if waiting then
    local co = coroutine.running()
    waiting[#waiting + 1] = co
    skynet.wait(co)
    return tunpack(waiting.result, 1, waiting.result.n)
  end
  waiting = {}
  flights[key] = waiting
  local result = tpack(pcall(make))
  flights[key] = nil
  waiting.result = result
  for _, co in ipairs(waiting) do
    skynet.wakeup(co)
  end
  return tunpack(result, 1, result.n)
end

function M.new(startup_nodes, opt, onmessage)
  if #startup_nodes == 0 then
    startup_nodes = { startup_nodes }
  end
  opt = opt or {}
  local self = setmetatable({
    startup_nodes = startup_nodes,
    max_connections = opt.max_connections or 256,
    connections = {}, -- "host:port" -> skynet.db.redis connection
    opt = opt,
    refresh_table_asap = false,
    slots = {}, -- slot -> master node { host, port, name, slaves }
    nodes = {}, -- the masters
    __onmessage = onmessage,
    __watching = {}, -- "host:port" -> redis.watch connection
  }, rediscluster)
  self:initialize_slots_cache()
  return self
end

function rediscluster:set_node_name(node)
  node.name = node.name or node_name(node)
end

local function make_node(self, entry)
  local host, port = entry[1], tonumber(entry[2])
  assert(host and port, "redis cluster: bad node in CLUSTER SLOTS")
  local node = { host = host, port = port }
  self:set_node_name(node)
  return node
end

-- Reads the slot map from the first startup node that answers.
function rediscluster:initialize_slots_cache()
  self.slots, self.nodes = {}, {}
  for _, startup in ipairs(self.startup_nodes) do
    local ok = pcall(function()
      local ranges = self:get_connection(startup):cluster("slots")
      for _, range in ipairs(ranges) do
        local master = make_node(self, range[3])
        master.slaves = {}
        for i = 4, #range do
          master.slaves[#master.slaves + 1] = make_node(self, range[i])
        end
        self.nodes[#self.nodes + 1] = master
        for slot = tonumber(range[1]), tonumber(range[2]) do
          self.slots[slot] = master
        end
      end
      self.refresh_table_asap = false
    end)
    if ok then
      return
    end
  end
end

-- Forget the slot map (the next commands find their nodes by redirection).
function rediscluster:flush_slots_cache()
  self.slots = {}
end

function rediscluster:keyslot(key)
  key = tostring(key)
  local open = find(key, "{", 1, true)
  if open then
    local close = find(key, "}", open + 1, true)
    if close and close > open + 1 then
      key = sub(key, open + 1, close - 1)
    end
  end
  return crc16(key) % SLOTS
end

local keyless = { info = true, multi = true, exec = true, slaveof = true, config = true, shutdown = true }

-- The key a command is routed by: its first argument, or for EVAL/EVALSHA
-- the first of its keys (which must all share a slot); nil if it has none.
function rediscluster:get_key_from_command(cmd, argv)
  if keyless[cmd] then
    return nil
  end
  if cmd == "eval" or cmd == "evalsha" then
    local numkeys = tonumber(argv[3]) or 0
    local first
    for i = 4, 3 + numkeys do
      local slot = self:keyslot(argv[i])
      if first == nil then
        first = slot
      elseif slot ~= first then
        error(cmd .. " - all keys must map to the same key slot")
      end
    end
    return argv[4]
  end
  return argv[2]
end

function rediscluster:close_existing_connection()
  local count = 0
  for _ in pairs(self.connections) do
    count = count + 1
  end
  if count >= self.max_connections then
    local name, conn = next(self.connections)
    self.connections[name] = nil
    pcall(conn.disconnect, conn)
  end
end

function rediscluster:close_all_connection()
  local connections = self.connections
  self.connections = {}
  for _, conn in pairs(connections) do
    pcall(conn.disconnect, conn)
  end
end

function rediscluster:get_redis_link(node)
  return redis.connect {
    host = node.host,
    port = node.port,
    auth = self.opt.auth,
    db = self.opt.db or 0,
  }
end

function rediscluster:get_connection(node)
  self:set_node_name(node)
  local name = node.name
  local conn = self.connections[name]
  if conn then
    return conn
  end
  local ok, made = single_flight(self, name, function()
    local c = self.connections[name]
    if not c then
      self:close_existing_connection()
      c = self:get_redis_link(node)
      self.connections[name] = c
    end
    return c
  end)
  if not ok then
    error(made, 0)
  end
  return made
end

-- A connection to some master that answers PING (tried in random order).
function rediscluster:get_random_connection()
  local order = {}
  for i = 1, #self.nodes do
    order[i] = i
  end
  for i = #order, 2, -1 do
    local j = math.random(i)
    order[i], order[j] = order[j], order[i]
  end
  for _, i in ipairs(order) do
    local node = self.nodes[i]
    local ok, conn = pcall(self.get_connection, self, node)
    if ok then
      if pcall(conn.ping, conn) then
        return conn
      end
      self.connections[node.name] = nil
      pcall(conn.disconnect, conn)
    end
  end
  error("Can't reach a single startup node.")
end

function rediscluster:get_connection_by_slot(slot)
  local node = self.slots[slot]
  if not node then
    return self:get_random_connection()
  end
  local ok, conn = pcall(self.get_connection, self, node)
  if ok then
    return conn
  end
  if self.opt.read_slave and node.slaves and #node.slaves > 0 then
    local slave = node.slaves[math.random(#node.slaves)]
    local ok2, sconn = pcall(self.get_connection, self, slave)
    if ok2 then
      sconn:readonly() -- reads may be served by the replica
      return sconn
    end
  end
  return self:get_random_connection()
end

-- "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> kind, slot, node; else nil.
local function redirection(err)
  local kind, slot, host, port = match(err, "^(%u+) (%d+) (%S+):(%d+)")
  if kind == "MOVED" or kind == "ASK" then
    return kind, tonumber(slot), { host = host, port = tonumber(port) }
  end
end

function rediscluster:call(...)
  local argv = tpack(...)
  local cmd = lower(argv[1])
  local key = self:get_key_from_command(cmd, argv)
  if key == nil then
    error("No way to dispatch this command to Redis Cluster: " .. tostring(argv[1]))
  end
  if cmd == "subscribe" or cmd == "unsubscribe" or cmd == "psubscribe" or cmd == "punsubscribe" then
    local conn = self:get_watch_connection_by_slot(self:keyslot(key))
    return conn[cmd](conn, tunpack(argv, 2, argv.n))
  end
  if self.refresh_table_asap then
    self:initialize_slots_cache()
  end
  local slot = self:keyslot(key)
  local asking, random, last_error = nil, false, nil
  for attempt = 1, MAX_REDIRECTIONS do
    local conn
    if asking then
      conn = self:get_connection(asking)
    elseif random then
      conn = self:get_random_connection()
      random = false
    else
      conn = self:get_connection_by_slot(slot)
    end
    local result
    if asking then
      -- ASKING must come right before the command on the same connection
      local ops = { { "asking" }, tpack(...) }
      asking = nil
      result = tpack(pcall(conn.pipeline, conn, ops))
    else
      result = tpack(pcall(conn[cmd], conn, tunpack(argv, 2, argv.n)))
    end
    if result[1] then
      return tunpack(result, 2, result.n)
    end
    local err = result[2]
    if err == socketchannel.error or not conn[1].__sock then -- the connection broke
      last_error = "[Error: socket]"
      random = true -- the node is gone: ask another where the slot went
      if attempt > MAX_REDIRECTIONS // 2 then
        skynet.sleep(10)
      end
    else
      err = tostring(err)
      err = match(err, "^[^:]+:%d+: (.*)$") or err -- a Lua error's position
      local kind, newslot, node = redirection(err)
      if not kind then
        error(err, 0)
      end
      last_error = err
      self:set_node_name(node)
      if kind == "ASK" then
        asking = node
      else
        local old = self.slots[newslot]
        node.slaves = old and old.slaves
        self.slots[newslot] = node
        self.refresh_table_asap = true
      end
    end
  end
  error(format("Too many Cluster redirections?,maybe node is disconnected (last error: %q)", tostring(last_error)))
end

function rediscluster:get_watch_connection_by_slot(slot)
  if not self.slots[slot] then
    self:initialize_slots_cache()
  end
  local node = assert(self.slots[slot], "redis cluster: no node serves this slot")
  return self:get_watch_connection(node)
end

-- One pub/sub connection per node; a forked reader hands every message to
-- onmessage.
function rediscluster:get_watch_connection(node)
  self:set_node_name(node)
  local name = node.name
  local ok, w = single_flight(self.__watching, name, function()
    local watch = self.__watching[name]
    if not watch then
      watch = redis.watch { host = node.host, port = node.port, auth = self.opt.auth, db = self.opt.db or 0 }
      self.__watching[name] = watch
      local onmessage = self.__onmessage
      skynet.fork(function()
        while getmetatable(watch) do
          local got, data, channel, pattern = pcall(watch.message, watch)
          if got then
            if data and onmessage then
              pcall(onmessage, data, channel, pattern)
            end
          elseif not getmetatable(watch) then
            break -- disconnected
          else
            skynet.sleep(10) -- the channel reconnects on the next read
          end
        end
      end)
    end
    return watch
  end)
  if not ok then
    error(w, 0)
  end
  return w
end

-- Every other method is a command routed by its key.
setmetatable(rediscluster, {
  __index = function(t, cmd)
    local f = function(self, ...)
      return self:call(cmd, ...)
    end
    t[cmd] = f
    return f
  end,
})

return M
