-- The host of a snax service: `snaxd NAME` runs the file NAME found on the
-- config key `snax` with this VM's globals, and dispatches "snax" messages
-- (method ids) to its accept/response/system methods, timing each method
-- (skynet.profile) for the debug INFO command and snax.profile_info.
local skynet = require "skynet"
local snax_interface = require "snax.interface"
local profile = require "skynet.profile"
local snax = require "skynet.snax"

local snax_name = tostring(...)
local loaderpath = skynet.getenv "snax_loader"
local loader = loaderpath and assert(dofile(loaderpath))
local methods, pattern = snax_interface(snax_name, _ENV, loader)
local snax_path = pattern:sub(1, pattern:find("?", 1, true) - 1) .. snax_name .. "/"
package.path = snax_path .. "?.lua;" .. package.path
SERVICE_NAME = snax_name
SERVICE_PATH = snax_path

local stats = {} -- method name -> { count =, time = }

local function record(name, seconds)
  local t = stats[name]
  if t == nil then
    t = { count = 0, time = 0 }
    stats[name] = t
  end
  t.count = t.count + 1
  t.time = t.time + seconds
end

local traceback = debug.traceback

local function answer(f, ...)
  return skynet.ret(skynet.pack(f(...)))
end

local function timed(method, ...)
  local ok, err
  profile.start()
  if method[2] == "accept" then
    ok, err = xpcall(method[4], traceback, ...)
  else
    ok, err = xpcall(answer, traceback, method[4], ...)
  end
  record(method[3], profile.stop())
  assert(ok, err)
end

skynet.start(function()
  local ready = false
  local function dispatch(session, source, id, ...)
    local method = methods[id]
    if method == nil then
      error(("snax %s has no method %s"):format(snax_name, tostring(id)))
    end
    if method[2] ~= "system" then
      assert(ready, "Init first")
      return timed(method, ...)
    end
    local which = method[3]
    if which == "hotfix" then
      local hotfix = require "snax.hotfix"
      skynet.ret(skynet.pack(hotfix(methods, ...)))
    elseif which == "profile" then
      skynet.ret(skynet.pack(stats))
    elseif which == "init" then
      assert(not ready, "Already init")
      if method[4] then
        method[4](...)
      end
      skynet.ret()
      skynet.info_func(function() return stats end)
      ready = true
    else -- exit
      assert(ready, "Never init")
      if method[4] then
        method[4](...)
      end
      skynet.ret()
      ready = false
      skynet.exit()
    end
  end
  skynet.dispatch("snax", dispatch)

  -- Let "lua" messages (e.g. from a cluster) reach the methods too.
  function snax.enablecluster()
    skynet.dispatch("lua", dispatch)
  end
end)
