-- skynet.coroutine: coroutines for use inside a service. A plain coroutine
-- that calls skynet.call or skynet.sleep would swallow skynet's own yield;
-- these pass skynet's yields ("SUSPEND" ...) through to the skynet thread that
-- resumed them, and come back when it is resumed, so user code only ever sees
-- its own yields (marked "USER").
local running = coroutine.running
local raw_create = coroutine.create
local raw_resume = coroutine.resume
local raw_yield = coroutine.yield
local raw_status = coroutine.status
local raw_close = coroutine.close
local select, error, setmetatable = select, error, setmetatable

local skynetco = {
  isyieldable = coroutine.isyieldable,
  running = coroutine.running,
}

-- coroutine -> true (ours, may be resumed by user code) or false (blocked:
-- suspended by skynet inside a wait, only skynet may resume it); nil when it
-- is not one of ours or it has finished.
local ours = setmetatable({}, { __mode = "kv" })
-- coroutine -> the skynet thread at the root of the resumes that reached it
local root_of = setmetatable({}, { __mode = "kv" })

function skynetco.create(f)
  local co = raw_create(f)
  ours[co] = true
  return co
end

local relay

-- The coroutine gave control back: a user yield, its end, an error, or a
-- yield of skynet's that must travel up to the skynet thread.
local function settle(co, ok, ...)
  if not ok then
    return false, ...
  end
  if raw_status(co) == "dead" then
    ours[co] = nil
    return true, ...
  end
  if (...) == "USER" then
    return true, select(2, ...)
  end
  return relay(co, ...)
end

local function unblock(co, ...)
  ours[co] = true
  return ...
end

function relay(co, ...)
  ours[co] = false
  -- Yield skynet's request upward, then hand what skynet resumed us with
  -- back down to the coroutine that asked.
  return settle(co, unblock(co, raw_resume(co, raw_yield(...))))
end

function skynetco.resume(co, ...)
  local mark = ours[co]
  if not mark then
    if mark == false then
      return false, "cannot resume a skynet coroutine suspend by skynet framework"
    end
    if raw_status(co) == "dead" then
      return raw_resume(co, ...) -- Lua's own "cannot resume dead coroutine"
    end
    return false, "cannot resume none skynet coroutine"
  end
  local from = running()
  root_of[co] = root_of[from] or from
  return settle(co, raw_resume(co, ...))
end

-- The skynet thread behind co (default: the running coroutine), and whether
-- co is itself a skynet thread.
function skynetco.thread(co)
  co = co or running()
  if ours[co] ~= nil then
    return root_of[co], false
  end
  return co, true
end

function skynetco.status(co)
  local s = raw_status(co)
  if s == "suspended" and ours[co] == false then
    return "blocked"
  end
  return s
end

function skynetco.yield(...)
  return raw_yield("USER", ...)
end

local function wrap_result(ok, ...)
  if ok then
    return ...
  end
  error((...))
end

function skynetco.wrap(f)
  local co = skynetco.create(f)
  return function(...)
    return wrap_result(skynetco.resume(co, ...))
  end
end

function skynetco.close(co)
  ours[co] = nil
  return raw_close(co)
end

return skynetco
