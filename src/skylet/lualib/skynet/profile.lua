-- skynet.profile: CPU time spent running a coroutine, not counting the time
-- it was suspended. skynet builds it into every VM in C and times every
-- resume; skylet loads it on first use, and from then on this VM's resumes
-- (coroutine.resume/wrap, and the skynet threads skynet.lua resumes) go
-- through the timing resume below. The clock is os.clock (CPU seconds).
local clock = os.clock
local raw_resume = coroutine.resume
local raw_create = coroutine.create
local running = coroutine.running
local status = coroutine.status
local type, error, select, tostring = type, error, select, tostring

local weak = { __mode = "kv" }
local started = setmetatable({}, weak) -- coroutine -> clock when it last began running
local total = setmetatable({}, weak)   -- coroutine -> seconds run before that

local profile = {}

local function thread_arg(co, name)
  if co == nil then
    return (running())
  end
  if type(co) ~= "thread" then
    error(("bad argument #1 to '%s' (thread expected, got %s)"):format(name, type(co)), 3)
  end
  return co
end

function profile.start(co)
  co = thread_arg(co, "start")
  if started[co] then
    error(("Thread %s start profile more than once"):format(tostring(co)), 2)
  end
  total[co] = 0
  started[co] = clock()
end

function profile.stop(co)
  co = thread_arg(co, "stop")
  local begin = started[co]
  if begin == nil then
    error("Call profile.start() before profile.stop()", 2)
  end
  local t = total[co] + (clock() - begin)
  started[co], total[co] = nil, nil
  return t
end

local function account(co, ...)
  local begin = started[co]
  if begin then
    total[co] = total[co] + (clock() - begin)
  end
  return ...
end

function profile.resume(co, ...)
  if type(co) == "thread" and started[co] then
    started[co] = clock()
    return account(co, raw_resume(co, ...))
  end
  return raw_resume(co, ...)
end

local resume = profile.resume

local function wrap_result(co, ok, ...)
  if ok then
    return ...
  end
  local err = ...
  if status(co) == "dead" then
    coroutine.close(co)
  end
  if type(err) == "string" then
    error(err, 2)
  end
  error(err, 0)
end

function profile.wrap(f)
  local co = raw_create(f)
  return function(...)
    return wrap_result(co, resume(co, ...))
  end
end

coroutine.resume = profile.resume
coroutine.wrap = profile.wrap
require "skylet.inner".set_resume(profile.resume)
return profile
