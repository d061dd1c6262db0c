-- skynet.db.mysql: a MySQL/MariaDB client over skynet.socketchannel (order
-- mode), with skynet's API:
--
--   local mysql = require "skynet.db.mysql"
--   local db = mysql.connect { host = "127.0.0.1", port = 3306,
--     user = "u", password = "pw", database = "db", charset = "utf8mb4",
--     max_packet_size = 1024 * 1024, compact_arrays = false,
--     on_connect = function(db) end, overload = function(is_overloaded) end }
--   db:query(sql)        -- rows (a list of { column = value }), or an OK table
--                        -- { affected_rows, insert_id, server_status,
--                        --   warning_count, message }; several statements
--                        -- give { res1, res2, ..., multiresultset = true }
--   local stmt = db:prepare(sql)     -- { prepare_id, param_count, field_count,
--                                    --   params, fields } (binary protocol)
--   db:execute(stmt, ...)            -- as query; nil arguments are NULL
--   db:stmt_reset(stmt); db:stmt_close(stmt); db:ping(); db:server_ver()
--   mysql.quote_sql_str(s); db:set_compact_arrays(true); db:disconnect()
--
-- A server error, also one that arrives after some rows or in a later result
-- set, is not raised: the result gets badresult = true, err, errno and
-- sqlstate (what came before it stays in a multi-result set). The connection
-- goes on. A malformed packet or a lost connection raises in the caller and
-- the next request connects again. A refused login raises in mysql.connect
-- with the server's message.
--
-- Login: mysql_native_password, and the plugins a server may switch to
-- (AuthSwitchRequest): mysql_native_password, caching_sha2_password (its fast
-- path, and its full path with the server's RSA key) and mysql_clear_password
-- is refused (it would send the password in clear).
local socketchannel = require "skynet.socketchannel"
local crypt = require "skynet.crypt"
local core = require "skylet.core"

local byte, char, sub, rep, format, gsub = string.byte, string.char, string.sub, string.rep, string.format, string.gsub
local spack, sunpack = string.pack, string.unpack
local tointeger, tonumber, tostring, type, error, setmetatable, concat, select, pcall, ipairs =
  math.tointeger, tonumber, tostring, type, error, setmetatable, table.concat, select, pcall, ipairs

local mysql = { _VERSION = "0.14" }
local db_meta = { __index = mysql }

-- Default collation ids of the character sets (information_schema.collations).
local CHARSET = {
  _default = 0, big5 = 1, dec8 = 3, cp850 = 4, hp8 = 6, koi8r = 7, latin1 = 8,
  latin2 = 9, swe7 = 10, ascii = 11, ujis = 12, sjis = 13, hebrew = 16,
  tis620 = 18, euckr = 19, koi8u = 22, gb2312 = 24, greek = 25, cp1250 = 26,
  gbk = 28, latin5 = 30, armscii8 = 32, utf8 = 33, ucs2 = 35, cp866 = 36,
  keybcs2 = 37, macce = 38, macroman = 39, cp852 = 40, latin7 = 41,
  utf8mb4 = 45, cp1251 = 51, utf16 = 54, utf16le = 56, cp1256 = 57,
  cp1257 = 59, utf32 = 60, binary = 63, geostd8 = 92, cp932 = 95,
  eucjpms = 97, gb18030 = 248,
}

local COM_QUERY, COM_PING = "\x03", "\x0e"
local COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_RESET = "\x16", "\x17", "\x19", "\x1a"
local MORE_RESULTS = 8 -- SERVER_MORE_RESULTS_EXISTS in server_status
local MAX_PAYLOAD = 0xffffff

-- skynet's client flags (long password, found rows, long flag, connect with
-- db, ODBC, ignore space, protocol 4.1, interactive, ignore sigpipe,
-- transactions, secure connection, multi statements, multi results), without
-- LOCAL_FILES (a server could ask for any file), plus PS_MULTI_RESULTS and
-- PLUGIN_AUTH (for servers that switch the login method).
local CLIENT_FLAGS = (260047 & ~0x80) | 0x40000 | 0x80000
local CLIENT_PLUGIN_AUTH = 0x80000

