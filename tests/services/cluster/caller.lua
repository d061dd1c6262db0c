-- The test's hands on a cluster: every skynet.cluster function as a command.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local CMD = {}

function CMD.call(node, addr, ...)
  return cluster.call(node, addr, ...)
end

function CMD.send(node, addr, ...)
  cluster.send(node, addr, ...)
end

function CMD.query(node, name)
  return cluster.query(node, name)
end

function CMD.proxycall(node, name, ...)
  local proxy = cluster.proxy(node, name)
  return skynet.call(proxy, "lua", ...)
end

function CMD.proxysend(node, name, ...)
  local proxy = cluster.proxy(node, name)
  skynet.send(proxy, "lua", ...)
end

-- a snax service on node, through cluster.snax: posts a note, then asks
-- for the notes and adds n to its total (address: as cluster.snax takes it)
function CMD.snax(node, name, address, note, n)
  local obj = cluster.snax(node, name, address)
  obj.post.note(note)
  local notes = obj.req.notes()
  local total, who = obj.req.add(n)
  return notes[#notes], total, who
end

-- a traced cluster call: skynet.trace, then the call
function CMD.traced(node, addr, ...)
  skynet.trace("cluster")
  return cluster.call(node, addr, ...)
end

-- a traced call through a cluster.proxy
function CMD.traced_proxy(node, name, ...)
  local proxy = cluster.proxy(node, name)
  skynet.trace("proxy")
  return skynet.call(proxy, "lua", ...)
end

function CMD.reload(config)
  cluster.reload(config)
end

function CMD.register(name)
  return cluster.register(name, skynet.self())
end

function CMD.unregister(name)
  return cluster.unregister(name)
end

function CMD.ping()
  return "pong", skynet.self()
end

-- n pushes, then a call: the call sees every push
function CMD.pushes_then_call(node, addr, n)
  for i = 1, n do
    cluster.send(node, addr, "push", i)
  end
  return cluster.call(node, addr, "pushed")
end

-- several calls at once; answers what each got ("ok" or the error)
function CMD.concurrent(node, addr, n, ...)
  local results, done = {}, 0
  local me = coroutine.running()
  local args = table.pack(...)
  for i = 1, n do
    skynet.fork(function()
      local ok, r = pcall(cluster.call, node, addr, table.unpack(args, 1, args.n))
      results[i] = ok and "ok" or tostring(r)
      done = done + 1
      if done == n then
        skynet.wakeup(me)
      end
    end)
  end
  skynet.wait(me)
  return results
end

-- a call carrying `size` bytes, and a small call made just after it:
-- which answered first
function CMD.race(node, addr, size)
  local order = {}
  local me = coroutine.running()
  local function record(what, ok, err)
    order[#order + 1] = ok and what or (what .. " failed: " .. tostring(err))
    if #order == 2 then
      skynet.wakeup(me)
    end
  end
  skynet.fork(function()
    record("big", pcall(cluster.call, node, addr, "len", string.rep("x", size)))
  end)
  skynet.fork(function()
    record("small", pcall(cluster.call, node, addr, "whoami"))
  end)
  skynet.wait(me)
  return order
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(CMD[cmd], "no such command")
    skynet.retpack(f(...))
  end)
end)
