-- A service in a folder of its own: its modules sit beside it.
local skynet = require "skynet"
local helper = require "pkghelper"

skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.ret(skynet.pack(helper.greet(), SERVICE_NAME, SERVICE_PATH, PRELOADED))
  end)
end)
