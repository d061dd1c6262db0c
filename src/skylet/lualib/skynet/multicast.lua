-- skynet.multicast: publish one message to every subscriber of a channel.
--   local c = mc.new()                      a new channel (or mc.new{ channel = id, ... })
--   mc.new{ channel = id, dispatch = function(channel, source, ...) end }
--   c:subscribe() / c:unsubscribe() / c:publish(...) / c:delete()
-- Subscribers receive "multicast" messages whose session is the channel id
-- and whose source is the publisher, as in skynet. multicastd delivers one
-- publish to all subscribers with one core command (MULTICAST): every
-- subscriber's mailbox holds the same bytes.
local skynet = require "skynet"

local multicast = {}
local daemon
local subscribed = {} -- channel id -> channel object with a dispatch

local function multicastd()
  if daemon == nil then
    daemon = skynet.uniqueservice("multicastd")
  end
  return daemon
end

local channel = {}
-- skynet unsubscribes a collected channel object (__gc); skylet does not
-- call the node from a collector (it may run while the VM closes): a dead
-- subscriber is passed by, and c:unsubscribe() stops the messages.
local channel_meta = {
  __index = channel,
  __tostring = function(self)
    return string.format("[Multicast:%x]", self.channel)
  end,
}

function multicast.new(conf)
  local self = {}
  conf = conf or self
  self.channel = conf.channel
  if self.channel == nil then
    self.channel = skynet.call(multicastd(), "lua", "NEW")
  end
  self.__pack = conf.pack or skynet.pack
  self.__unpack = conf.unpack or skynet.unpack
  self.__dispatch = conf.dispatch
  return setmetatable(self, channel_meta)
end

function channel:delete()
  local c = assert(self.channel)
  skynet.send(multicastd(), "lua", "DEL", c)
  self.channel = nil
  self.__subscribe = nil
end

function channel:publish(...)
  local c = assert(self.channel)
  skynet.call(multicastd(), "lua", "PUB", c, self.__pack(...))
end

function channel:subscribe()
  local c = assert(self.channel)
  if self.__subscribe then
    return
  end
  skynet.call(multicastd(), "lua", "SUB", c)
  self.__subscribe = true
  subscribed[c] = self
end

function channel:unsubscribe()
  if not self.__subscribe then
    return
  end
  local c = assert(self.channel)
  skynet.send(multicastd(), "lua", "USUB", c)
  self.__subscribe = nil
  subscribed[c] = nil
end

local function dispatch_multicast(c, source, msg)
  skynet.ignoreret() -- the channel rides in the session field: nothing to answer
  local self = subscribed[c]
  if self == nil or not self.__subscribe then
    return -- unsubscribed while the message was on its way
  end
  self.__dispatch(self, source, self.__unpack(msg))
end

skynet.register_protocol {
  name = "multicast",
  id = skynet.PTYPE_MULTICAST,
  dispatch = dispatch_multicast,
}

return multicast
