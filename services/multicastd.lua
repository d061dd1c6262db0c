-- The daemon of skynet.multicast: channels and their subscribers (one node;
-- skynet's harbor forwarding between nodes is not here).
local skynet = require "skynet"
local command = require "skylet.core".command

local channels = {} -- channel id -> { [subscriber address] = true }
local next_id = 0   -- skynet: the low 8 bits are the harbor id (0 standalone)

local CMD = {}

function CMD.NEW()
  while channels[next_id] do
    next_id = next_id + 256
  end
  local id = next_id
  channels[id] = {}
  next_id = next_id + 256
  return id
end

function CMD.DEL(_, c)
  channels[c] = nil
end

function CMD.SUB(source, c)
  local group = channels[c]
  if group then
    group[source] = true
  end
end

function CMD.USUB(source, c)
  local group = channels[c]
  if group then
    group[source] = nil
  end
end

function CMD.PUB(source, c, msg)
  local group = channels[c]
  if group == nil or next(group) == nil then
    return
  end
  local dests, n = {}, 0
  for address in pairs(group) do
    n = n + 1
    dests[n] = string.pack("<I4", address)
  end
  command("MULTICAST", table.concat(dests), source, c, msg)
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = CMD[cmd]
    if f == nil then
      error("multicastd: unknown command " .. tostring(cmd))
    end
    local ret = f(source, ...)
    if session ~= 0 then
      skynet.retpack(ret)
    end
  end)
end)
