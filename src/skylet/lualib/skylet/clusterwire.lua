-- skylet.clusterwire: the packets of skynet's cluster protocol, byte for byte
-- (skynet's lualib-src/lua-cluster.c does this in C). Payloads are skynet.pack
-- bytes (skylet.seri); every packet is a 2-byte big-endian length, then the
-- body. Numbers inside a body are little-endian.
--
-- Requests (node -> node):
--   0x00 addr:u32 session:u32 msg              a call (session 0: a push)
--   0x80 len:u8 name session:u32 msg           the same to a name ("@x", ".x")
--   0x01/0x41 addr:u32 session:u32 size:u32     a call/push of size >= 32 KiB
--   0x81/0xc1 len:u8 name session:u32 size:u32  ... to a name; then parts:
--   0x02 session:u32 part                      32 KiB of it, more follow
--   0x03 session:u32 part                      the last part
--   0x04 tag                                   trace tag for the next request
-- Responses:
--   session:u32 0x00 error-text                (cut at 32 KiB)
--   session:u32 0x01 msg                       an answer of up to 32 KiB
--   session:u32 0x02 size:u32                  a larger answer begins
--   session:u32 0x03 part / 0x04 last-part     its 32 KiB parts

local spack, sunpack, sbyte, ssub = string.pack, string.unpack, string.byte, string.sub
local type, error, mtype = type, error, math.type

local MULTI_PART = 0x8000

local M = { MULTI_PART = MULTI_PART }

-- The parts of a large message, each a packet.
local function request_parts(session, msg)
  local parts, n, len = {}, 0, #msg
  for pos = 1, len, MULTI_PART do
    local last = pos + MULTI_PART > len
    local part = ssub(msg, pos, pos + MULTI_PART - 1)
    n = n + 1
    parts[n] = spack(">I2", #part + 5) .. spack("<BI4", last and 3 or 2, session) .. part
  end
  return parts
end

-- A request or push to addr (an address number, or a name of 1..255 bytes)
-- carrying msg (skynet.pack bytes). Returns the first packet, the session
-- the next request should use, and, for a message of 32 KiB or more, the
-- packets of its parts (written after the first, in order).
-- A small push carries session 0 and leaves the session as it was.
function M.request(addr, session, msg, is_push)
  if mtype(session) ~= "integer" or session <= 0 then
    error("Invalid request session " .. tostring(session), 2)
  end
  local next_session = session + 1
  if next_session > 0x7fffffff then
    next_session = 1
  end
  local len = #msg
  local large = len >= MULTI_PART
  local head
  if type(addr) == "number" then
    if large then
      head = spack("<BI4I4I4", is_push and 0x41 or 1, addr, session, len)
    else
      head = spack("<BI4I4", 0, addr, is_push and 0 or session) .. msg
    end
  elseif type(addr) == "string" then
    local namelen = #addr
    if namelen < 1 or namelen > 255 then
      error("name length is invalid, must be between 1 and 255 characters: " .. addr, 2)
    end
    if large then
      head = spack("<Bs1I4I4", is_push and 0xc1 or 0x81, addr, session, len)
    else
      head = spack("<Bs1I4", 0x80, addr, is_push and 0 or session) .. msg
    end
  else
    error("name is not a string, it's a " .. type(addr), 2)
  end
  head = spack(">I2", #head) .. head
  if large then
    return head, next_session, request_parts(session, msg)
  end
  if is_push then
    return head, session
  end
  return head, next_session
end

function M.trace(tag)
  if #tag > MULTI_PART then
    error("trace tag is too long : " .. #tag, 2)
  end
  return spack(">I2", #tag + 1) .. "\4" .. tag
end

local function bad(body)
  error(("Invalid cluster message (size=%d)"):format(#body), 0)
end

-- A request packet's body (without its length), as the receiving side
-- needs it:
--   small:       addr, session, msg, false, is_push
--   large begin: addr, session, size, true, is_push  (then its parts)
--   part:        false, session, part, more
--   trace:       tag
function M.unpack_request(body)
  local len = #body
  if len == 0 then
    error("Invalid req package. size == 0", 0)
  end
  local kind = sbyte(body, 1)
  if kind == 0 then
    if len < 9 then bad(body) end
    local addr, session = sunpack("<I4I4", body, 2)
    return addr, session, ssub(body, 10), false, session == 0
  elseif kind == 0x80 then
    local namelen = sbyte(body, 2) or 0
    if len < namelen + 6 then bad(body) end
    local name, session = sunpack("<s1I4", body, 2)
    return name, session, ssub(body, namelen + 7), false, session == 0
  elseif kind == 1 or kind == 0x41 then
    if len ~= 13 then
      error(("Invalid cluster message size %d (multi req must be 13)"):format(len), 0)
    end
    local addr, session, size = sunpack("<I4I4I4", body, 2)
    return addr, session, size, true, kind == 0x41
  elseif kind == 0x81 or kind == 0xc1 then
    local namelen = sbyte(body, 2) or 0
    if len < namelen + 10 then bad(body) end
    local name, session, size = sunpack("<s1I4I4", body, 2)
    return name, session, size, true, kind == 0xc1
  elseif kind == 2 or kind == 3 then
    if len < 5 then
      error("Invalid cluster multi part message", 0)
    end
    return false, (sunpack("<I4", body, 2)), ssub(body, 6), kind == 2
  elseif kind == 4 then
    return ssub(body, 2)
  end
  error("Invalid req package type " .. kind, 0)
end

-- The answer to session: a packet, or for an answer over 32 KiB a list of
-- packets. An error text is cut at 32 KiB.
function M.response(session, ok, msg)
  local len = #msg
  if not ok then
    if len > MULTI_PART then
      msg = ssub(msg, 1, MULTI_PART)
    end
    return spack(">I2<I4B", #msg + 5, session, 0) .. msg
  end
  if len <= MULTI_PART then
    return spack(">I2<I4B", len + 5, session, 1) .. msg
  end
  local packets = { spack(">I2<I4BI4", 9, session, 2, len) }
  for pos = 1, len, MULTI_PART do
    local part = ssub(msg, pos, pos + MULTI_PART - 1)
    packets[#packets + 1] = spack(">I2<I4B", #part + 5, session, pos + MULTI_PART > len and 4 or 3) .. part
  end
  return packets
end

-- A response packet's body: session, ok, data, more. A large answer's first
-- packet gives its size as data; its parts give more = true but the last.
-- Nothing for a body that is not a response.
function M.unpack_response(body)
  local len = #body
  if len < 5 then
    return
  end
  local session, kind = sunpack("<I4B", body)
  if kind == 0 then
    return session, false, ssub(body, 6)
  elseif kind == 1 or kind == 4 then
    return session, true, ssub(body, 6)
  elseif kind == 2 then
    if len ~= 9 then
      return
    end
    return session, true, (sunpack("<I4", body, 6)), true
  elseif kind == 3 then
    return session, true, ssub(body, 6), true
  end
end

-- Joins what unpack_response gave for a large answer: { size, part... }.
-- Nothing when the parts do not add up to the size announced.
function M.concat(parts)
  local size = parts[1]
  if mtype(size) ~= "integer" then
    return
  end
  local msg = table.concat(parts, "", 2)
  if #msg ~= size then
    return
  end
  return msg
end

function M.isname(addr)
  return type(addr) == "string" and sbyte(addr, 1) == 64 -- "@"
end

return M
