-- ltls.c: TLS on memory buffers, as skynet's C module of that name; the node
-- runs it with Python's ssl ("TLS" core command). The socket stays with the
-- caller: feed what the peer sent, send what comes back.
--   newctx()                         a context
--     ctx:set_cert(certfile, keyfile)  PEM files (a server's)
--     ctx:set_ciphers(list)            OpenSSL cipher list
--   newtls(method, ctx [, hostname]) a connection; method "client"/"server"
--     tls:set_ext_host_name(name)      SNI, before the first handshake
--     tls:handshake([data])            bytes to send, or nil
--     tls:finished()                   the handshake is done
--     tls:read([data])                 the plaintext data held
--     tls:write([data])                the ciphertext to send
--     tls:close()
-- Failures (garbage from the peer, a bad certificate...) raise in the caller.
-- An object is freed by close, by Lua's collector (as skynet's userdata), or
-- with its service.
local command = require "skylet.core".command

local setmetatable, tostring, pcall = setmetatable, tostring, pcall

local M = {}

-- No tail calls: command raises at the caller of the function calling it.
local function call(op, ...)
  local a, b = command("TLS", op, ...)
  return a, b
end

local ctx_methods = {}
ctx_methods.__index = ctx_methods

function ctx_methods:set_cert(certfile, keyfile)
  if not certfile then
    error("need certfile", 2)
  end
  if not keyfile then
    error("need private key", 2)
  end
  call("set_cert", self.id, tostring(certfile), tostring(keyfile))
end

function ctx_methods:set_ciphers(list)
  call("set_ciphers", self.id, tostring(list))
end

function ctx_methods:free()
  if not self.freed then
    self.freed = true
    call("freectx", self.id)
  end
end

-- A finalizer may run while the VM closes, when the node refuses commands.
ctx_methods.__gc = function(self)
  pcall(ctx_methods.free, self)
end

function M.newctx()
  local id = call("newctx")
  return setmetatable({ id = id }, ctx_methods)
end

local tls_methods = {}
tls_methods.__index = tls_methods

function tls_methods:set_ext_host_name(name)
  local r = call("set_host", self.id, tostring(name))
  return r
end

function tls_methods:handshake(data)
  local out, done = call("handshake", self.id, data)
  self.done = done
  return out
end

function tls_methods:finished()
  if not self.done then
    self.done = call("finished", self.id)
  end
  return self.done
end

function tls_methods:read(data)
  local r = call("read", self.id, data)
  return r
end

function tls_methods:write(data)
  local r = call("write", self.id, data)
  return r
end

function tls_methods:close()
  if not self.closed then
    self.closed = true
    call("close", self.id)
  end
end

tls_methods.__gc = function(self)
  pcall(tls_methods.close, self)
end

function M.newtls(method, ctx, hostname)
  if getmetatable(ctx) ~= ctx_methods then
    error("newtls needs a context from newctx()", 2)
  end
  local id = call("newtls", ctx.id, tostring(method), hostname)
  return setmetatable({ id = id, done = false }, tls_methods)
end

return M
