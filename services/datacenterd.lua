-- The daemon of skynet.datacenter: a tree of values, and the callers waiting
-- for a leaf to be set.
local skynet = require "skynet"

local data = {}
-- Waiters mirror the paths they wait on: a branch node is a table of
-- children; a leaf node is a list of responses marked by LEAF.
local waiting = {}
local LEAF = {}

local function lookup(node, key, ...)
  if node == nil or key == nil then
    return node
  end
  return lookup(node[key], ...)
end

local function query(key, ...)
  local node = data[key]
  if node ~= nil then
    return lookup(node, ...)
  end
end

-- Sets the leaf at the end of the path; returns the old value and the new.
local function assign(node, key, value, ...)
  if select("#", ...) == 0 then
    local old = node[key]
    node[key] = value
    return old, value
  end
  local child = node[key]
  if child == nil then
    child = {}
    node[key] = child
  end
  return assign(child, value, ...)
end

-- Detaches the waiters that the path (keys, then the value) satisfies. A path
-- that ends inside a list of leaf waiters means those waited on a branch: they
-- get an error.
local function take_waiters(node, key, ...)
  if key == nil then
    return
  end
  local w = node[key]
  if w == nil then
    return
  end
  if w[LEAF] then
    node[key] = nil
    if select("#", ...) == 1 then
      return w
    end
    for _, response in ipairs(w) do
      response(false)
    end
    return
  end
  return take_waiters(w, ...)
end

local function add_waiter(node, key, next_key, ...)
  local w = node[key]
  if next_key == nil then
    if w == nil then
      w = { [LEAF] = true }
      node[key] = w
    end
    assert(w[LEAF], "datacenter: waiting on a branch")
    w[#w + 1] = skynet.response()
    return
  end
  if w == nil then
    w = {}
    node[key] = w
  end
  assert(not w[LEAF], "datacenter: waiting under a leaf")
  return add_waiter(w, next_key, ...)
end

local CMD = {}

function CMD.QUERY(...)
  return skynet.retpack(query(...))
end

function CMD.UPDATE(...)
  local old, value = assign(data, ...)
  if old == nil and value ~= nil then
    local w = take_waiters(waiting, ...)
    if w then
      for _, response in ipairs(w) do
        response(true, value)
      end
    end
  end
  return skynet.retpack(old)
end

function CMD.WAIT(...)
  local value = query(...)
  if value ~= nil then
    return skynet.retpack(value)
  end
  add_waiter(waiting, ...)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = CMD[cmd]
    if f == nil then
      error("datacenterd: unknown command " .. tostring(cmd))
    end
    f(...)
  end)
end)
