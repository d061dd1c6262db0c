-- skylet's implementation of skynet's service API (lualib/skynet.lua in
-- skynet). Each message arrives through dispatch_message, called by the node
-- once per message; every request runs in a coroutine of its own, taken from
-- a pool, so a handler can block on skynet.call/sleep/wait without blocking
-- the service.
local core = require "skylet.core"
local mp = package.loaded["skylet.cmsgpack"] or require "skylet.msgpack"

local core_send = core.send
local command = core.command
local self_handle = core.handle

local coroutine_create = coroutine.create
local coroutine_resume = coroutine.resume
local coroutine_yield = coroutine.yield
local coroutine_running = coroutine.running
local coroutine_status = coroutine.status
local traceback = debug.traceback
local tostring, tonumber, type, select, pairs, error, assert, xpcall, pcall =
  tostring, tonumber, type, select, pairs, error, assert, xpcall, pcall
local format = string.format
local table_unpack = table.unpack

local skynet = {
  PTYPE_TEXT = 0,
  PTYPE_RESPONSE = 1,
  PTYPE_MULTICAST = 2,
  PTYPE_CLIENT = 3,
  PTYPE_SYSTEM = 4,
  PTYPE_HARBOR = 5,
  PTYPE_SOCKET = 6,
  PTYPE_ERROR = 7,
  PTYPE_QUEUE = 8,
  PTYPE_DEBUG = 9,
  PTYPE_LUA = 10,
  PTYPE_SNAX = 11,
  PTYPE_TRACE = 12,
}
local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR

-- What the modules that extend skynet.lua need of its internals: the rarer
-- API (skylet.skynet_extra), the debug protocol, inject. Set at the end.
local inner

-- Every module a VM loads costs it launch time and memory, so what most
-- services never touch loads on first use: skynet.cache (skynet.codecache),
-- and the rarer API (skynet.response, skynet.now, skynet.task, ...: about a
-- fifth of skynet.lua) with the first read of a field skynet lacks.
local extra_loaded = false
setmetatable(skynet, { __index = function(t, k)
  if k == "cache" then
    local cache = require "skynet.codecache"
    t.cache = cache
    return cache
  end
  if not extra_loaded then
    require "skylet.skynet_extra"(skynet, inner)
    extra_loaded = true -- only now: a load that failed (out of memory) is retried
    local v = rawget(t, k)
    if v ~= nil then
      return v
    end
  end
  -- Rarer still: the coroutine API and tracing (skylet.skynet_extra says where).
  return inner.lazy(k)
end })

local proto = {}

-- session -> coroutine waiting for that response (or "BREAK": answer ignored)
local session_id_coroutine = {}
-- coroutine -> session of the request it must answer (0: a send, no answer)
local session_coroutine_id = {}
-- coroutine -> address the request came from
local session_coroutine_address = {}
-- deferred responses not yet used: response function -> address
local unresponse = {}
-- token -> session, for skynet.sleep/wait with a token skynet.wakeup can break
local sleep_session = {}
local wakeup_queue, wakeup_head, wakeup_tail = {}, 1, 0
local fork_queue, fork_head, fork_tail = {}, 1, 0
-- session -> address called, for calls waiting for an answer (skynet.term
-- fails the ones made to an address)
local watching_session = {}
-- sessions to fail at the next chance (skynet.term)
local error_queue = {}
-- skylet.skynet_trace's hooks once something turned tracing on; until then
-- tracing costs one test of this upvalue at each step.
local trace = false

local session_counter = 0
local function gen_session()
  session_counter = session_counter + 1
  if session_counter > 0x7fffffff then
    session_counter = 1
  end
  return session_counter
end
skynet.genid = gen_session

local function log(msg)
  command("LOG", msg)
end

-- The skynet thread (the coroutine skynet.lua resumed) that runs now. A
-- handler may run nested coroutines (skynet.coroutine); a wait inside one is
-- still the skynet thread's wait, and skynet.ret answers its request.
local running_thread

local function resume_thread(co, ...)
  running_thread = co
  return coroutine_resume(co, ...)
end

----- coroutines -----

local coroutine_pool = setmetatable({}, { __mode = "kv" })

