-- The first service: starts the launcher and the service manager, then the
-- config's `start` service, and tells the node how the boot went.
local skynet = require "skynet"
require "skynet.manager"
local command = require "skylet.core".command

skynet.start(function()
  local launcher = assert(skynet.launch("snlua", "launcher"))
  skynet.name(".launcher", launcher)
  skynet.newservice "service_mgr"

  -- debug_console = PORT (or "host:port") in the config: the admin console.
  if skynet.getenv "debug_console" then
    local ok, err = pcall(skynet.newservice, "debug_console")
    if not ok then
      command("BOOTED", false, tostring(err))
      return skynet.exit()
    end
  end

  local start = skynet.getenv "start"
  if start and start ~= "" then
    local ok, err = pcall(skynet.newservice, start)
    if not ok then
      command("BOOTED", false, tostring(err))
      return skynet.exit()
    end
  end
  command("BOOTED", true)
  skynet.exit()
end)
