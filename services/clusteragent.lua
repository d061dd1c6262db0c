-- clusteragent: serves one connection from another node (skynet's
-- service/clusteragent.lua). clusterd makes one per accepted connection; the
-- gate forwards the connection's packets here as "client" messages. Each
-- request is converted at the edge (skynet.pack bytes -> this node's
-- payload), delivered to its local service, and the answer (or the error)
-- written back in skynet's cluster response packets.
local skynet = require "skynet"
local socket = require "skynet.socket"
local wire = require "skylet.clusterwire"
local seri = require "skylet.serialize"

local format = string.format
local pack, unpack = skynet.pack, skynet.unpack
local seri_pack, seri_unpack = seri.pack, seri.unpack

local clusterd, gate, fd = ...
clusterd = tonumber(clusterd)
gate = tonumber(gate)
fd = tonumber(fd)

local large_request = {} -- session -> { addr=, is_push=, size, part... }
local register_name      -- "@name" -> address (cache of clusterd's names)
local inquery_name = {}  -- "@name" -> coroutines waiting for the same lookup

local register_name_mt = {
  __index = function(self, name)
    local waiting = inquery_name[name]
    if waiting then
      local co = coroutine.running()
      waiting[#waiting + 1] = co
      skynet.wait(co)
      return rawget(self, name)
    end
    waiting = {}
    inquery_name[name] = waiting
    local ok, addr = pcall(skynet.call, clusterd, "lua", "queryname", name:sub(2))
    if ok and addr then
      self[name] = addr
    end
    inquery_name[name] = nil
    for _, co in ipairs(waiting) do
      skynet.wakeup(co)
    end
    return ok and addr or nil
  end,
}

local function new_register_name()
  register_name = setmetatable({}, register_name_mt)
end
new_register_name()

local function write_response(response)
  if type(response) == "table" then
    -- a large answer at low priority: other answers may pass between its parts
    for _, packet in ipairs(response) do
      socket.lwrite(fd, packet)
    end
  else
    socket.write(fd, response)
  end
end

-- skynet.pack bytes from the wire -> this node's payload, and back.
local function from_wire(msg)
  return pack(seri_unpack(msg))
end

-- As the sender: an answer the node would not queue is refused, not sent.
local send_limit = tonumber(skynet.getenv "socket_send_buffer_limit") or 8 * 1024 * 1024

local function to_wire(msg)
  local bytes = seri_pack(unpack(msg))
  if #bytes > send_limit then
    error(format("cluster: an answer of %d bytes exceeds socket_send_buffer_limit (%d)",
      #bytes, send_limit), 0)
  end
  return bytes
end

local tracetag -- of the next request (a trace packet came before it)

local function serve(addr, session, msg, is_push, tag)
  local ok, answer
  if addr == 0 then -- a name query: the address registered under msg
    local name
    ok, name = pcall(seri_unpack, msg)
    local found = ok and type(name) == "string" and register_name["@" .. name]
    if found then
      return socket.write(fd, wire.response(session, true, seri_pack(found)))
    end
    return socket.write(fd, wire.response(session, false, "name not found"))
  end
  if wire.isname(addr) then
    local name = addr
    addr = register_name[name]
    if not addr then
      if is_push then
        skynet.error(format("cluster push to %s dropped: Invalid name", name))
      else
        socket.write(fd, wire.response(session, false, "Invalid name"))
      end
      return
    end
  end
  ok, msg = pcall(from_wire, msg)
  if not ok then
    if is_push then
      skynet.error(format("cluster push to %s dropped: %s", tostring(addr), msg))
    else
      socket.write(fd, wire.response(session, false, msg))
    end
    return
  end
  if is_push then
    if not skynet.rawsend(addr, "lua", msg) then
      skynet.error(format("cluster push to %s dropped: no such service", tostring(addr)))
    end
    return
  end
  if tag then -- the caller was traced: so is the handling here, under its tag
    ok, answer = pcall(skynet.tracecall, tag, addr, "lua", msg)
  else
    ok, answer = pcall(skynet.rawcall, addr, "lua", msg)
  end
  if ok then
    ok, answer = pcall(to_wire, answer)
  end
  write_response(wire.response(session, ok, tostring(answer)))
end

local function dispatch_request(_, _, packet)
  skynet.ignoreret() -- the session is the gate's fd: nobody waits for an answer
  local addr, session, msg, padding, is_push = wire.unpack_request(packet)
  if session == nil then -- a trace tag for the next request
    tracetag = addr
    return
  end
  if addr == false then -- a part of a large request
    local req = large_request[session]
    if req == nil then
      return skynet.error(format("cluster: part of unknown large request %d", session))
    end
    req[#req + 1] = msg
    if padding then
      return
    end
    large_request[session] = nil
    local whole = wire.concat(req)
    if whole == nil then
      if not req.is_push then
        socket.write(fd, wire.response(session, false, "Invalid large req"))
      end
      return
    end
    return serve(req.addr, session, whole, req.is_push, req.tracetag)
  end
  if padding then -- a large request begins; msg is its size
    large_request[session] = { msg, addr = addr, is_push = is_push, tracetag = tracetag }
    tracetag = nil
    return
  end
  local tag = tracetag
  tracetag = nil
  return serve(addr, session, msg, is_push, tag)
end

skynet.start(function()
  skynet.register_protocol {
    name = "client",
    id = skynet.PTYPE_CLIENT,
    dispatch = dispatch_request,
  }
  -- fd's packets come through the gate as "client" messages
  pcall(skynet.call, gate, "lua", "forward", fd)

  skynet.dispatch("lua", function(_, source, cmd)
    if cmd == "exit" then
      socket.close_fd(fd)
      skynet.exit()
    elseif cmd == "namechange" then
      new_register_name()
    else
      skynet.error(format("Invalid command %s from %s", tostring(cmd), skynet.address(source)))
    end
  end)
end)
