-- One client's agent. The client sends text commands in gate packets (a
-- 2-byte big-endian length, then the text) and gets one answer packet per
-- command; lines starting with "* " are news pushed by the world.
--   join NAME | score N | say TEXT | stats | quit
local skynet = require "skynet"
local socket = require "skynet.socket"
local queue = require "skynet.queue"

local format = string.format

local client_fd, watchdog, world
local name
local serial = queue() -- one command at a time, answered in order

local function send_client(text)
  socket.write(client_fd, string.pack(">s2", text))
end

local REQUEST = {}

function REQUEST.join(arg)
  if name then
    return "error: already joined as " .. name
  end
  if arg == "" then
    return "error: usage: join NAME"
  end
  name = arg
  local online = skynet.call(world, "lua", "join", name)
  return format("welcome %s, %d online", name, online)
end

function REQUEST.score(arg)
  local points = math.tointeger(tonumber(arg))
  if not points then
    return "error: usage: score N"
  end
  return format("%s has %d points", name, skynet.call(world, "lua", "score", points))
end

function REQUEST.say(arg)
  local heard = skynet.call(world, "lua", "say", arg)
  return format("said to %d players", heard)
end

function REQUEST.stats()
  local online, total = skynet.call(world, "lua", "stats")
  return format("%d online, total score %d", online, total)
end

function REQUEST.quit()
  send_client("bye")
  skynet.call(watchdog, "lua", "close", client_fd)
end

local function request(text)
  local cmd, arg = text:match("^(%S*)%s*(.-)%s*$")
  local f = REQUEST[cmd]
  if f == nil then
    return format("error: unknown command %q (join, score, say, stats, quit)", cmd)
  end
  if not name and cmd ~= "join" and cmd ~= "quit" then
    return "error: join first"
  end
  return f(arg)
end

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = function(msg) return msg end,
  dispatch = function(fd, _, text)
    skynet.ignoreret() -- the session is the fd: there is nothing to answer
    serial(function()
      local ok, answer = pcall(request, text)
      if not ok then
        skynet.error(answer)
        answer = "error: server error"
      end
      if answer then
        send_client(answer)
      end
    end)
  end,
}

local CMD = {}

function CMD.start(conf)
  client_fd, watchdog = conf.client, conf.watchdog
  world = skynet.queryservice("world")
  skynet.call(conf.gate, "lua", "forward", client_fd)
end

function CMD.push(text)
  send_client("* " .. text)
end

function CMD.disconnect()
  if name then
    skynet.send(world, "lua", "leave")
  end
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    if cmd == "push" or cmd == "disconnect" then
      f(...)
    else
      skynet.ret(skynet.pack(f(...)))
    end
  end)
end)
