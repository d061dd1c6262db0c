-- A socketchannel client for the tests, in order mode or session mode
-- (arg 1), to 127.0.0.1:port (arg 2). With arg 3 = "auth" it authenticates
-- after every connect (counted in `auths`).
local skynet = require "skynet"
local socketchannel = require "skynet.socketchannel"

local mode, port, auth = ...
local auths = 0
local channel

local function read_line(sock)
  local line = sock:readline()
  return true, line
end

-- session mode lines: "<session> <ok|err|more> <data>"
local function read_session(sock)
  local session, kind, data = sock:readline():match "^(%d+) (%a+) ?(.*)$"
  if kind == "more" then
    return tonumber(session), true, data, true
  end
  return tonumber(session), kind == "ok", data
end

local function do_auth(ch)
  auths = auths + 1
  local answer = ch:request("AUTH secret\n", read_line)
  assert(answer == "OK", "auth refused: " .. tostring(answer))
end

local CMD = {}
local next_session = 0

local function why(err)
  if err == socketchannel.error then
    return "socket error"
  end
  return tostring(err)
end

-- request(text): the answer, or false and why
function CMD.request(text)
  local ok, r
  if mode == "order" then
    ok, r = pcall(channel.request, channel, text .. "\n", read_line)
  else
    next_session = next_session + 1
    ok, r = pcall(channel.request, channel, next_session .. " " .. text .. "\n", next_session)
  end
  if ok then
    return r
  end
  return false, why(r)
end

-- n requests at once; each answer (or "error: why") in request order
function CMD.many(n, prefix)
  local results, done = {}, 0
  local me = coroutine.running()
  for i = 1, n do
    skynet.fork(function()
      local r, err = CMD.request(prefix .. i)
      results[i] = r or ("error: " .. err)
      done = done + 1
      if done == n then
        skynet.wakeup(me)
      end
    end)
  end
  skynet.wait(me)
  return results
end

function CMD.auths()
  return auths
end

function CMD.close()
  channel:close()
end

function CMD.connect()
  local ok, err = pcall(channel.connect, channel, true)
  return ok, not ok and why(err) or nil
end

skynet.start(function()
  channel = socketchannel.channel {
    host = "127.0.0.1",
    port = tonumber(port),
    auth = auth == "auth" and do_auth or nil,
    response = mode == "session" and read_session or nil,
    nodelay = true,
  }
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
