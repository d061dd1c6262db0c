-- The read buffer of one socket in skynet.socket: the chunks the node
-- delivered, in order, read from the front. Chunks are kept as they came
-- (no copying on push); a pop that fits in the front chunk is one string.sub.
--
-- Fields: size (unread bytes), head/tail (chunk indices), offset (bytes of the
-- head chunk already read), and a resume point for find so that waiting for a
-- line never rescans what was already searched.
local sub, find, concat = string.sub, string.find, table.concat

local Buffer = {}
Buffer.__index = Buffer

local M = {}

function M.new()
  return setmetatable({ size = 0, head = 1, tail = 0, offset = 0 }, Buffer)
end

function Buffer:push(data)
  local n = #data
  if n > 0 then
    local tail = self.tail + 1
    self.tail = tail
    self[tail] = data
    self.size = self.size + n
  end
end

local function forget_search(self)
  self.search_chunk = nil
end

-- Takes exactly n bytes from the front, or returns nil if fewer are buffered.
function Buffer:pop(n)
  if n > self.size then
    return nil
  end
  if n == 0 then
    return ""
  end
  forget_search(self)
  self.size = self.size - n
  local head, offset = self.head, self.offset
  local chunk = self[head]
  local avail = #chunk - offset
  if n < avail then
    self.offset = offset + n
    return sub(chunk, offset + 1, offset + n)
  end
  local parts, count = {}, 0
  while n > 0 do
    chunk = self[head]
    avail = #chunk - offset
    count = count + 1
    if n < avail then
      parts[count] = sub(chunk, offset + 1, offset + n)
      offset = offset + n
      n = 0
    else
      parts[count] = offset == 0 and chunk or sub(chunk, offset + 1)
      self[head] = nil
      head = head + 1
      offset = 0
      n = n - avail
    end
  end
  self.head, self.offset = head, offset
  return count == 1 and parts[1] or concat(parts)
end

-- Takes everything buffered ("" if nothing).
function Buffer:popall()
  return self:pop(self.size)
end

-- The number of bytes up to and including the first `sep`, or nil.
function Buffer:find(sep)
  local seplen = #sep
  local i, from, before = self.search_chunk, self.search_from, self.search_before
  if i == nil then
    -- `before`: unread bytes ahead of byte 1 of chunk i (negative for the
    -- head chunk, whose first `offset` bytes were read already).
    i, from, before = self.head, self.offset + 1, -self.offset
  end
  local tail = self.tail
  while i <= tail do
    local chunk = self[i]
    local len = #chunk
    local at = find(chunk, sep, from, true)
    if at then
      return before + at + seplen - 1
    end
    if i == tail then
      -- Resume here next time: a separator may begin in the last seplen-1
      -- bytes (unless the chunk is shorter than that: then search it all).
      if len >= seplen - 1 then
        local resume = len - seplen + 2
        self.search_chunk, self.search_before = i, before
        self.search_from = resume > from and resume or from
      end
      return nil
    end
    if seplen > 1 then
      -- A separator may straddle this chunk and the next one(s).
      local start = len - seplen + 2
      if start < from then
        start = from
      end
      local joint, j = { sub(chunk, start) }, i + 1
      local have = #joint[1]
      while have < 2 * (seplen - 1) and j <= tail do
        local piece = sub(self[j], 1, seplen - 1)
        joint[#joint + 1] = piece
        have = have + #piece
        j = j + 1
      end
      local text = concat(joint)
      local hit = find(text, sep, 1, true)
      if hit and hit <= len - start + 1 then
        return before + start - 1 + hit + seplen - 1
      end
    end
    before = before + len
    i = i + 1
    from = 1
  end
  return nil
end

-- A line ending with `sep` (sep not included), or nil if none is buffered.
function Buffer:popline(sep)
  local n = self:find(sep)
  if n == nil then
    return nil
  end
  local line = self:pop(n - #sep)
  self:pop(#sep)
  return line
end

return M
