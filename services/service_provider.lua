-- Keeps the services made by skynet.service's service.new: one per name.
local skynet = require "skynet"

local NORET = {}
local services = {}  -- name -> address, or the responses waiting for it
local CMD = {}

local function answer_waiting(name, ok, result)
  local waiting = services[name]
  services[name] = ok and result or nil
  for _, response in ipairs(waiting) do
    response(ok, result)
  end
end

function CMD.launch(name, token, ...)
  local s = services[name]
  if type(s) == "number" then
    return s
  elseif type(s) == "table" and s.launching then
    s[#s + 1] = skynet.response()
    return NORET
  end
  -- Nobody launched it yet (queries may be waiting for it).
  s = s or {}
  s.launching = true
  services[name] = s
  local ok, address = pcall(skynet.newservice, "service_cell", name, token, ...)
  answer_waiting(name, ok, address)
  if not ok then
    error(address, 0)
  end
  return address
end

function CMD.query(name)
  local s = services[name]
  if type(s) == "number" then
    return s
  end
  if s == nil then
    s = {}
    services[name] = s
  end
  s[#s + 1] = skynet.response()
  return NORET
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = CMD[cmd]
    if f == nil then
      error("service_provider: unknown command " .. tostring(cmd))
    end
    local ret = f(...)
    if ret ~= NORET then
      skynet.ret(skynet.pack(ret))
    end
  end)
end)
