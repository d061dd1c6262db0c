-- clusterd: the node's cluster daemon (skynet's service/clusterd.lua), a
-- unique service behind skynet.cluster. It knows the other nodes' addresses
-- (config key `cluster`, a Lua file of `name = "host:port"`, `false` for a
-- node that is down; options `__name = value`), keeps one clustersender per
-- node, listens through a gate and starts a clusteragent per connection,
-- and holds the names registered with cluster.register.
--
-- Commands: sender(node), senders(), listen(addr, port, maxclient),
-- reload(config), proxy(node, name), register(name, addr), unregister(name),
-- queryname(name), and the gate's "socket" notices.
local skynet = require "skynet"
require "skynet.manager"

local format = string.format

local config_file = skynet.getenv "cluster"
local node_address = {} -- node -> "host:port", or false: down
local node_sender = {}  -- node -> clustersender (kept across reloads)
local config = {}       -- options (__nowaiting...)
local command = {}

-- The sender of a node whose connection is ready; a caller that finds it
-- being set up waits for that. Raises when the node is down, unknown (with
-- __nowaiting) or cannot be reached.
local ready = {}      -- node -> sender, connected to the node's current address
local opening = {}    -- node -> list of coroutines waiting for it
local waiting_name = {} -- node -> coroutine waiting for the node to be configured

local function open_sender(node)
  local address = node_address[node]
  if address == nil then
    if config.nowaiting then
      error(format("cluster node [%s] is absent.", node), 0)
    end
    skynet.error("Waiting for cluster node [" .. node .. "]")
    local co = coroutine.running()
    waiting_name[node] = co
    skynet.wait(co)
    waiting_name[node] = nil
    address = node_address[node]
    if address == nil then
      error(format("cluster node [%s] is absent.", node), 0)
    end
  end
  local sender = node_sender[node]
  if address == false then
    if sender then
      skynet.call(sender, "lua", "changenode", false)
    end
    error(format("cluster node [%s] is down.", node), 0)
  end
  if sender == nil then
    sender = skynet.newservice("clustersender", node, address)
    node_sender[node] = sender
  end
  local ok, err = pcall(skynet.call, sender, "lua", "changenode", address)
  if not ok then
    error((tostring(err):gsub("^call to :%x+ failed: ", "")), 0)
  end
  return sender, address
end

