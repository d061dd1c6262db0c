-- skynet.manager: launching raw services, killing, naming, aborting.
local skynet = require "skynet"
local command = require "skylet.core".command

function skynet.launch(...)
  local line = table.concat({ ... }, " ")
  local addr, err = command("LAUNCH", line)
  if addr == nil then
    skynet.error("launch failed: " .. tostring(err))
  end
  return addr, err
end

function skynet.kill(name)
  local addr = name
  if type(name) == "string" then
    addr = skynet.localname(name)
  end
  if addr then
    command("KILL", addr)
    skynet.send(".launcher", "lua", "REMOVE", addr, true)
  end
end

function skynet.abort()
  command("ABORT")
end

local function check_name(name)
  assert(type(name) == "string" and name:sub(1, 1) == ".",
    "skylet supports only local names (starting with '.'): " .. tostring(name))
end

function skynet.register(name)
  check_name(name)
  command("REG", name)
end

function skynet.name(name, handle)
  check_name(name)
  command("NAME", name, handle)
end

function skynet.forward_type()
  error("skynet.forward_type is not supported by skylet", 2)
end

function skynet.filter()
  error("skynet.filter is not supported by skylet", 2)
end

function skynet.monitor()
  error("skynet.monitor is not supported by skylet", 2)
end

return skynet