-- Packets ------------------------------------------------------------------

-- One logical packet (payloads of 16 MiB - 1 continue in the next).
local function read_packet(self, sock)
  local parts
  while true do
    local len, seq = sunpack("<I3B", sock:read(4))
    self.packet_no = seq
    local data = len > 0 and sock:read(len) or ""
    if len < MAX_PAYLOAD and not parts then
      return data
    end
    parts = parts or {}
    parts[#parts + 1] = data
    if len < MAX_PAYLOAD then
      return concat(parts)
    end
  end
end

-- The kind of a response packet by its first byte (EOF only when short: a
-- row may begin with 0xfe, the prefix of an 8-byte length).
local function kind(packet)
  local first = byte(packet, 1)
  if first == 0x00 then
    return "OK"
  elseif first == 0xff then
    return "ERR"
  elseif first == 0xfe and #packet < 9 then
    return "EOF"
  end
  return "DATA"
end

-- payload -> the packet(s) to write; the sequence number goes on from packet_no.
local function compose(self, payload)
  local out, pos, n = {}, 1, #payload
  repeat
    local chunk = sub(payload, pos, pos + MAX_PAYLOAD - 1)
    self.packet_no = (self.packet_no + 1) & 0xff
    out[#out + 1] = spack("<I3B", #chunk, self.packet_no) .. chunk
    pos = pos + MAX_PAYLOAD
  until #chunk < MAX_PAYLOAD and pos > n
  return #out == 1 and out[1] or concat(out)
end

local function command_packet(self, payload)
  self.packet_no = -1
  return compose(self, payload)
end

-- Length-encoded integers and strings.
local function lenenc_int(data, pos)
  local first = byte(data, pos)
  if first == nil then
    error("mysql: truncated packet", 0)
  elseif first < 251 then
    return first, pos + 1
  elseif first == 251 then
    return nil, pos + 1 -- NULL
  elseif first == 252 then
    return sunpack("<I2", data, pos + 1)
  elseif first == 253 then
    return sunpack("<I3", data, pos + 1)
  elseif first == 254 then
    return sunpack("<I8", data, pos + 1)
  end
  error("mysql: bad length-encoded integer", 0)
end

local function lenenc_str(data, pos)
  local len
  len, pos = lenenc_int(data, pos)
  if len == nil then
    return nil, pos
  end
  return sub(data, pos, pos + len - 1), pos + len
end

local function lenenc(n)
  if n < 251 then
    return char(n)
  elseif n < 0x10000 then
    return spack("<BI2", 0xfc, n)
  elseif n < 0x1000000 then
    return spack("<BI3", 0xfd, n)
  end
  return spack("<BI8", 0xfe, n)
end

local function parse_ok(packet)
  local res, pos = {}, 2
  res.affected_rows, pos = lenenc_int(packet, pos)
  res.insert_id, pos = lenenc_int(packet, pos)
  res.server_status, res.warning_count, pos = sunpack("<I2I2", packet, pos)
  if pos <= #packet then
    -- info: a length-encoded string (MariaDB, and MySQL with session
    -- tracking), or else the rest of the packet
    local ok, info, after = pcall(lenenc_str, packet, pos)
    if not (ok and info and (after == #packet + 1 or res.server_status & 0x4000 ~= 0)) then
      info = sub(packet, pos)
    end
    if info ~= "" then
      res.message = info
    end
  end
  return res
end

local function eof_status(packet)
  if #packet >= 5 then
    local _, status = sunpack("<I2I2", packet, 2)
    return status
  end
  return 0
end

-- errno, message, sqlstate
local function parse_err(packet)
  local errno, pos = sunpack("<I2", packet, 2)
  local sqlstate
  if sub(packet, pos, pos) == "#" then
    sqlstate = sub(packet, pos + 1, pos + 5)
    pos = pos + 6
  end
  return errno, sub(packet, pos), sqlstate
end

local function parse_column(packet)
  local pos = 1
  for _ = 1, 4 do -- catalog, schema, table, org_table
    local _
    _, pos = lenenc_str(packet, pos)
  end
  local column = {}
  column.name, pos = lenenc_str(packet, pos)
  local _
  _, pos = lenenc_str(packet, pos) -- org_name
  local _charset, _length, typ, flags = sunpack("<xI2I4BI2", packet, pos)
  column.type = typ
  if flags & 0x20 == 0 then -- UNSIGNED_FLAG
    column.is_signed = true
  end
  return column
end

-- Results ------------------------------------------------------------------

local function bad_result(errno, message, sqlstate)
  return { badresult = true, err = message, errno = errno, sqlstate = sqlstate }
end

-- Text protocol values: numbers for the numeric types.
local numeric = {
  [0x01] = true, [0x02] = true, [0x03] = true, [0x04] = true, [0x05] = true,
  [0x08] = true, [0x09] = true, [0x0d] = true, [0xf6] = true,
}

local function text_row(packet, columns, compact)
  local row, pos = {}, 1
  for i = 1, #columns do
    local column = columns[i]
    local value
    value, pos = lenenc_str(packet, pos)
    if value ~= nil and numeric[column.type] then
      value = tonumber(value)
    end
    if compact then
      row[i] = value
    else
      row[column.name] = value
    end
  end
  return row
end

-- Binary protocol values, by column type.
local function integer(fmt_signed, fmt_unsigned)
  return function(data, pos, signed)
    return sunpack(signed and fmt_signed or fmt_unsigned, data, pos)
  end
end

local function datetime(data, pos)
  local len
  len, pos = lenenc_int(data, pos)
  local y, mo, d, h, mi, s, us = 0, 0, 0, 0, 0, 0, 0
  if len >= 4 then
    y, mo, d = sunpack("<I2BB", data, pos)
  end
  if len >= 7 then
    h, mi, s = sunpack("BBB", data, pos + 4)
  end
  if len >= 11 then
    us = sunpack("<I4", data, pos + 7)
  end
  local text = format("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s)
  if us > 0 then
    text = text .. format(".%06d", us)
  end
  return text, pos + len
end

local function date(data, pos)
  local text, next_pos = datetime(data, pos)
  return sub(text, 1, 10), next_pos
end

local function time(data, pos)
  local len
  len, pos = lenenc_int(data, pos)
  if len == 0 then
    return "00:00:00", pos
  end
  local negative, days, h, mi, s = sunpack("<BI4BBB", data, pos)
  local text = format("%s%02d:%02d:%02d", negative == 1 and "-" or "", days * 24 + h, mi, s)
  if len >= 12 then
    local us = sunpack("<I4", data, pos + 8)
    if us > 0 then
      text = text .. format(".%06d", us)
    end
  end
  return text, pos + len
end

local function decimal(data, pos)
  local text, next_pos = lenenc_str(data, pos)
  return tonumber(text), next_pos
end

local binary_value = {
  [0x01] = integer("<i1", "<I1"), -- tiny
  [0x02] = integer("<i2", "<I2"), -- short
  [0x03] = integer("<i4", "<I4"), -- long
  [0x04] = function(data, pos) return sunpack("<f", data, pos) end,
  [0x05] = function(data, pos) return sunpack("<d", data, pos) end,
  [0x07] = datetime, -- timestamp
  [0x08] = integer("<i8", "<i8"), -- longlong (Lua integers are signed 64-bit)
  [0x09] = integer("<i4", "<I4"), -- int24, sent in 4 bytes
  [0x0a] = date,
  [0x0b] = time,
  [0x0c] = datetime,
  [0x0d] = integer("<i2", "<I2"), -- year
  [0xf6] = decimal,
}
local function string_value(data, pos)
  return lenenc_str(data, pos)
end
for _, typ in ipairs { 0x0f, 0x10, 0xf5, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff } do
  binary_value[typ] = string_value
end

local function binary_row(packet, columns, compact)
  local n = #columns
  local bitmap = 2 -- after the 0x00 header; the first two bits are reserved
  local pos = bitmap + (n + 9) // 8
  local row = {}
  for i = 1, n do
    local bit = i + 1
    local is_null = byte(packet, bitmap + bit // 8) & (1 << (bit % 8)) ~= 0
    if not is_null then
      local column = columns[i]
      local read = binary_value[column.type]
      if read == nil then
        error("mysql: unsupported field type " .. column.type, 0)
      end
      local value
      value, pos = read(packet, pos, column.is_signed)
      if compact then
        row[i] = value
      else
        row[column.name] = value
      end
    end
  end
  return row
end

-- column definitions up to their EOF
local function read_columns(self, sock, count)
  local columns = {}
  for i = 1, count do
    local packet = read_packet(self, sock)
    local k = kind(packet)
    if k == "ERR" then
      return nil, packet
    elseif k ~= "DATA" then
      error("mysql: unexpected " .. k .. " packet in column definitions", 0)
    end
    columns[i] = parse_column(packet)
  end
  if count > 0 then
    local packet = read_packet(self, sock)
    if kind(packet) ~= "EOF" then
      error("mysql: no EOF after column definitions", 0)
    end
  end
  return columns
end

-- One result set: result, more? (a bad result ends the response).
local function read_result(self, sock, parse_row)
  local packet = read_packet(self, sock)
  local k = kind(packet)
  if k == "ERR" then
    return bad_result(parse_err(packet)), false
  elseif k == "OK" then
    local res = parse_ok(packet)
    return res, res.server_status & MORE_RESULTS ~= 0
  elseif k == "EOF" then
    error("mysql: unexpected EOF packet", 0)
  end
  local count = lenenc_int(packet, 1)
  local columns, err_packet = read_columns(self, sock, count)
  if not columns then
    return bad_result(parse_err(err_packet)), false
  end
  local rows, compact = {}, self.compact
  while true do
    packet = read_packet(self, sock)
    k = kind(packet)
    if k == "EOF" then
      return rows, eof_status(packet) & MORE_RESULTS ~= 0
    elseif k == "ERR" then -- the statement failed after sending some rows
      return bad_result(parse_err(packet)), false
    end
    rows[#rows + 1] = parse_row(packet, columns, compact)
  end
end

-- The whole response to a query or execute; multi_key names the flag of a
-- multi-result set (skynet spells execute's "mulitresultset").
local function response_reader(self, parse_row, multi_key)
  return function(sock)
    local res, more = read_result(self, sock, parse_row)
    if not more then
      return true, res
    end
    local all = { res, [multi_key] = true }
    repeat
      res, more = read_result(self, sock, parse_row)
      if res.badresult then
        all.badresult, all.err, all.errno, all.sqlstate = true, res.err, res.errno, res.sqlstate
      else
        all[#all + 1] = res
      end
    until not more
    return true, all
  end
end

-- Login --------------------------------------------------------------------

local function xor(a, b)
  local out = {}
  for i = 1, #a do
    out[i] = char(byte(a, i) ~ byte(b, (i - 1) % #b + 1))
  end
  return concat(out)
end

-- SHA1(password) XOR SHA1(scramble .. SHA1(SHA1(password)))
local function native_token(password, scramble)
  if password == "" then
    return ""
  end
  local stage1 = crypt.sha1(password)
  return xor(stage1, crypt.sha1(scramble .. crypt.sha1(stage1)))
end

local function sha2_token(password, scramble)
  if password == "" then
    return ""
  end
  return core.command("MYSQLAUTH", "sha2_token", password, scramble)
end

local tokens = {
  mysql_native_password = native_token,
  caching_sha2_password = sha2_token,
}

local function auth_token(plugin, password, scramble)
  local make = tokens[plugin]
  if make == nil then
    error(format("mysql: the server asks for the login method %q, which is not supported", plugin), 0)
  end
  return make(password, scramble)
end

local function login_error(packet)
  local errno, message, sqlstate = parse_err(packet)
  return format("errno:%d, msg:%s,sqlstate:%s", errno, message, tostring(sqlstate))
end

-- caching_sha2_password after its token: 0x01 0x03 (cached: OK follows) or
-- 0x01 0x04 (full login: ask for the server's RSA key, send the password
-- encrypted with it).
local function sha2_more(self, channel, read, password, scramble, packet)
  local status = byte(packet, 2)
  if status == 3 then
    return read()
  elseif status ~= 4 then
    error("mysql: bad caching_sha2_password status " .. tostring(status), 0)
  end
  channel:request(compose(self, "\x02"), nil) -- request the public key
  local key = read()
  if byte(key) ~= 0x01 then
    error("mysql: no public key from the server", 0)
  end
  local secret = core.command("MYSQLAUTH", "rsa_password", sub(key, 2), password .. "\0", scramble)
  channel:request(compose(self, secret), nil)
  return read()
end

local function login(self, opts)
  local user, password, database = opts.user or "", opts.password or "", opts.database or ""
  local charset = CHARSET[opts.charset or "_default"]
  if charset == nil then
    error("mysql: unknown charset " .. tostring(opts.charset), 2)
  end
  return function(channel)
    self.login_error = nil
    local function read()
      return channel:response(function(sock) return true, read_packet(self, sock) end)
    end
    local ok, err = pcall(function()
      local packet = read()
      if kind(packet) == "ERR" then -- e.g. too many connections, host blocked
        error(login_error(packet), 0)
      end
      local version, pos = sunpack("z", packet, 2)
      self.protocol_ver = byte(packet, 1)
      self._server_ver = version
      local _, scramble1, caps_low, lang, status, caps_high, scramble_len
      _, scramble1, caps_low, lang, status, caps_high, scramble_len, pos =
        sunpack("<I4c8xI2BI2I2B", packet, pos)
      self._server_capabilities = caps_low | caps_high << 16
      self._server_lang, self._server_status = lang, status
      pos = pos + 10 -- reserved
      local part2_len = math.max(13, scramble_len - 8) - 1 -- without its NUL
      local scramble = scramble1 .. sub(packet, pos, pos + part2_len - 1)
      pos = pos + part2_len + 1
      local plugin = "mysql_native_password"
      if self._server_capabilities & CLIENT_PLUGIN_AUTH ~= 0 and pos <= #packet then
        plugin = sunpack("z", packet .. "\0", pos)
      end
      local token = auth_token(plugin, password, scramble)
      local response = spack("<I4I4Bc23zs1zz", CLIENT_FLAGS, self._max_packet_size, charset,
        rep("\0", 23), user, token, database, plugin)
      channel:request(compose(self, response), nil)
      while true do
        packet = read()
        local first = byte(packet, 1)
        if first == 0x00 then
          return
        elseif first == 0xff then
          error(login_error(packet), 0)
        elseif first == 0xfe then -- AuthSwitchRequest: plugin name, new scramble
          plugin, pos = sunpack("z", packet, 2)
          scramble = sub(packet, pos)
          if byte(scramble, -1) == 0 then
            scramble = sub(scramble, 1, -2)
          end
          channel:request(compose(self, auth_token(plugin, password, scramble)), nil)
        elseif first == 0x01 and plugin == "caching_sha2_password" then
          packet = sha2_more(self, channel, read, password, scramble, packet)
          if byte(packet, 1) == 0xff then
            error(login_error(packet), 0)
          end
          return
        else
          error("mysql: unexpected packet during login", 0)
        end
      end
    end)
    if not ok then
      self.login_error = err
      error(err, 0)
    end
    if opts.on_connect then
      opts.on_connect(self)
    end
  end
end

-- API ----------------------------------------------------------------------

function mysql.connect(opts)
  local self = setmetatable({}, db_meta)
  self._max_packet_size = opts.max_packet_size or 1024 * 1024
  self.compact = opts.compact_arrays
  self.packet_no = 0
  -- before connecting: on_connect may query
  self.query_resp = response_reader(self, text_row, "multiresultset")
  self.execute_resp = response_reader(self, binary_row, "mulitresultset")
  local channel = socketchannel.channel {
    host = opts.host,
    port = opts.port or 3306,
    auth = login(self, opts),
    overload = opts.overload,
  }
  self.sockchannel = channel
  local ok, err = pcall(channel.connect, channel, true)
  if not ok then
    channel:close()
    local why = self.login_error or channel.__last_error or tostring(err)
    error(format("mysql: cannot connect to %s:%s: %s", tostring(opts.host), tostring(opts.port or 3306), why), 2)
  end
  return self
end

function mysql.disconnect(self)
  self.sockchannel:close()
  setmetatable(self, nil)
end

function mysql.query(self, sql)
  return self.sockchannel:request(command_packet(self, COM_QUERY .. sql), self.query_resp)
end

function mysql.ping(self)
  return self.sockchannel:request(command_packet(self, COM_PING), self.query_resp)
end

local function read_prepare(self, sock)
  local packet = read_packet(self, sock)
  local k = kind(packet)
  if k == "ERR" then
    return true, bad_result(parse_err(packet))
  elseif k ~= "OK" then
    error("mysql: unexpected " .. k .. " packet answering a prepare", 0)
  end
  local stmt = {}
  stmt.prepare_id, stmt.field_count, stmt.param_count, stmt.warning_count =
    sunpack("<I4I2I2xI2", packet, 2)
  local params, fields, err_packet
  params, err_packet = read_columns(self, sock, stmt.param_count)
  if params then
    fields, err_packet = read_columns(self, sock, stmt.field_count)
  end
  if err_packet then
    return true, bad_result(parse_err(err_packet))
  end
  stmt.params, stmt.fields = params, fields
  return true, stmt
end

function mysql.prepare(self, sql)
  if not self.prepare_resp then
    self.prepare_resp = function(sock) return read_prepare(self, sock) end
  end
  return self.sockchannel:request(command_packet(self, COM_STMT_PREPARE .. sql), self.prepare_resp)
end

-- Parameter type and value, by Lua type.
local function param(v)
  local t = type(v)
  if t == "number" then
    if tointeger(v) then
      return "\x08\0", spack("<i8", v)
    end
    return "\x05\0", spack("<d", v)
  elseif t == "string" then
    return "\x0f\0", lenenc(#v) .. v
  elseif t == "boolean" then
    return "\x01\0", v and "\1" or "\0"
  elseif t == "nil" then
    return "\x06\0", ""
  end
  error("invalid parameter type " .. t, 3)
end

function mysql.execute(self, stmt, ...)
  local n = select("#", ...)
  if n ~= stmt.param_count then
    error("require stmt.param_count " .. tostring(stmt.param_count) .. " get arg_num " .. n, 2)
  end
  local parts = { COM_STMT_EXECUTE, spack("<I4BI4", stmt.prepare_id, 0, 1) }
  if n > 0 then
    local nulls, types, values = {}, {}, {}
    for i = 0, (n + 7) // 8 - 1 do
      local b = 0
      for j = 0, 7 do
        local k = i * 8 + j + 1
        if k <= n and select(k, ...) == nil then
          b = b | (1 << j)
        end
      end
      nulls[#nulls + 1] = char(b)
    end
    for i = 1, n do
      types[i], values[i] = param((select(i, ...)))
    end
    parts[#parts + 1] = concat(nulls) .. "\1" .. concat(types) .. concat(values)
  end
  return self.sockchannel:request(command_packet(self, concat(parts)), self.execute_resp)
end

function mysql.stmt_reset(self, stmt)
  return self.sockchannel:request(command_packet(self, spack("<c1I4", COM_STMT_RESET, stmt.prepare_id)), self.query_resp)
end

function mysql.stmt_close(self, stmt)
  return self.sockchannel:request(command_packet(self, spack("<c1I4", COM_STMT_CLOSE, stmt.prepare_id)))
end

function mysql.server_ver(self)
  return self._server_ver
end

function mysql.set_compact_arrays(self, value)
  self.compact = value
end

local escapes = {
  ["\0"] = "\\0", ["\b"] = "\\b", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
  ["\26"] = "\\Z", ["\\"] = "\\\\", ["'"] = "\\'", ['"'] = '\\"',
}

function mysql.quote_sql_str(s)
  return format("'%s'", (gsub(s, "[%z\b\n\r\t\26\\'\"]", escapes)))
end

return mysql