local function sender_of(node)
  local sender = ready[node]
  if sender then
    return sender
  end
  local queue = opening[node]
  if queue then -- being opened: share its outcome
    local co = coroutine.running()
    queue[#queue + 1] = co
    skynet.wait(co)
    if queue.err then
      error(queue.err, 0)
    end
    return queue.sender
  end
  queue = {}
  opening[node] = queue
  local ok, result, address = pcall(open_sender, node)
  opening[node] = nil
  if ok then
    queue.sender = result
    if node_address[node] == address then
      ready[node] = result
    end
  else
    queue.err = result
  end
  for _, co in ipairs(queue) do
    skynet.wakeup(co)
  end
  if not ok then
    error(result, 0)
  end
  return result
end

local function loadconfig(tmp)
  if tmp == nil then
    tmp = {}
    if config_file then
      local f = assert(io.open(config_file))
      local source = f:read "a"
      f:close()
      assert(load(source, "@" .. config_file, "t", tmp))()
    end
  end
  local changed = {}
  for name, address in pairs(tmp) do
    if name:sub(1, 2) == "__" then
      local opt = name:sub(3)
      config[opt] = address
      skynet.error(format("Config %s = %s", opt, tostring(address)))
    else
      assert(address == false or type(address) == "string",
        format("cluster node [%s]: address must be \"host:port\" or false", name))
      if node_address[name] ~= address then
        node_address[name] = address
        ready[name] = nil
        if node_sender[name] then
          changed[#changed + 1] = name
        end
      end
      if waiting_name[name] then
        skynet.error(format("Cluster node [%s] resolved : %s", name, tostring(address)))
        skynet.wakeup(waiting_name[name])
      end
    end
  end
  if config.nowaiting then
    for _, co in pairs(waiting_name) do
      skynet.wakeup(co)
    end
  end
  -- Senders of nodes that moved switch now: their pending calls fail, the
  -- next ones go to the new address.
  for _, name in ipairs(changed) do
    skynet.fork(pcall, sender_of, name)
  end
end

function command.reload(source, tmp)
  loadconfig(tmp)
  skynet.ret(skynet.pack(nil))
end

local function split_address(address)
  local host, port = address:match "^(.*):(%d+)$"
  return host, tonumber(port)
end

function command.listen(source, addr, port, maxclient)
  local gate = skynet.newservice("gate")
  if port == nil then
    local address = assert(node_address[addr], addr .. " is down")
    local host, p = split_address(address)
    assert(host, "bad cluster address " .. address)
    local realhost, realport = skynet.call(gate, "lua", "open",
      { address = host, port = p, maxclient = maxclient })
    skynet.ret(skynet.pack(realhost, realport))
  else
    local realaddr, realport = skynet.call(gate, "lua", "open",
      { address = addr, port = port, maxclient = maxclient })
    skynet.ret(skynet.pack(realaddr, realport))
  end
end

function command.sender(source, node)
  -- an unreachable node is an answer, not a fault of clusterd: no traceback
  local reply = skynet.response()
  local ok, sender = pcall(sender_of, node)
  reply(ok, sender)
end

function command.senders(source)
  skynet.retpack(node_sender)
end

local proxy = {}

function command.proxy(source, node, name)
  if name == nil then
    node, name = node:match "^([^@.]+)([@.].+)"
    if name == nil then
      error("Invalid name " .. tostring(node))
    end
  end
  local fullname = node .. "." .. name
  local p = proxy[fullname]
  if p == nil then
    p = skynet.newservice("clusterproxy", node, name)
    if proxy[fullname] then -- made meanwhile by another caller
      skynet.kill(p)
      p = proxy[fullname]
    else
      proxy[fullname] = p
    end
  end
  skynet.ret(skynet.pack(p))
end

local cluster_agent = {} -- fd -> agent; false while it is being made; true: closed meanwhile
local register_name = {} -- name -> address, address -> name

local function clearnamecache()
  for _, agent in pairs(cluster_agent) do
    if type(agent) == "number" then
      skynet.send(agent, "lua", "namechange")
    end
  end
end

function command.register(source, name, addr)
  assert(register_name[name] == nil, "cluster name " .. name .. " is already registered")
  addr = addr or source
  local old_name = register_name[addr]
  if old_name then
    register_name[old_name] = nil
    clearnamecache()
  end
  register_name[addr] = name
  register_name[name] = addr
  skynet.ret(nil)
  skynet.error(format("Register [%s] :%08x", name, addr))
end

function command.unregister(_, name)
  local addr = register_name[name]
  if addr then
    register_name[addr] = nil
    register_name[name] = nil
    clearnamecache()
    skynet.error(format("Unregister [%s] :%08x", name, addr))
  end
  skynet.ret(nil)
end

function command.queryname(source, name)
  skynet.ret(skynet.pack(register_name[name]))
end

function command.socket(source, subcmd, fd, msg)
  if subcmd == "open" then
    skynet.error(format("socket accept from %s", msg))
    cluster_agent[fd] = false
    local agent = skynet.newservice("clusteragent", skynet.self(), source, fd)
    local closed = cluster_agent[fd]
    cluster_agent[fd] = agent
    if closed then
      skynet.send(agent, "lua", "exit")
      cluster_agent[fd] = nil
    end
  elseif subcmd == "close" or subcmd == "error" then
    local agent = cluster_agent[fd]
    if type(agent) == "boolean" then
      cluster_agent[fd] = true
    elseif agent then
      skynet.send(agent, "lua", "exit")
      cluster_agent[fd] = nil
    end
  else
    skynet.error(format("socket %s %d %s", subcmd, fd, msg or ""))
  end
end

skynet.start(function()
  loadconfig()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(command[cmd], "clusterd: unknown command")
    f(source, ...)
  end)
end)
