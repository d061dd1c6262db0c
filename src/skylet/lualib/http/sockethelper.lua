-- http.sockethelper: skynet.socket as the read/write functions the HTTP
-- libraries take (skynet's http.sockethelper). A read or write on a closed
-- socket raises sockethelper.socket_error, one shared value callers compare
-- with `==`; tostring of it says what failed last.
local socket = require "skynet.socket"
local skynet = require "skynet"

local tostring, error, setmetatable = tostring, error, setmetatable

local helper = {}

local socket_error = setmetatable({}, {
  __tostring = function(self)
    local info = self.err_info
    self.err_info = nil
    return info or "[Socket Error]"
  end,
  __call = function(self, info)
    self.err_info = "[Socket Error] : " .. tostring(info)
    return self
  end,
})
helper.socket_error = socket_error

local function reader(fd)
  return function(sz)
    local data = socket.read(fd, sz)
    if not data then
      error(socket_error("read failed fd = " .. fd))
    end
    return data
  end
end

-- readfunc(fd [, pre]): read(sz) returns sz bytes, or what is there when sz
-- is nil; `pre` is served first (bytes already read past a header).
function helper.readfunc(fd, pre)
  local read = reader(fd)
  if pre == nil or pre == "" then
    return read
  end
  return function(sz)
    if pre == nil then
      return read(sz)
    end
    local have = pre
    if sz == nil or sz == #have then
      pre = nil
      return have
    elseif sz < #have then
      pre = have:sub(sz + 1)
      return have:sub(1, sz)
    end
    pre = nil
    return have .. read(sz - #have)
  end
end

helper.readall = socket.readall

function helper.writefunc(fd)
  return function(content)
    if not socket.write(fd, content) then
      error(socket_error("write failed fd = " .. fd))
    end
  end
end

-- connect(host, port [, timeout]): a socket id; timeout in 1/100 s.
function helper.connect(host, port, timeout)
  local fd, err
  if timeout then
    local co = coroutine.running()
    local waiting = true
    skynet.fork(function()
      fd, err = socket.open(host, port)
      if waiting then
        waiting = false
        skynet.wakeup(co)
      elseif fd then
        socket.close(fd) -- connected after the caller gave up
      end
    end)
    skynet.sleep(timeout)
    if waiting then
      waiting = false
      fd, err = nil, "timeout"
    end
  else
    fd, err = socket.open(host, port)
  end
  if fd then
    return fd
  end
  error(socket_error(("connect failed host = %s port = %s timeout = %s err = %s"):format(
    host, port, tostring(timeout), tostring(err))))
end

function helper.close(fd)
  socket.close(fd)
end

function helper.shutdown(fd)
  socket.shutdown(fd)
end

return helper
