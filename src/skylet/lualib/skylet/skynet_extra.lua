-- The parts of skynet's service API that most services never call. skynet.lua
-- loads this file the first time a service reads a field it lacks: every
-- module a VM loads costs it launch time and memory, and these functions were
-- about a fifth of what loading skynet.lua cost. `inner` is skynet.lua's
-- internals table (its session maps, core send, ...). Defining them again
-- (a retried load) is harmless.
-- Rarer still, loaded with the first read of one of their fields: the
-- coroutine API and tracing.
local THREADS_API = " request trace_timeout task uniqtask killthread term context endless pcall "
local TRACE_API = " trace tracetag traceproto tracecall tracelog "

return function(skynet, inner)
  function inner.lazy(k)
    local word = type(k) == "string" and " " .. k .. " "
    local module = word and (THREADS_API:find(word, 1, true) and "skylet.skynet_threads"
      or TRACE_API:find(word, 1, true) and "skylet.skynet_trace")
    if module and not package.loaded[module] then
      require(module)(skynet, inner)
      return rawget(skynet, k)
    end
  end

  local command = inner.command
  local core_send = inner.send
  local proto = inner.proto
  local traceback = debug.traceback
  local type, tostring, error = type, tostring, error
  local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR

  ----- messages nobody dispatches -----

  local format = string.format

  local function log(msg)
    command("LOG", msg)
  end

  -- skynet.lua calls inner.unknown_request/unknown_response (loading this
  -- file first); a retried load keeps what the service set.
  inner.unknown_request = inner.unknown_request or function(session, source, msg, prototype)
    log(format("Unknown request (%s): %d bytes from %s", tostring(prototype), msg and #msg or 0,
      skynet.address(source)))
    error(format("%s has no dispatch for protocol %s", skynet.address(skynet.self()),
      tostring(prototype)), 0)
  end

  function skynet.dispatch_unknown_request(f)
    local old = inner.unknown_request
    inner.unknown_request = f
    return old
  end

  inner.unknown_response = inner.unknown_response or function(session, source, msg)
    log(format("Response for unknown session %d from %s", session, skynet.address(source)))
  end

  function skynet.dispatch_unknown_response(f)
    local old = inner.unknown_response
    inner.unknown_response = f
    return old
  end

  ----- sending without packing -----

  function skynet.rawsend(addr, typename, msg, sz)
    local p = proto[typename]
    local ok, err = core_send(addr, p.id, 0, msg)
    if ok == false then
      error(err, 2)
    end
    return ok
  end

  function skynet.redirect(dest, source, typename, session, msg, sz)
    local id = proto[typename] and proto[typename].id or typename
    return command("REDIRECT", dest, source, id, session, msg)
  end

  function skynet.rawcall(addr, typename, msg, sz)
    inner.check_callable()
    local trace = inner.trace()
    if trace then -- as skynet.call: a traced caller tells the callee (a clusterproxy's call)
      trace.call(addr, 2)
    end
    local p = proto[typename]
    local session = inner.gen_session()
    local ok, err = core_send(addr, p.id, session, msg)
    if not ok then
      error(err or ("call to invalid address " .. skynet.address(addr)), 2)
    end
    local ret = inner.yield_call(addr, session)
    return ret, ret and #ret or 0
  end

  function skynet.tostring(msg, sz)
    return msg
  end

  function skynet.trash() end

  ----- answering later -----

  function skynet.ignoreret()
    inner.session_coroutine_id[inner.running_thread()] = nil
  end

  function skynet.response(pack)
    pack = pack or skynet.pack
    local co = inner.running_thread()
    local session_coroutine_id = inner.session_coroutine_id
    local session = session_coroutine_id[co]
    if session == nil then
      error("No session", 2)
    end
    session_coroutine_id[co] = nil
    if session == 0 then
      return function() end
    end
    local address = inner.session_coroutine_address[co]
    local unresponse = inner.unresponse
    local used = false
    local function response(ok, ...)
      if ok == "TEST" then
        return not used
      end
      if used then
        error("can't response more than once", 2)
      end
      used = true
      unresponse[response] = nil
      if ok then
        local sent, err = core_send(address, PTYPE_RESPONSE, session, pack(...))
        if sent == false then
          -- Not sent: the caller still waits, and is answered with the error.
          core_send(address, PTYPE_ERROR, session, err)
          error(err, 2)
        end
        return sent ~= nil
      end
      return core_send(address, PTYPE_ERROR, session, tostring((...) or "")) ~= nil
    end
    unresponse[response] = address
    return response
  end

  ----- time -----

  function skynet.now()
    return command("NOW")
  end

  function skynet.starttime()
    return command("STARTTIME")
  end

  function skynet.time()
    return command("TIME")
  end

  function skynet.hpc()
    return command("HPC")
  end

  ----- the node and this service -----

  function skynet.harbor(addr)
    return addr >> 24, addr & 0xffffff
  end

  function skynet.localname(name)
    return command("QUERY", name)
  end

  function skynet.setenv(key, value)
    assert(command("GETENV", key) == nil, "Can't setenv exist key : " .. key)
    command("SETENV", key, tostring(value))
  end

  function skynet.mqlen()
    return command("STAT", "mqlen")
  end

  function skynet.stat(what)
    if what == "task" then
      return skynet.task()
    end
    return command("STAT", what)
  end

  function skynet.info_func(func)
    skynet.__info_func = func
  end

  ----- unique services -----

  function skynet.uniqueservice(global, ...)
    if global == true then
      return assert(skynet.call(".service", "lua", "GLAUNCH", ...))
    end
    return assert(skynet.call(".service", "lua", "LAUNCH", global, ...))
  end

  function skynet.queryservice(global, ...)
    if global == true then
      return assert(skynet.call(".service", "lua", "GQUERY", ...))
    end
    return assert(skynet.call(".service", "lua", "QUERY", global, ...))
  end
end
