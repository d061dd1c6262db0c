-- Reports which msgpack codec this service's skynet.pack/unpack are, and
-- echoes its arguments back through that codec.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "which" then
      local c = package.loaded["skylet.cmsgpack"]
      local is_c = c ~= nil and skynet.pack == c.pack and skynet.unpack == c.unpack
      local lua = require "skylet.msgpack"
      local is_lua = skynet.pack == lua.pack and skynet.unpack == lua.unpack
      skynet.retpack(is_c and "c" or is_lua and "lua" or "other")
    elseif cmd == "sealed" then
      -- the codec was opened through package.loadlib, which must be gone now
      local found = pcall(require, "skylet.cmsgpack")
      skynet.retpack(package.loadlib == nil, package.cpath, found)
    elseif cmd == "echo" then
      skynet.retpack(...)
    elseif cmd == "relay" then
      -- service to service: the payload is packed and unpacked in Lua
      skynet.retpack(skynet.call(skynet.self(), "lua", "echo", ...))
    end
  end)
end)