local function request_done(co)
  -- A request handler returned; if it neither answered nor handed the answer
  -- on (skynet.response / ignoreret), its caller would wait forever.
  local session = session_coroutine_id[co]
  if session and session ~= 0 then
    local source = session_coroutine_address[co]
    log(format("%s returned without answering session %d from %s (forgot skynet.ret?)",
      skynet.address(self_handle), session, skynet.address(source)))
    core_send(source, PTYPE_ERROR, session,
      format("%s did not answer (handler returned without skynet.ret)", skynet.address(self_handle)))
  end
  session_coroutine_id[co] = nil
  session_coroutine_address[co] = nil
  if trace then
    trace.done(co)
  end
end

local function co_create(f)
  local co = table.remove(coroutine_pool)
  if co == nil then
    co = coroutine_create(function(...)
      f(...)
      while true do
        request_done(co)
        f = nil
        coroutine_pool[#coroutine_pool + 1] = co
        -- Parked until reused: the first resume brings the next function,
        -- the second its arguments.
        f = coroutine_yield "SUSPEND"
        f(coroutine_yield())
      end
    end)
  else
    local ok, err = coroutine_resume(co, f)
    assert(ok, err)
  end
  return co
end

local suspend

local function dispatch_wakeup()
  while wakeup_head <= wakeup_tail do
    local token = wakeup_queue[wakeup_head]
    wakeup_queue[wakeup_head] = nil
    wakeup_head = wakeup_head + 1
    local session = sleep_session[token]
    if session then
      local co = session_id_coroutine[session]
      session_id_coroutine[session] = "BREAK"
      sleep_session[token] = nil
      if trace then
        trace.step(co, "resume")
      end
      suspend(co, resume_thread(co, false, "BREAK", session))
    end
  end
  if error_queue[1] then
    inner.fail_termed() -- the calls skynet.term gave up on (skylet.skynet_threads)
  end
end

-- Handles what a coroutine did when it gave control back.
function suspend(co, ok, what)
  if not ok then
    running_thread = nil -- a dead coroutine's stack may hold much: let it go
    -- The coroutine died with an error: answer its caller, log the traceback.
    local session = session_coroutine_id[co]
    local source = session_coroutine_address[co]
    session_coroutine_id[co] = nil
    session_coroutine_address[co] = nil
    if trace then
      trace.error(co, session)
    end
    local msg = tostring(what)
    local tb = traceback(co, msg)
    -- Its to-be-closed variables close now (their __close sees the error).
    coroutine.close(co)
    -- Log before answering: the caller may act on the error at once.
    log(tb)
    if session and session ~= 0 and source then
      core_send(source, PTYPE_ERROR, session, msg)
    end
    return
  end
  if what == "QUIT" then
    -- skynet.exit: the exiting coroutine's to-be-closed variables close
    -- while the service can still log, then the node retires it.
    coroutine.close(co)
    command("EXIT")
    return "QUIT"
  end
  -- "SUSPEND": waiting for a response, a timer or a wakeup.
end

----- protocols -----

function skynet.register_protocol(class)
  local name, id = class.name, class.id
  assert(type(name) == "string" and math.type(id) == "integer" and id >= 0 and id <= 255,
    "register_protocol needs a name and an id in 0..255")
  assert(proto[name] == nil and proto[id] == nil, "protocol " .. name .. " is already registered")
  proto[name] = class
  proto[id] = class
end

function skynet.dispatch(typename, func)
  local p = proto[typename]
  if p == nil then
    if func == nil then
      return nil
    end
    error("unknown protocol " .. tostring(typename), 2)
  end
  if func then
    local old = p.dispatch
    p.dispatch = func
    return old
  end
  return p.dispatch
end

-- What handles a message nobody dispatches (a request of a protocol without
-- dispatch, a response nobody waits for): skylet.skynet_extra's defaults, or
-- what skynet.dispatch_unknown_request/response set there. Rare, so loaded
-- with skynet_extra when the first such message arrives.
local function unknown(which)
  local f = inner[which]
  if f == nil then
    local _ = skynet.dispatch_unknown_request -- loads skylet.skynet_extra
    f = inner[which]
  end
  return f
end

----- dispatch -----

local function raw_dispatch_message(ptype, session, source, msg)
  if ptype == PTYPE_RESPONSE or ptype == PTYPE_ERROR then
    local co = session_id_coroutine[session]
    if co == "BREAK" then
      session_id_coroutine[session] = nil
    elseif co == nil then
      if ptype == PTYPE_RESPONSE then
        unknown("unknown_response")(session, source, msg)
      end
    else
      session_id_coroutine[session] = nil
      if trace and ptype == PTYPE_RESPONSE then -- skynet traces no resume by an error
        trace.step(co, "resume")
      end
      return suspend(co, resume_thread(co, ptype == PTYPE_RESPONSE, msg, session))
    end
    return
  end
  local p = proto[ptype]
  local f = p and p.dispatch
  if ptype == 12 and p == nil then -- PTYPE_TRACE: trace the sender's next request
    inner.enable_trace().source(source, msg)
    return
  end
  if f == nil then
    if session ~= 0 then
      local ok, err = pcall(unknown("unknown_request"), session, source, msg, ptype)
      core_send(source, PTYPE_ERROR, session, ok and "" or tostring(err))
    else
      pcall(unknown("unknown_request"), session, source, msg, ptype)
    end
    return
  end
  local co = co_create(f)
  session_coroutine_id[co] = session
  session_coroutine_address[co] = source
  if trace then
    trace.request(co, p, source)
  end
  local unpack = p.unpack
  if unpack then
    return suspend(co, resume_thread(co, session, source, unpack(msg)))
  end
  return suspend(co, resume_thread(co, session, source, msg))
end

local function run_forks()
  while fork_head <= fork_tail do
    local co = fork_queue[fork_head]
    fork_queue[fork_head] = nil
    fork_head = fork_head + 1
    if suspend(co, resume_thread(co)) == "QUIT" then
      return "QUIT"
    end
    dispatch_wakeup()
  end
end

-- The node calls this once per message.
function skynet.dispatch_message(ptype, session, source, msg)
  local ok, err = xpcall(raw_dispatch_message, traceback, ptype, session, source, msg)
  if not ok then
    -- The message could not even reach a handler (e.g. it did not unpack):
    -- the sender of a request still deserves an answer.
    log(tostring(err))
    if session ~= 0 and ptype ~= PTYPE_RESPONSE and ptype ~= PTYPE_ERROR then
      core_send(source, PTYPE_ERROR, session, tostring(err):match("^[^\n]*"))
    end
  elseif err == "QUIT" then
    return
  end
  dispatch_wakeup()
  run_forks()
end

----- sending -----

-- core_send answers true (queued), nil (no such address) or false and why
-- (the payload is not a string, number or nil; a bad address or type).
function skynet.send(addr, typename, ...)
  local p = proto[typename]
  local ok, err = core_send(addr, p.id, 0, p.pack(...))
  if ok == false then
    error(err, 2)
  end
  return ok
end

local function yield_call(addr, session)
  session_id_coroutine[session] = running_thread
  watching_session[session] = addr
  local ok, msg = coroutine_yield "SUSPEND"
  watching_session[session] = nil
  if not ok then
    if msg == nil or msg == "" then
      msg = "call failed"
    end
    error(format("call to %s failed: %s", skynet.address(addr), msg), 3)
  end
  return msg
end

local function check_callable()
  local _, main = coroutine_running()
  if main then
    error("skynet.call can only be used in a service coroutine (inside skynet.start or a handler)", 3)
  end
end

function skynet.call(addr, typename, ...)
  check_callable()
  local p = proto[typename]
  if p == nil then
    error("unknown protocol " .. tostring(typename), 2)
  end
  if trace then
    trace.call(addr, 2)
  end
  local session = gen_session()
  local ok, err = core_send(addr, p.id, session, p.pack(...))
  if not ok then
    error(err or ("call to invalid address " .. skynet.address(addr)), 2)
  end
  return p.unpack(yield_call(addr, session))
end

----- replying -----

function skynet.ret(msg, sz)
  local co = running_thread
  local session = session_coroutine_id[co]
  if session == nil then
    error("No session", 2)
  end
  if trace then
    trace.step(co, "response")
  end
  if session == 0 then
    session_coroutine_id[co] = nil
    return false -- the sender did not ask for an answer
  end
  local ok, err = core_send(session_coroutine_address[co], PTYPE_RESPONSE, session, msg)
  if ok == false then
    -- Still this coroutine's to answer: the handler's error reaches the caller.
    error(err, 2)
  end
  session_coroutine_id[co] = nil
  return ok ~= nil
end

function skynet.retpack(...)
  return skynet.ret(skynet.pack(...))
end

----- time and threads -----

function skynet.timeout(ti, func)
  local session = gen_session()
  command("TIMEOUT", ti, session)
  local co = co_create(func)
  session_id_coroutine[session] = co
  return co
end

local function suspend_sleep(session, token)
  local co = running_thread
  if trace then
    trace.step(co, "sleep", 2)
  end
  session_id_coroutine[session] = co
  sleep_session[token] = session
  return coroutine_yield "SUSPEND"
end

function skynet.sleep(ti, token)
  local session = gen_session()
  command("TIMEOUT", ti, session)
  token = token or coroutine_running()
  local ok, ret = suspend_sleep(session, token)
  sleep_session[token] = nil
  if ok then
    return
  end
  if ret == "BREAK" then
    return "BREAK"
  end
  error(ret)
end

function skynet.yield()
  return skynet.sleep(0)
end

function skynet.wait(token)
  local session = gen_session()
  token = token or coroutine_running()
  suspend_sleep(session, token)
  sleep_session[token] = nil
  session_id_coroutine[session] = nil
end

function skynet.wakeup(token)
  if sleep_session[token] then
    wakeup_tail = wakeup_tail + 1
    wakeup_queue[wakeup_tail] = token
    return true
  end
end

function skynet.fork(func, ...)
  local n = select("#", ...)
  local co
  if n == 0 then
    co = co_create(func)
  else
    local args = { ... }
    co = co_create(function() func(table_unpack(args, 1, n)) end)
  end
  fork_tail = fork_tail + 1
  fork_queue[fork_tail] = co
  return co
end

----- service identity and environment -----

function skynet.self()
  return self_handle
end

function skynet.address(addr)
  if type(addr) == "number" then
    return format(":%08x", addr)
  end
  return tostring(addr)
end

-- Here, not with the rarer API: a service that limits its memory should not
-- spend it on loading that (skynet's testmemlimit fills 1 MB to the brim).
function skynet.memlimit(bytes)
  command("MEMLIMIT", bytes)
end

function skynet.getenv(key)
  return command("GETENV", key)
end

function skynet.error(...)
  local n = select("#", ...)
  local parts = { ... }
  for i = 1, n do
    parts[i] = tostring(parts[i])
  end
  log(table.concat(parts, " ", 1, n))
end

----- packing -----

skynet.pack = mp.pack
skynet.packstring = mp.pack
skynet.unpack = mp.unpack

----- lifecycle -----

local init_funcs = {}

function skynet.init(f, name)
  assert(type(f) == "function")
  local _, main = coroutine_running()
  if main then
    init_funcs[#init_funcs + 1] = f -- run before the start function
  else
    require "skynet.require".init(f) -- run once the module being required is loaded
  end
end

local function send_dead_errors(reason)
  for co, session in pairs(session_coroutine_id) do
    local address = session_coroutine_address[co]
    if session ~= 0 and address then
      core_send(address, PTYPE_ERROR, session, reason)
    end
  end
  for response, address in pairs(unresponse) do
    unresponse[response] = nil
    response(false, reason)
  end
end

function skynet.exit()
  command("EXIT", "check") -- raises for a service the node cannot run without
  -- No forked coroutine runs after skynet.exit.
  fork_queue, fork_head, fork_tail = {}, 1, 0
  -- Tell the launcher first, while this service can still send.
  skynet.send(".launcher", "lua", "REMOVE", self_handle, false)
  send_dead_errors(format("service %s exited", skynet.address(self_handle)))
  -- Coroutines still waiting close, so their to-be-closed variables run.
  for _, co in pairs(session_id_coroutine) do
    if type(co) == "thread" and co ~= running_thread and coroutine_status(co) == "suspended" then
      coroutine.close(co)
    end
  end
  coroutine_yield "QUIT" -- suspend closes this coroutine, then exits

end

-- Defined here, not where it is used: a start that failed out of memory
-- may leave no room even for making a closure.
local function report_start_failure(err)
  log("init service failed: " .. tostring(err))
  skynet.send(".launcher", "lua", "ERROR", tostring(err):match("^[^\n]*"))
end

function skynet.init_service(start)
  local ok, err = xpcall(function()
    for i = 1, #init_funcs do
      init_funcs[i]()
    end
    init_funcs = {}
    start()
  end, traceback)
  if not ok then
    -- The failed start's garbage (a memory bomb's, say) goes first, so that
    -- the report can be written; if even that fails, the node reports it.
    collectgarbage()
    if not pcall(report_start_failure, err) then
      core.exit_failed() -- the node retires it and tells the launcher
      return
    end
    skynet.exit()
  else
    skynet.send(".launcher", "lua", "LAUNCHOK")
  end
end

function skynet.start(start_func)
  command("CALLBACK", skynet.dispatch_message)
  skynet.timeout(0, function()
    skynet.init_service(start_func)
  end)
end

function skynet.newservice(name, ...)
  return skynet.call(".launcher", "lua", "LAUNCH", "snlua", name, ...)
end

----- built-in protocols -----

do
  local function identity(msg) return msg end

  skynet.register_protocol {
    name = "lua",
    id = skynet.PTYPE_LUA,
    pack = mp.pack,
    unpack = mp.unpack,
  }

  skynet.register_protocol {
    name = "response",
    id = skynet.PTYPE_RESPONSE,
  }

  skynet.register_protocol {
    name = "error",
    id = skynet.PTYPE_ERROR,
    unpack = identity,
  }

  skynet.register_protocol {
    name = "text",
    id = skynet.PTYPE_TEXT,
    pack = function(...)
      local n = select("#", ...)
      if n == 0 then
        return ""
      elseif n == 1 then
        return tostring(...)
      end
      return table.concat({ ... }, " ")
    end,
    unpack = identity,
  }
end

inner = {
  dispatch = skynet.dispatch_message,
  suspend = suspend,
  resume = coroutine_resume,
  proto = proto, -- for inject's _P: every protocol's dispatch function
  send = core_send,
  command = command,
  gen_session = gen_session,
  yield_call = yield_call,
  check_callable = check_callable,
  session_id_coroutine = session_id_coroutine,
  session_coroutine_id = session_coroutine_id,
  session_coroutine_address = session_coroutine_address,
  unresponse = unresponse,
  sleep_session = sleep_session,
  watching_session = watching_session,
  error_queue = error_queue,
  resume_thread = resume_thread,
  fork_queue = function() return fork_queue, fork_head, fork_tail end,
  set_fork_tail = function(t) fork_tail = t end,
  -- Turns tracing on: skylet.skynet_trace's hooks (which it returns).
  enable_trace = function()
    if not trace then
      if not package.loaded["skylet.skynet_trace"] then
        require "skylet.skynet_trace"(skynet, inner)
      end
      trace = inner.trace_hooks
    end
    return trace
  end,
  trace = function() return trace end,
  running_thread = function() return running_thread end,
  -- skynet.profile times the skynet threads: it swaps the resume they use.
  set_resume = function(f) coroutine_resume = f end,
}
-- For skylet's libraries that extend skynet.lua (skynet.profile, ...).
package.loaded["skylet.inner"] = inner

-- The debug protocol's handlers (skynet.debug) load with the first debug
-- message: most services never get one, and each module a VM loads costs
-- it memory (~11 KB here) and launch time.
skynet.register_protocol {
  name = "debug",
  id = skynet.PTYPE_DEBUG,
  pack = mp.pack,
  unpack = mp.unpack,
  dispatch = function(...)
    proto.debug, proto[skynet.PTYPE_DEBUG] = nil, nil
    require "skynet.debug" .init(skynet, inner)
    return proto[skynet.PTYPE_DEBUG].dispatch(...)
  end,
}

return skynet
