-- Answers crypt/md5 calls by name, hex-encoding binary results: the tests
-- drive every function through a real service and compare with skynet's.
local skynet = require "skynet"
local crypt = require "skynet.crypt"
local md5 = require "md5"

local libs = { crypt = crypt, md5 = md5 }

skynet.start(function()
  skynet.dispatch("lua", function(_, _, lib, name, ...)
    local f = assert(libs[lib][name], "no such function")
    if type(f) == "table" then
      skynet.ret(skynet.pack(f))
    else
      skynet.ret(skynet.pack(f(...)))
    end
  end)
end)
