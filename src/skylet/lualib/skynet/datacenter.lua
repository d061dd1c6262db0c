-- skynet.datacenter: a node-wide tree of values kept by datacenterd.
--   get(k1, k2, ...)        the value at that path (nil if absent)
--   set(k1, ..., kn, value) set it; returns the value it replaced
--   wait(k1, ..., kn)       the value, waiting until it is set (raises if the
--                           path turns out to be a branch)
-- skynet reaches datacenterd by the global name DATACENTER, which its
-- bootstrap binds; skylet launches it as a unique service on first use.
local skynet = require "skynet"

local datacenter = {}
local address

local function center()
  if address == nil then
    address = skynet.uniqueservice("datacenterd")
  end
  return address
end

function datacenter.get(...)
  return skynet.call(center(), "lua", "QUERY", ...)
end

function datacenter.set(...)
  return skynet.call(center(), "lua", "UPDATE", ...)
end

function datacenter.wait(...)
  return skynet.call(center(), "lua", "WAIT", ...)
end

return datacenter
