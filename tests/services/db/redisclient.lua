-- skynet.db.redis for the tests: the test process calls commands on one
-- connection (or on a redis cluster) and gets ok, result back.
local skynet = require "skynet"
local redis = require "skynet.db.redis"
local rediscluster = require "skynet.db.redis.cluster"

local db, watcher
local messages, waiting = {}, nil

local function result(ok, ...)
  if ok then
    return true, ...
  end
  return false, tostring((...))
end

local CMD = {}

function CMD.connect(conf)
  local ok, r = pcall(redis.connect, conf)
  if ok then
    db = r
    return true
  end
  return false, tostring(r)
end

-- Any command on the connection: name, args... -> ok, reply
function CMD.call(name, ...)
  return result(pcall(db[name], db, ...))
end

function CMD.pipeline(ops, with_resp)
  return result(pcall(db.pipeline, db, ops, with_resp and {} or nil))
end

-- n commands at once from n coroutines: each reply (or "error: why") in order
function CMD.concurrent(ops)
  local results, done, me = {}, 0, coroutine.running()
  for i, op in ipairs(ops) do
    skynet.fork(function()
      local ok, r = pcall(db[op[1]], db, table.unpack(op, 2))
      results[i] = ok and (r == nil and "nil" or r) or ("error: " .. tostring(r))
      done = done + 1
      if done == #ops then
        skynet.wakeup(me)
      end
    end)
  end
  skynet.wait(me)
  return results
end

function CMD.disconnect()
  db:disconnect()
  return true
end

-- Pub/sub: a second connection; messages are kept until taken.
function CMD.watch(conf, channels, patterns)
  watcher = redis.watch(conf)
  watcher:subscribe(table.unpack(channels))
  if patterns then
    watcher:psubscribe(table.unpack(patterns))
  end
  skynet.fork(function()
    while watcher do
      local ok, data, channel, pattern = pcall(watcher.message, watcher)
      if not ok then
        messages[#messages + 1] = { error = tostring(data) }
        if not getmetatable(watcher) then
          break
        end
        skynet.sleep(1)
      else
        messages[#messages + 1] = { data = data, channel = channel, pattern = pattern }
      end
      if waiting and #messages >= waiting.n then
        skynet.wakeup(waiting.co)
      end
    end
  end)
  return true
end

-- the first n messages (waits for them)
function CMD.messages(n)
  if #messages < n then
    waiting = { n = n, co = coroutine.running() }
    skynet.wait(waiting.co)
    waiting = nil
  end
  local out = {}
  for i = 1, n do
    out[i] = table.remove(messages, 1)
  end
  return out
end

function CMD.subscribed()
  local names = {}
  for name in pairs(watcher.__subscribe) do
    names[#names + 1] = name
  end
  for name in pairs(watcher.__psubscribe) do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

-- Redis cluster
local cluster, cluster_messages = nil, {}

function CMD.cluster_new(nodes, opt)
  local ok, r = pcall(rediscluster.new, nodes, opt, function(data, channel, pattern)
    cluster_messages[#cluster_messages + 1] = { data = data, channel = channel, pattern = pattern }
  end)
  if ok then
    cluster = r
    return true
  end
  return false, tostring(r)
end

function CMD.cluster(name, ...)
  return result(pcall(cluster[name], cluster, ...))
end

function CMD.cluster_state()
  local names = {}
  for name in pairs(cluster.connections) do
    names[#names + 1] = name
  end
  table.sort(names)
  local owner = {}
  for slot, node in pairs(cluster.slots) do
    owner[node.name] = (owner[node.name] or 0) + 1
  end
  return { connections = names, slots_by_node = owner }
end

function CMD.cluster_messages(n)
  for _ = 1, 100 do
    if #cluster_messages >= n then
      break
    end
    skynet.sleep(1)
  end
  local out = cluster_messages
  cluster_messages = {}
  return out
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
