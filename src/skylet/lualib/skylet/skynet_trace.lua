-- skynet's message tracing (skynet.trace and friends), loaded on first use.
-- A traced coroutine logs "<TRACE tag> ns what : where" lines at each step
-- (call, request, sleep, resume, response, error, end); a call made by a
-- traced coroutine first sends the callee a PTYPE_TRACE message with the tag,
-- so the callee's handler of that request is traced with the same tag.
-- skynet.lua's hot paths test one upvalue (`trace`, these hooks once
-- inner.enable_trace turned tracing on).
return function(skynet, inner)
  local command = inner.command
  local core_send = inner.send
  local getinfo = debug.getinfo
  local format, concat = string.format, table.concat
  -- the skynet thread running now (a handler's nested coroutines are part of it)
  local coroutine_running = inner.running_thread
  local PTYPE_TRACE = skynet.PTYPE_TRACE

  local tracetag = {} -- coroutine -> tag (false: tracing forced off)
  local trace_source = {} -- source -> tag for its next request

  -- skynet.tracelog(tag, what [, co] [, level]): one trace line, with up to
  -- three source positions from `level` (in `co` or the caller) up.
  local function tracelog(tag, what, co, level)
    local head = format("<TRACE %s> %d %s", tostring(tag), command("HPC"), tostring(what))
    if co == nil then
      command("LOG", head)
      return
    end
    local thread
    if type(co) == "thread" then
      thread, level = co, level or 1
    else
      level = co
    end
    local where = {}
    while #where < 3 do
      local info
      if thread then
        info = getinfo(thread, level, "Sl")
      else
        info = getinfo(level + 1, "Sl")
      end
      if info == nil then break end
      level = level + 1
      if info.currentline >= 0 then
        where[#where + 1] = format("%s:%d", info.source, info.currentline)
      end
    end
    if #where > 0 then
      head = head .. " : " .. concat(where, " ")
    end
    command("LOG", head)
  end
  skynet.tracelog = tracelog

  local traceid = 0
  local function trace_start(co, info)
    local old = tracetag[co]
    skynet.error("TRACE", old)
    if old == false then
      return -- tracing forced off for this request
    end
    traceid = traceid + 1
    local tag = format(":%08x-%d", skynet.self(), traceid)
    tracetag[co] = tag
    tracelog(tag, info and ("trace " .. info) or "trace")
  end

  -- What skynet.lua calls at each step while tracing is on.
  local hooks = {}
  inner.trace_hooks = hooks

  function hooks.step(co, what, level)
    local tag = tracetag[co]
    if tag then
      tracelog(tag, what, level and level + 1)
    end
  end

  function hooks.done(co)
    local tag = tracetag[co]
    if tag ~= nil then
      if tag then tracelog(tag, "end") end
      tracetag[co] = nil
    end
  end

  function hooks.error(co, session)
    local tag = tracetag[co]
    if tag and session and session ~= 0 then tracelog(tag, "error") end
    tracetag[co] = nil
  end

  function hooks.forget(co)
    tracetag[co] = nil
  end

  -- A call from a traced coroutine tells the callee to trace the request.
  function hooks.call(addr, level)
    local tag = tracetag[coroutine_running()]
    if tag then
      tracelog(tag, "call", level + 1)
      core_send(addr, PTYPE_TRACE, 0, tag)
    end
  end

  -- A PTYPE_TRACE message: trace the sender's next request with its tag.
  function hooks.source(source, tag)
    trace_source[source] = tag
  end

  -- A request arrives: traced if its sender asked, or its protocol says so.
  function hooks.request(co, p, source)
    local flag = p.trace
    if flag == false then
      trace_source[source] = nil
      tracetag[co] = false
      return
    end
    local tag = trace_source[source]
    if tag then
      trace_source[source] = nil
      tracelog(tag, "request")
      tracetag[co] = tag
    elseif flag then
      trace_start(co)
    end
  end

  -- skynet.trace([info]): trace the running coroutine from here on.
  function skynet.trace(info)
    inner.enable_trace()
    trace_start(coroutine_running(), info)
  end

  function skynet.tracetag()
    return tracetag[coroutine_running()]
  end

  -- skynet.traceproto(proto, flag): true traces every request of that
  -- protocol, false never, nil only those skynet.trace asks for.
  function skynet.traceproto(prototype, flag)
    local p = assert(inner.proto[prototype], "unknown protocol")
    p.trace = flag
    if flag then
      inner.enable_trace()
    end
  end

  -- skynet.tracecall(tag, addr, proto, msg, sz): a raw call traced by `tag`.
  function skynet.tracecall(tag, addr, typename, msg, sz)
    inner.check_callable()
    tracelog(tag, "tracecall begin")
    core_send(addr, PTYPE_TRACE, 0, tag)
    local p = inner.proto[typename]
    local session = inner.gen_session()
    if not core_send(addr, p.id, session, msg) then
      error("call to invalid address " .. skynet.address(addr), 2)
    end
    local ret = inner.yield_call(addr, session)
    tracelog(tag, "tracecall end")
    return ret, ret and #ret or 0
  end
end
