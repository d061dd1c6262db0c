-- skynet.dns: a DNS client over the node's UDP sockets (skynet's API).
--
--   dns.server([ip [, port]])  the server to ask (default: the config key
--                              dns_server "ip" or "ip:port", then the first
--                              nameserver of dns.DEFAULT_RESOLV_CONF)
--   dns.resolve(name [, ipv6]) -> first address, every address (A, or AAAA
--                              when ipv6); names in dns.DEFAULT_HOSTS first;
--                              raises on an error answer or a timeout
--   dns.flush()                forget the cache
--
-- Queries are RFC 1035 messages with recursion desired. An answer is taken
-- only if its id and its question are those of a query in flight; anything
-- else (stray, spoofed, garbage) is logged and dropped, so a lying server
-- costs the caller a timeout (dns.TIMEOUT, in centiseconds), not a wrong
-- address. An answer that is ours but cannot be read (truncated, bad
-- names...) fails that query with the reason. Answers are cached for their
-- smallest TTL.
local skynet = require "skynet"
local socket = require "skynet.socket"

local string_pack, string_unpack, format, concat = string.pack, string.unpack, string.format, table.concat

local dns = {
  DEFAULT_HOSTS = "/etc/hosts",
  DEFAULT_RESOLV_CONF = "/etc/resolv.conf",
  TIMEOUT = 30 * 100,
}

local TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
local HEADER = ">I2I2I2I2I2I2"
local HEADER_SIZE = 12
local MAX_NAME, MAX_LABEL, MAX_POINTERS = 253, 63, 32
local RCODE = {
  [1] = "format error",
  [2] = "server failure",
  [3] = "no such name (NXDOMAIN)",
  [4] = "not implemented",
  [5] = "refused",
}

local server = { host = nil, port = nil, fd = nil }
local pending = {} -- id -> query in flight
local cache -- qtype -> name -> { answers =, expire = }
local hosts -- name -> { ipv4 = {...}, ipv6 = {...} }
local last_id = 0

function dns.flush()
  cache = { [TYPE_A] = {}, [TYPE_AAAA] = {} }
end
dns.flush()

local function kind_of(name)
  if name:match("^[%d%.]+$") then
    return "ipv4"
  elseif name:find(":", 1, true) then
    return "ipv6"
  end
  return "hostname"
end

local function valid_name(name)
  if #name > MAX_NAME or not name:match("^[_%l%d%-%.]+$") then
    return false
  end
  for label in name:gmatch("[^%.]+") do
    if #label > MAX_LABEL then
      return false
    end
  end
  return true
end

local function read_hosts()
  local found = {}
  local f = dns.DEFAULT_HOSTS and io.open(dns.DEFAULT_HOSTS)
  if not f then
    return found
  end
  for line in f:lines() do
    local ip, names = line:match("^%s*([%x%.:]+)%s+([^#]+)")
    local kind = ip and kind_of(ip)
    if kind and kind ~= "hostname" then
      for name in names:gmatch("%S+") do
        name = name:lower()
        local entry = found[name] or {}
        found[name] = entry
        entry[kind] = entry[kind] or {}
        table.insert(entry[kind], ip)
      end
    end
  end
  f:close()
  return found
end

local function resolv_conf_server()
  local f = dns.DEFAULT_RESOLV_CONF and io.open(dns.DEFAULT_RESOLV_CONF)
  if not f then
    return nil
  end
  local found
  for line in f:lines() do
    found = line:match("^%s*nameserver%s+([^%s#;]+)")
    if found then
      break
    end
  end
  f:close()
  return found
end

function dns.server(host, port)
  if server.fd then
    socket.close(server.fd)
    server.fd = nil
  end
  server.host, server.port = host, port or 53
end

local function default_server()
  local configured = skynet.getenv("dns_server")
  if configured then
    local host, port = configured:match("^%[?([^%]]-)%]?:(%d+)$")
    if host then
      return host, tonumber(port)
    end
    return configured, 53
  end
  return resolv_conf_server(), 53
end

----- reading answers

