-- clustersender: the connection to one other node (skynet's
-- service/clustersender.lua), made by clusterd. Requests and pushes go out
-- in skynet's cluster packets (skylet.clusterwire) over a session-mode
-- socketchannel; payloads are converted at the edge, skylet's msgpack
-- arguments to skynet.pack bytes (skylet.seri) and the answers back.
--
-- A traced caller's request goes after a trace packet with its tag, as
-- skynet's sender does (see send_tracetag).
--
-- Commands: req(addr, msg) answers what the remote service answered;
-- push(addr, msg); changenode(address | false). msg is skynet.pack bytes of
-- the arguments as this node packs them.
--
-- Failure: a node that refuses the connection, a connection lost while
-- calls wait on it, a node set down: every such call raises in its caller
-- with the reason; the next call connects again. Config key
-- `cluster_call_timeout` (seconds; none by default) fails a call that has
-- had no answer in that time (a late answer is dropped).
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
local socket = require "skynet.socket"
local wire = require "skylet.clusterwire"
local seri = require "skylet.serialize"
local command = require "skylet.core".command
local inner = require "skylet.inner"

local format = string.format
local pack, unpack = skynet.pack, skynet.unpack
local seri_pack, seri_unpack = seri.pack, seri.unpack

local node, address = ...
local channel
local session = 1
local down = false
local call_timeout = tonumber(skynet.getenv "cluster_call_timeout")
if call_timeout and call_timeout <= 0 then
  call_timeout = nil
end

local function reason(err)
  if err ~= sc.error then
    return tostring(err)
  end
  if down then
    return format("cluster node [%s] is down.", node)
  end
  local why = channel.__last_error
  if why then
    return format("cluster node [%s] (%s): cannot connect: %s", node, address, why)
  end
  return format("cluster node [%s] (%s): connection lost", node, address)
end

-- The node closes a connection whose unsent bytes pass this (config
-- socket_send_buffer_limit, default 8 MiB): a larger message is refused here
-- instead of breaking the link for every call on it.
local send_limit = tonumber(skynet.getenv "socket_send_buffer_limit") or 8 * 1024 * 1024

local function to_wire(msg)
  local bytes = seri_pack(unpack(msg))
  if #bytes > send_limit then
    error(format("cluster: a message of %d bytes exceeds socket_send_buffer_limit (%d)",
      #bytes, send_limit), 0)
  end
  return bytes
end

local nodename -- this process's name in trace tags (skynet's cluster.nodename)

-- A traced caller's request goes after a trace packet carrying its tag,
-- made "(nodename-node-session)tag" the first time it leaves a node, as
-- skynet does: the other node traces its handling under that tag.
local function send_tracetag(tag)
  if tag:sub(1, 1) ~= "(" then
    nodename = nodename or command("CLUSTERNODENAME")
    local newtag = format("(%s-%s-%d)%s", nodename, node, session, tag)
    skynet.tracelog(tag, format("session %s", newtag))
    tag = newtag
  end
  skynet.tracelog(tag, format("cluster %s", node))
  channel:request(wire.trace(tag))
end

local function send_request(addr, msg)
  local request, next_session, parts = wire.request(addr, session, to_wire(msg))
  local current = session
  session = next_session
  local tag = inner.trace() and skynet.tracetag() -- no trace module loaded until one is needed
  if tag then
    send_tracetag(tag)
  end
  return channel:request(request, current, parts)
end

-- skynet.pack bytes from the wire -> this node's payload.
local function repack(msg)
  return pack(seri_unpack(msg))
end

local function raw(msg)
  return msg
end

local command = {}

function command.req(addr, msg)
  local reply = skynet.response(raw)
  local answered = false
  if call_timeout then
    skynet.timeout(call_timeout * 100, function()
      if not answered then
        answered = true
        reply(false, format("cluster call to node [%s] timed out after %gs", node, call_timeout))
      end
    end)
  end
  local ok, answer = pcall(send_request, addr, msg)
  if answered then
    return
  end
  answered = true
  if ok then
    if type(answer) == "table" then
      answer = wire.concat(answer)
      if answer == nil then
        return reply(false, format("cluster node [%s]: bad multi-part answer", node))
      end
    end
    ok, answer = pcall(repack, answer)
    if ok then
      local tag = inner.trace() and skynet.tracetag()
      if tag then -- skynet's sender answers with skynet.ret, which logs this
        skynet.tracelog(tag, "response")
      end
      return reply(true, answer)
    end
  end
  reply(false, reason(answer))
end

local function push(addr, msg)
  local request, next_session, parts = wire.request(addr, session, to_wire(msg), true)
  session = next_session
  channel:request(request, nil, parts)
end

function command.push(addr, msg)
  local ok, err = pcall(push, addr, msg)
  if not ok then
    skynet.error(reason(err))
  end
end

local function read_response(sock)
  local size = socket.header(sock:read(2))
  return wire.unpack_response(sock:read(size))
end

function command.changenode(host)
  if not host then
    skynet.error("Close cluster sender", node, address)
    down = true
    channel:close()
  else
    down = false
    address = host
    channel:changehost(host)
    local ok, err = pcall(channel.connect, channel, true)
    if not ok then
      return skynet.response()(false, reason(err))
    end
  end
  skynet.ret(skynet.pack(nil))
end

skynet.start(function()
  channel = sc.channel {
    host = address,
    response = read_response,
    nodelay = true,
  }
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(command[cmd], "clustersender: unknown command")
    f(...)
  end)
end)
