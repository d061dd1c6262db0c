-- The "debug" protocol every service answers (skynet's lualib/skynet/debug.lua):
-- MEM, GC, STAT, TASK, INFO, PING, EXIT. RUN (inject) is added by skylet.inject.
local M = {}

function M.init(skynet, export)
  local command = require "skylet.core".command
  local dbgcmd = {}

  function dbgcmd.MEM()
    skynet.ret(skynet.pack(collectgarbage("count")))
  end

  function dbgcmd.GC()
    collectgarbage("collect")
    skynet.ret(skynet.pack(collectgarbage("count")))
  end

  function dbgcmd.STAT()
    skynet.ret(skynet.pack({
      task = skynet.task(),
      mqlen = skynet.stat("mqlen"),
      cpu = skynet.stat("cpu"),
      message = skynet.stat("message"),
    }))
  end

  function dbgcmd.TASK(session)
    local ret = {}
    if session then
      ret[1] = skynet.task(session)
    else
      skynet.task(ret)
    end
    skynet.ret(skynet.pack(ret))
  end

  function dbgcmd.INFO(...)
    local f = skynet.__info_func
    if f then
      skynet.ret(skynet.pack(f(...)))
    else
      skynet.ret(skynet.pack(nil))
    end
  end

  function dbgcmd.PING()
    return skynet.ret()
  end

  function dbgcmd.EXIT()
    skynet.exit()
  end

  function dbgcmd.RUN(...)
    -- The hotfix entry point lives in its own module so services that are
    -- never patched do not pay for it.
    local inject = require "skylet.inject"
    skynet.ret(skynet.pack(inject.run(skynet, export, ...)))
  end

  local function dispatch(session, source, cmd, ...)
    local f = dbgcmd[cmd]
    if f == nil then
      error("unknown debug command " .. tostring(cmd))
    end
    f(...)
  end

  skynet.register_protocol {
    name = "debug",
    id = assert(skynet.PTYPE_DEBUG),
    pack = skynet.pack,
    unpack = skynet.unpack,
    dispatch = dispatch,
  }
  M.command = dbgcmd
  M.command_core = command
end

return M
