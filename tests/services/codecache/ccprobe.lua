-- Test service for the code cache: requires modules on request and drives
-- skynet.codecache. Argument 1, if given, is the mode to set at once.
local skynet = require "skynet"
local codecache = require "skynet.codecache"
-- What a handler's first require loads besides the module (skynet's
-- require for coroutines), loaded here so the tests count their modules only.
require "skynet.require"

local initial = ...
if initial then
  codecache.mode(initial)
end

local CMD = {}

-- Load a module afresh (not from package.loaded) and return its value.
function CMD.require(name)
  package.loaded[name] = nil
  return (require(name))
end

-- Call a function of a module already loaded (for tracebacks).
function CMD.run(name, fn)
  return require(name)[fn]()
end

function CMD.mode(m)
  if m then
    codecache.mode(m)
  end
  return codecache.mode()
end

function CMD.badmode(m)
  local ok, err = pcall(codecache.mode, m)
  return ok, err
end

function CMD.clear()
  codecache.clear()
end

function CMD.stats()
  return codecache.stats()
end

function CMD.alias()
  return skynet.cache == codecache
end

function CMD.traceback(name, fn)
  local ok, err = xpcall(require(name)[fn], debug.traceback)
  return err
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
