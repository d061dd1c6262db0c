-- skynet.codecache (also skynet.cache): the node compiles each Lua file once
-- and every service loads a copy of the compiled chunk.
--   mode()    this service's mode: "ON", "EXIST" or "OFF" (the node's
--             default comes from config `codecache`)
--   mode(m)   set it for this service's later loads, as skynet does
--   clear()   drop the node's cache; later loads read the files again
--   stats()   { hits, misses, entries, bytes, compiles, stale } (skylet)
local command = require "skylet.core".command

local codecache = {}

local MODES = { ON = true, EXIST = true, OFF = true }

function codecache.mode(m)
  if m == nil then
    return command("CODECACHE", "mode")
  end
  if not MODES[m] then
    error(string.format("bad argument #1 to 'mode' (invalid option '%s')", tostring(m)), 2)
  end
  command("CODECACHE", "mode", m)
end

function codecache.clear()
  command("CODECACHE", "clear")
end

function codecache.stats()
  local hits, misses, entries, bytes, compiles, stale = command("CODECACHE", "stats")
  return {
    hits = hits, misses = misses, entries = entries, bytes = bytes,
    compiles = compiles, stale = stale,
  }
end

-- skynet exposes its loader here too; in skylet loadfile always reads the file.
codecache.loadfile = loadfile

return codecache
