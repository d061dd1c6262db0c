-- skynet.stm: an object one service writes and others read without asking it.
--   local obj = stm.new(msg)       the writer; obj(newmsg) replaces the message
--   local ref = stm.copy(obj)      a reference to send to a reader
--   local reader = stm.newcopy(ref)
--   reader(f, ud)                  false if unchanged since the last read,
--                                  else true, f(msg, sz, ud)
-- skynet keeps the object in C memory; skylet's node keeps it (core command
-- STM): readers fetch the bytes only when the version moved.
local command = require "skylet.core".command
local setmetatable, type = setmetatable, type

local stm = {}

-- No __gc: the node frees an object when the services holding it are gone.
local writer_meta = {
  __call = function(self, msg)
    command("STM", "update", self.id, msg)
  end,
}

local function read_result(ok, ...)
  return ok, ...
end

local reader_meta = {
  __call = function(self, f, ud)
    assert(type(f) == "function", "stm reader needs a function")
    local version, msg = command("STM", "read", self.id, self.version)
    if version == self.version then
      return false
    end
    self.version = version
    if msg == nil then
      return false -- the writer is gone
    end
    return read_result(true, f(msg, #msg, ud))
  end,
}

function stm.new(msg, sz)
  return setmetatable({ id = command("STM", "new", msg) }, writer_meta)
end

-- The reference a reader needs (skynet: a pointer; here the object's id).
function stm.copy(obj)
  return obj.id
end

function stm.newcopy(ref)
  command("STM", "adopt", ref)
  return setmetatable({ id = ref, version = 0 }, reader_meta)
end

return stm
