-- http.httpd: read one request, write one response (skynet's http.httpd).
--   read_request(read [, bodylimit])
--       200, url, method, header, body   a request
--       code                             an HTTP error to answer (400 bad
--                                        request line or header, 413 too
--                                        large, 501 transfer-encoding, 505)
--       nil, err                         the socket failed (err is
--                                        sockethelper.socket_error) or worse
--   write_response(write, code [, body [, header]])  true, or false, err
--       body: a string, or a function returning the next piece (nil at
--       the end: sent chunked), or nil (no body)
local internal = require "http.internal"

local format, concat = string.format, table.concat
local type, pairs, ipairs, tonumber, pcall, error = type, pairs, ipairs, tonumber, pcall, error

local httpd = {}

local reasons = {
  [100] = "Continue", [101] = "Switching Protocols",
  [200] = "OK", [201] = "Created", [202] = "Accepted",
  [203] = "Non-Authoritative Information", [204] = "No Content",
  [205] = "Reset Content", [206] = "Partial Content",
  [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [304] = "Not Modified", [305] = "Use Proxy",
  [307] = "Temporary Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [406] = "Not Acceptable", [407] = "Proxy Authentication Required",
  [408] = "Request Time-out", [409] = "Conflict", [410] = "Gone",
  [411] = "Length Required", [412] = "Precondition Failed",
  [413] = "Request Entity Too Large", [414] = "Request-URI Too Large",
  [415] = "Unsupported Media Type", [416] = "Requested range not satisfiable",
  [417] = "Expectation Failed", [426] = "Upgrade Required",
  [500] = "Internal Server Error", [501] = "Not Implemented",
  [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Time-out", [505] = "HTTP Version not supported",
}

local function read_all(read, bodylimit)
  local lines = {}
  local body = internal.recvheader(read, lines, "")
  if not body then
    return 413
  end
  local method, url, version = (lines[1] or ""):match("^(%a+)%s+(%S+)%s+HTTP/([%d%.]+)$")
  if not method then
    return 400
  end
  version = tonumber(version)
  if not version or version < 1.0 or version > 1.1 then
    return 505
  end
  local header = internal.parseheader(lines, 2, {})
  if not header then
    return 400
  end
  local mode = header["transfer-encoding"]
  if mode and mode ~= "identity" and mode ~= "chunked" then
    return 501
  end
  if mode == "chunked" then
    body, header = internal.recvchunkedbody(read, bodylimit, header, body)
    if not body then
      return 413
    end
    return 200, url, method, header, body
  end
  local length = header["content-length"]
  if length then
    length = type(length) == "string" and length:match("^%d+$") and tonumber(length)
    if not length then
      return 400
    end
    if bodylimit and length > bodylimit then
      return 413
    end
    if #body >= length then
      body = body:sub(1, length)
    else
      body = body .. read(length - #body)
    end
  end
  return 200, url, method, header, body
end

function httpd.read_request(read, bodylimit)
  local ok, code, url, method, header, body = pcall(read_all, read, bodylimit)
  if ok then
    return code, url, method, header, body
  end
  return nil, code
end

local function write_all(write, code, body, header)
  local head = { format("HTTP/1.1 %03d %s\r\n", code, reasons[code] or "") }
  if header then
    for k, v in pairs(header) do
      if type(v) == "table" then
        for _, item in ipairs(v) do
          head[#head + 1] = format("%s: %s\r\n", k, item)
        end
      else
        head[#head + 1] = format("%s: %s\r\n", k, v)
      end
    end
  end
  local kind = type(body)
  if kind == "string" then
    head[#head + 1] = format("content-length: %d\r\n\r\n", #body)
    head[#head + 1] = body
    write(concat(head))
  elseif kind == "function" then
    head[#head + 1] = "transfer-encoding: chunked\r\n\r\n"
    write(concat(head))
    while true do
      local piece = body()
      if piece == nil then
        write("0\r\n\r\n")
        break
      elseif piece ~= "" then
        write(format("%x\r\n%s\r\n", #piece, piece))
      end
    end
  elseif kind == "nil" then
    head[#head + 1] = "\r\n"
    write(concat(head))
  else
    error("http body must be a string, a function or nil, not a " .. kind)
  end
end

function httpd.write_response(write, code, body, header)
  return pcall(write_all, write, code, body, header)
end

return httpd