-- A (possibly compressed) name at pos: the name and the position after it.
local function read_name(msg, pos)
  local labels, after, jumps = {}, nil, 0
  while true do
    local len = msg:byte(pos)
    if len == nil then
      error("name runs past the end", 0)
    end
    if len >= 0xc0 then
      jumps = jumps + 1
      if jumps > MAX_POINTERS then
        error("name compression loop", 0)
      end
      local ptr = string_unpack(">I2", msg, pos) & 0x3fff
      after = after or pos + 2
      pos = ptr + 1
    elseif len >= 0x40 then
      error("bad label type", 0)
    elseif len == 0 then
      return concat(labels, "."):lower(), after or pos + 1
    else
      if pos + len > #msg then
        error("label runs past the end", 0)
      end
      labels[#labels + 1] = msg:sub(pos + 1, pos + len)
      pos = pos + len + 1
    end
  end
end

local function address_text(atype, rdata)
  if atype == TYPE_A then
    if #rdata ~= 4 then
      error("A record of " .. #rdata .. " bytes", 0)
    end
    return format("%d.%d.%d.%d", rdata:byte(1, 4))
  end
  if #rdata ~= 16 then
    error("AAAA record of " .. #rdata .. " bytes", 0)
  end
  return format("%x:%x:%x:%x:%x:%x:%x:%x", string_unpack(">I2I2I2I2I2I2I2I2", rdata))
end

-- The answer's records of qtype: (addresses, smallest ttl); errors are
-- strings thrown with level 0 (string.unpack's own errors say what ran out).
local function read_records(msg, pos, count, qtype)
  local addresses, ttl = {}, nil
  for _ = 1, count do
    local _, atype, class, rttl, rdata
    _, pos = read_name(msg, pos)
    atype, class, rttl, rdata, pos = string_unpack(">I2I2I4s2", msg, pos)
    if atype == qtype and class == CLASS_IN then
      addresses[#addresses + 1] = address_text(atype, rdata)
      ttl = ttl and math.min(ttl, rttl) or rttl
    end
  end
  return addresses, ttl
end

local function fail(q, err)
  q.err = err
  skynet.wakeup(q.co)
end

local function answer(msg)
  if #msg < HEADER_SIZE then
    skynet.error(format("dns: dropped a %d-byte packet (not a DNS message)", #msg))
    return
  end
  local id, flags, qdcount, ancount, _, _, pos = string_unpack(HEADER, msg)
  local q = pending[id]
  if q == nil or flags & 0x8000 == 0 then
    skynet.error(format("dns: dropped an answer for no query in flight (id %d)", id))
    return
  end
  local ok, name, qtype, qclass = pcall(function()
    if qdcount ~= 1 then
      error("answer has " .. qdcount .. " questions", 0)
    end
    local n, p = read_name(msg, pos)
    local t, c
    t, c, pos = string_unpack(">I2I2", msg, p)
    return n, t, c
  end)
  if not ok then
    skynet.error(format("dns: dropped an answer (id %d) with no readable question: %s", id, name))
    return
  end
  if name ~= q.name or qtype ~= q.qtype or qclass ~= CLASS_IN then
    skynet.error(format("dns: dropped an answer (id %d) to another question (%s, type %d)", id, name, qtype))
    return
  end
  pending[id] = nil
  local rcode = flags & 0xf
  if rcode ~= 0 then
    return fail(q, format("dns: %s: %s", q.name, RCODE[rcode] or "error " .. rcode))
  end
  if flags & 0x0200 ~= 0 then
    return fail(q, format("dns: %s: truncated answer (TC)", q.name))
  end
  local read, addresses, ttl = pcall(read_records, msg, pos, ancount, q.qtype)
  if not read then
    return fail(q, format("dns: %s: malformed answer: %s", q.name, addresses))
  end
  if #addresses == 0 then
    return fail(q, format("dns: %s: no %s record", q.name, q.qtype == TYPE_A and "A" or "AAAA"))
  end
  cache[q.qtype][q.name] = { answers = addresses, expire = skynet.now() + ttl * 100 }
  q.answers = addresses
  skynet.wakeup(q.co)
end

----- asking

local function open_server()
  if server.fd then
    return server.fd
  end
  if not server.host then
    server.host, server.port = default_server()
  end
  if not server.host then
    error("dns: no server (call dns.server, set dns_server, or fill " .. tostring(dns.DEFAULT_RESOLV_CONF) .. ")", 3)
  end
  -- udp_dial makes the socket of the server's family (IPv4 or IPv6)
  local ok, fd = pcall(socket.udp_dial, server.host, server.port, answer)
  if not ok then
    error(fd, 3)
  end
  server.fd = fd
  return fd
end

local function new_id()
  for _ = 1, 65535 do
    last_id = last_id % 65535 + 1
    if not pending[last_id] then
      return last_id
    end
  end
  error("dns: 65535 queries in flight", 3)
end

local function question(id, name, qtype)
  local parts = { string_pack(HEADER, id, 0x0100, 1, 0, 0, 0) } -- RD
  for label in name:gmatch("[^%.]+") do
    parts[#parts + 1] = string_pack("s1", label)
  end
  parts[#parts + 1] = string_pack(">BI2I2", 0, qtype, CLASS_IN)
  return concat(parts)
end

local function ask(name, qtype)
  local cached = cache[qtype][name]
  if cached and cached.expire > skynet.now() then
    return cached.answers[1], cached.answers
  end
  local fd = open_server()
  local id = new_id()
  local q = { name = name, qtype = qtype, co = coroutine.running() }
  pending[id] = q
  socket.write(fd, question(id, name, qtype))
  skynet.timeout(dns.TIMEOUT, function()
    if pending[id] == q then
      pending[id] = nil
      fail(q, format("dns: %s: timeout", name))
    end
  end)
  skynet.wait(q.co)
  if q.answers then
    return q.answers[1], q.answers
  end
  error(q.err, 0)
end

function dns.resolve(name, ipv6)
  name = name:lower()
  local kind = kind_of(name)
  if kind ~= "hostname" then
    return name -- an address already (as skynet, whatever ipv6 says)
  end
  if not valid_name(name) then
    return nil, "illegal name"
  end
  hosts = hosts or read_hosts()
  local local_entry = hosts[name]
  local known = local_entry and local_entry[ipv6 and "ipv6" or "ipv4"]
  if known then
    return known[1], known
  end
  return ask(name, ipv6 and TYPE_AAAA or TYPE_A)
end

return dns
