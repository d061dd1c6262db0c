-- A websocket client on call: ("connect", url [, header]) -> id;
-- ("write", id, data, kind), ("read", id) -> data, kind | false, payload;
-- ("ping", id), ("close", id, code, reason). Each answers true and the
-- results, or false and the error.
local skynet = require "skynet"
local websocket = require "http.websocket"

local commands = {
  connect = websocket.connect,
  write = websocket.write,
  read = websocket.read,
  ping = websocket.ping,
  close = websocket.close,
  is_close = websocket.is_close,
  addrinfo = websocket.addrinfo,
}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local r = table.pack(pcall(commands[cmd], ...))
    if not r[1] then
      r[2] = tostring(r[2]) -- sockethelper.socket_error is a table
    end
    skynet.ret(skynet.pack(table.unpack(r, 1, r.n)))
  end)
end)
