-- skynet's API over the service's coroutines, loaded with the rarer API:
-- skynet.request/select, skynet.killthread, skynet.term, skynet.task,
-- skynet.uniqtask, skynet.context, skynet.trace_timeout.
return function(skynet, inner)
  local command = inner.command
  local core_send = inner.send
  local proto = inner.proto
  local session_id_coroutine = inner.session_id_coroutine
  local session_coroutine_id = inner.session_coroutine_id
  local session_coroutine_address = inner.session_coroutine_address
  local watching_session = inner.watching_session
  local sleep_session = inner.sleep_session
  local traceback = debug.traceback
  local coroutine_yield = coroutine.yield
  -- the skynet thread running now (a handler's nested coroutines are part of it)
  local coroutine_running = inner.running_thread
  local type, tostring, pairs, next, pcall = type, tostring, pairs, next, pcall
  local format, concat = string.format, table.concat
  local tpack, tunpack = table.pack, table.unpack
  local PTYPE_ERROR = skynet.PTYPE_ERROR

  ----- skynet.request: several calls at once, answers as they come -----

  -- One coroutine per select receives every answer (and the timeout) and
  -- wakes the iterating coroutine.
  local function request_thread(self)
    while true do
      local ok, msg, session = coroutine_yield "SUSPEND"
      if session == self._timeout then
        self._timeout = nil
        self.timeout = true
      else
        watching_session[session] = nil
        local req = self._sessions[session]
        if req then
          local unpacked = ok and tpack(pcall(proto[req[2]].unpack, msg))
          if unpacked and unpacked[1] then
            self._resp[session] = tpack(tunpack(unpacked, 2, unpacked.n))
          else
            self._resp[session] = false
          end
        end
      end
      skynet.wakeup(self)
    end
  end

  local function send_requests(self)
    local sessions, failed, n = {}, nil, 0
    self._sessions = sessions
    for i = 1, #self do
      local req = self[i]
      local addr, p = req[1], proto[req[2]]
      assert(p and p.unpack, "request needs a protocol that unpacks")
      local trace = inner.trace()
      if trace then
        trace.call(addr, 4)
      end
      local session = inner.gen_session()
      if core_send(addr, p.id, session, p.pack(tunpack(req, 3, req.n))) then
        sessions[session] = req
        watching_session[session] = addr
        session_id_coroutine[session] = self._thread
        n = n + 1
      else
        failed = failed or {}
        failed[#failed + 1] = req
      end
    end
    self._request = n
    return failed
  end

  local function request_iter(self)
    return function()
      if self._error then
        -- requests to an invalid address come first, with no answer
        local req = table.remove(self._error)
        if req then
          return req
        end
        self._error = nil
      end
      local session, resp = next(self._resp)
      if session == nil then
        if self._request == 0 or self.timeout then
          return
        end
        skynet.wait(self)
        if self.timeout then
          return
        end
        session, resp = next(self._resp)
      end
      self._request = self._request - 1
      local req = self._sessions[session]
      self._resp[session] = nil
      self._sessions[session] = nil
      return req, resp
    end
  end

  local request_meta = {}
  request_meta.__index = request_meta

  function request_meta:add(obj)
    assert(type(obj) == "table" and not self._thread, "add a request table before select")
    obj.n = obj.n or #obj
    self[#self + 1] = obj
    return self
  end
  request_meta.__call = request_meta.add

  -- Answers that have not come are ignored when they do.
  function request_meta:close()
    if self._request and self._request > 0 then
      local resp = self._resp
      for session in pairs(self._sessions) do
        if not resp[session] then
          session_id_coroutine[session] = "BREAK"
          watching_session[session] = nil
        end
      end
      self._request = 0
    end
    if self._timeout then
      session_id_coroutine[self._timeout] = "BREAK"
      self._timeout = nil
    end
  end
  request_meta.__close = request_meta.close

  -- for req, resp in reqs:select([timeout]) do ... end: resp is the packed
  -- answer, or false if the call failed (nil for an invalid address).
  function request_meta:select(timeout)
    assert(self._thread == nil, "select runs once")
    inner.check_callable()
    self._thread = coroutine.create(request_thread)
    self._error = send_requests(self)
    self._resp = {}
    if timeout then
      local session = inner.gen_session()
      command("TIMEOUT", timeout, session)
      self._timeout = session
      session_id_coroutine[session] = self._thread
    end
    assert(coroutine.resume(self._thread, self))
    return request_iter(self), nil, nil, self
  end

  function skynet.request(obj)
    local ret = setmetatable({}, request_meta)
    if obj then
      return ret(obj)
    end
    return ret
  end

  ----- coroutines -----

  local timeout_traceback -- coroutine -> where its timer was set (trace_timeout)

  -- skynet.trace_timeout(true): skynet.task shows where each timer was set.
  local plain_timeout = skynet.timeout
  function skynet.trace_timeout(on)
    if not on then
      timeout_traceback = nil
      skynet.timeout = plain_timeout
      return
    end
    timeout_traceback = timeout_traceback or setmetatable({}, { __mode = "k" })
    skynet.timeout = function(ti, func)
      local info = format("TIMER %d+%d : ", skynet.now(), ti)
      local where = traceback(info, 2)
      local co
      co = plain_timeout(ti, function()
        timeout_traceback[co] = nil
        func()
      end)
      timeout_traceback[co] = where
      return co
    end
  end

  local function task_traceback(co)
    if co == "BREAK" then
      return co
    elseif timeout_traceback and timeout_traceback[co] then
      return timeout_traceback[co]
    end
    return traceback(co)
  end

  function skynet.task(ret)
    if ret == nil then
      local n = 0
      for _, co in pairs(session_id_coroutine) do
        if co ~= "BREAK" then
          n = n + 1
        end
      end
      return n
    end
    if ret == "init" then
      return nil
    end
    local tt = type(ret)
    if tt == "table" then
      for session, co in pairs(session_id_coroutine) do
        ret[format("%s session: %d", tostring(co), session)] = task_traceback(co)
      end
      return
    elseif tt == "number" then
      local co = session_id_coroutine[ret]
      if co then
        return task_traceback(co)
      end
      return "No session"
    elseif tt == "thread" then
      for session, co in pairs(session_id_coroutine) do
        if co == ret then
          return session
        end
      end
    end
  end

  -- Waiting coroutines grouped by identical stack: "N\tsessions:[...]\n" -> stack.
  function skynet.uniqtask()
    local stacks = {}
    for session, co in pairs(session_id_coroutine) do
      local stack = task_traceback(co)
      local info = stacks[stack] or { count = 0, sessions = {} }
      info.count = info.count + 1
      if info.count < 10 then
        info.sessions[#info.sessions + 1] = session
      end
      stacks[stack] = info
    end
    local ret = {}
    for stack, info in pairs(stacks) do
      local sessions = concat(info.sessions, ",")
      if info.count > 10 then
        sessions = sessions .. "..."
      end
      ret[format("%d\tsessions:[%s]\n", info.count, sessions)] = stack
    end
    return ret
  end

  -- skynet.killthread(co or text): a forked coroutine not yet run is dropped;
  -- a waiting one (found by coroutine, or by text in its tostring) is closed
  -- and its caller, if it was serving a request, gets an error.
  function skynet.killthread(thread)
    local session
    if type(thread) == "string" then
      for k, v in pairs(session_id_coroutine) do
        if tostring(v):find(thread, 1, true) then
          session = k
          break
        end
      end
    else
      local queue, head, tail = inner.fork_queue()
      for i = head, tail do
        if queue[i] == thread then
          table.move(queue, i + 1, tail, i)
          queue[tail] = nil
          inner.set_fork_tail(tail - 1)
          return thread
        end
      end
      for k, v in pairs(session_id_coroutine) do
        if v == thread then
          session = k
          break
        end
      end
    end
    local co = session and session_id_coroutine[session]
    if type(co) ~= "thread" then
      return
    end
    local addr = session_coroutine_address[co]
    if addr then
      local caller_session = session_coroutine_id[co]
      session_coroutine_address[co] = nil
      session_coroutine_id[co] = nil
      local trace = inner.trace()
      if trace then
        trace.forget(co)
      end
      if caller_session and caller_session > 0 then
        core_send(addr, PTYPE_ERROR, caller_session, "killed (skynet.killthread)")
      end
    end
    if watching_session[session] then
      session_id_coroutine[session] = "BREAK"
      watching_session[session] = nil
    else
      session_id_coroutine[session] = nil
    end
    for k, v in pairs(sleep_session) do
      if v == session then
        sleep_session[k] = nil
        break
      end
    end
    coroutine.close(co)
    return co
  end

  -- skynet.term(address): every call waiting on `address` fails now, as if
  -- it had gone down (a call to a global name nobody registered waits).
  function skynet.term(service)
    local queue = inner.error_queue
    for session, srv in pairs(watching_session) do
      if srv == service then
        queue[#queue + 1] = session
      end
    end
  end

  -- Calls skynet.term gave up on fail now, one by one, as skynet does
  -- (skynet.lua calls this once its wakeups are done).
  function inner.fail_termed()
    local queue = inner.error_queue
    local session = table.remove(queue, 1)
    while session do
      local co = session_id_coroutine[session]
      session_id_coroutine[session] = nil
      watching_session[session] = nil
      if type(co) == "thread" then
        inner.suspend(co, inner.resume_thread(co, false, "call terminated (skynet.term)", session))
      end
      session = table.remove(queue, 1)
    end
  end

  -- The session and source of the request the running coroutine serves.
  function skynet.context()
    local co = coroutine_running()
    return session_coroutine_id[co], session_coroutine_address[co]
  end

  function skynet.endless()
    return command("STAT", "endless") == 1
  end

  -- deprecated in skynet: pcall works across skynet.call
  skynet.pcall = pcall
end
