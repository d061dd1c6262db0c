-- skynet.cluster: calls and sends to services on other nodes, over skynet's
-- cluster protocol (skynet's lualib/skynet/cluster.lua). Talks to the node's
-- clusterd; each other node has a clustersender, looked up once per node
-- and service. Addresses on the other node: a number, ".localname", or
-- "@name" (registered there with cluster.register).
local skynet = require "skynet"

local clusterd
local cluster = {}
local sender = {}  -- node -> clustersender
local pending = {} -- node -> queue of what waits for the sender: coroutines, and sends

-- Asks clusterd for node's sender once. What came meanwhile waits in the
-- queue, in order: sends are pushed, and each waiting caller is let go and
-- sends its request before the next entry, so order is kept.
local function fetch_sender(node, queue)
  local ok, s = pcall(skynet.call, clusterd, "lua", "sender", node)
  queue.ok, queue.sender = ok, s
  local confirm = coroutine.running()
  queue.confirm = confirm
  for _, task in ipairs(queue) do
    if type(task) == "table" then -- a send: address, payload
      if ok then
        skynet.send(s, "lua", "push", task[1], task[2])
      else
        skynet.error(s)
      end
    else
      skynet.wakeup(task)
      skynet.wait(confirm)
    end
  end
  pending[node] = nil
  if ok then
    sender[node] = s
  end
end

local function queue_of(node)
  local queue = pending[node]
  if queue == nil then
    queue = {}
    pending[node] = queue
    skynet.fork(fetch_sender, node, queue)
  end
  return queue
end

-- node's sender; the caller must then skynet.wakeup(queue.confirm) if it
-- waited (second value), once its request is sent.
local function wait_sender(node)
  local s = sender[node]
  if s then
    return s
  end
  local queue = queue_of(node)
  local co = coroutine.running()
  queue[#queue + 1] = co
  skynet.wait(co)
  if not queue.ok then
    skynet.wakeup(queue.confirm)
    error(queue.sender, 0)
  end
  return queue.sender, queue.confirm
end

local function get_sender(node)
  local s, confirm = wait_sender(node)
  if confirm then
    skynet.wakeup(confirm)
  end
  return s
end

cluster.get_sender = get_sender

function cluster.call(node, address, ...)
  local msg = skynet.pack(...)
  local s, confirm = wait_sender(node)
  if confirm then
    skynet.wakeup(confirm) -- runs once this call's request is sent
  end
  return skynet.call(s, "lua", "req", address, msg)
end

function cluster.send(node, address, ...)
  local msg = skynet.pack(...)
  local s = sender[node]
  if s then
    return skynet.send(s, "lua", "push", address, msg)
  end
  local queue = queue_of(node)
  queue[#queue + 1] = { address, msg }
end

function cluster.open(port, maxclient)
  if type(port) == "string" then
    return skynet.call(clusterd, "lua", "listen", port, nil, maxclient)
  end
  return skynet.call(clusterd, "lua", "listen", "0.0.0.0", port, maxclient)
end

function cluster.reload(config)
  skynet.call(clusterd, "lua", "reload", config)
end

function cluster.proxy(node, name)
  return skynet.call(clusterd, "lua", "proxy", node, name)
end

-- A snax object for the snax service `name` on node (its address, or the
-- one node's service_mgr knows as "snaxd.name"); req/post go through a
-- clusterproxy. The remote service must call snax.enablecluster().
function cluster.snax(node, name, address)
  local snax = require "skynet.snax"
  if not address then
    address = cluster.call(node, ".service", "QUERY", "snaxd", name)
  end
  return snax.bind(skynet.call(clusterd, "lua", "proxy", node, address), name)
end

function cluster.register(name, addr)
  assert(type(name) == "string")
  assert(addr == nil or type(addr) == "number")
  return skynet.call(clusterd, "lua", "register", name, addr)
end

function cluster.unregister(name)
  assert(type(name) == "string")
  return skynet.call(clusterd, "lua", "unregister", name)
end

-- The address registered as name on node (raises if there is none).
function cluster.query(node, name)
  local s, confirm = wait_sender(node)
  if confirm then
    skynet.wakeup(confirm)
  end
  return skynet.call(s, "lua", "req", 0, skynet.pack(name))
end

skynet.init(function()
  clusterd = skynet.uniqueservice("clusterd")
end)

return cluster
