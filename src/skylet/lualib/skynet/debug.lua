-- The "debug" protocol every service answers (skynet's lualib/skynet/debug.lua):
-- MEM, GC, STAT, TASK, UNIQTASK, KILLTASK, INFO, PING, EXIT, TERM, SUPPORT,
-- LINK, TRACELOG, and RUN (inject, in skylet.inject). A service adds its own
-- with require("skynet.debug").reg_debugcmd(name, fn).
local M = {}
local extern_dbgcmd = {}

function M.reg_debugcmd(name, fn)
  extern_dbgcmd[name] = fn
end

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

  function dbgcmd.UNIQTASK()
    skynet.ret(skynet.pack(skynet.uniqtask()))
  end

  function dbgcmd.KILLTASK(threadname)
    local co = skynet.killthread(threadname)
    if co then
      skynet.error(string.format("Kill %s", co))
      skynet.ret()
    else
      skynet.error(string.format("Kill %s : Not found", threadname))
      skynet.ret(skynet.pack("Not found"))
    end
  end

  -- Every call waiting on `service` fails (skynet.term); no answer.
  function dbgcmd.TERM(service)
    skynet.term(service)
  end

  function dbgcmd.SUPPORT(pname)
    skynet.ret(skynet.pack(skynet.dispatch(pname) ~= nil))
  end

  -- Never answered while this service lives: the caller's call fails when
  -- it exits (a way to watch a service).
  function dbgcmd.LINK()
    skynet.response()
  end

  function dbgcmd.TRACELOG(proto, flag)
    if type(proto) ~= "string" then
      flag = proto
      proto = "lua"
    end
    skynet.error(string.format("Turn trace log %s for %s", tostring(flag), proto))
    skynet.traceproto(proto, flag)
    skynet.ret()
  end

  function dbgcmd.RUN(...)
    -- The hotfix entry point lives in its own module so services that are
    -- never patched do not pay for it.
    local inject = require "skylet.inject"
    skynet.ret(skynet.pack(inject.run(skynet, export, ...)))
  end

  local function dispatch(session, source, cmd, ...)
    local f = dbgcmd[cmd] or extern_dbgcmd[cmd]
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
