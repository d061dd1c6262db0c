-- skynet.db.mongo: a MongoDB client over socketchannel, with skynet's API.
--
-- Every operation is a database command in an OP_MSG (opcode 2013), the
-- wire message of MongoDB 3.6 and later, as skynet's driver sends them:
--
--   int32 messageLength, int32 requestID, int32 responseTo, int32 opCode,
--   uint32 flagBits (2 = moreToCome: no reply), then one section of kind 0
--   (a byte 0 and the command's BSON document, whose first key is the
--   command and which names its database in "$db").
--
-- Replies are read in socketchannel's session mode (responseTo is the
-- session). A reply whose frame is sound but whose content is not (another
-- opcode, a checksum, several sections, bad BSON) fails only its request; a
-- frame that cannot be read closes the connection, and every request waiting
-- on it fails with the reason.
--
--   local db = mongo.client { host =, port =, username =, password =,
--                             authdb =, authmod = "scram_sha1" | "mongodb_cr" }
--   db.game.users:safe_insert { name = "x" }     -- client.DB.COLLECTION
--   db.game.users:find({ level = 3 }):sort { name = 1 }:limit(10)
local bson = require "bson"
local socketchannel = require "skynet.socketchannel"
local skynet = require "skynet"
local crypt = require "skynet.crypt"
local md5 = require "md5"

local string_pack, string_unpack, format = string.pack, string.unpack, string.format
local encode, encode_order, decode_at, int64 = bson.encode, bson.encode_order, bson.decode_at, bson.int64
local rawget, setmetatable, pairs, ipairs, next, type, error, assert, tostring =
  rawget, setmetatable, pairs, ipairs, next, type, error, assert, tostring

local mongo = {
  null = bson.null,
  maxkey = bson.maxkey,
  minkey = bson.minkey,
  type = bson.type,
}

local EMPTY = encode {}

----- the wire

local OP_MSG = 2013
local CHECKSUM_PRESENT, MORE_TO_COME = 1, 2
local HEADER = "<i4i4i4I4" -- after the length: requestID, responseTo, opCode, flagBits
local MAX_MESSAGE = 48 * 1024 * 1024 -- MongoDB's maxMessageSizeBytes

local wire = {}
mongo.wire = wire -- skylet: for tests and tools

-- An OP_MSG carrying document (a bson document object).
function wire.op_msg(request_id, flags, document)
  local body = string_pack(HEADER, request_id, 0, OP_MSG, flags) .. "\0" .. tostring(document)
  return string_pack("<i4", #body + 4) .. body
end

-- The reply's responseTo, whether it could be read, and the document or why not.
function wire.read_reply(msg)
  if #msg < 21 then
    return nil, false, "mongo: reply of " .. (#msg + 4) .. " bytes is too short"
  end
  local _, response_to, opcode, flags, pos = string_unpack(HEADER, msg)
  if opcode ~= OP_MSG then
    return response_to, false, "mongo: unsupported opcode " .. opcode
  end
  if flags & CHECKSUM_PRESENT ~= 0 then
    return response_to, false, "mongo: unsupported OP_MSG flag checksumPresent"
  end
  if flags & ~MORE_TO_COME ~= 0 then
    return response_to, false, "mongo: unsupported OP_MSG flags " .. flags
  end
  local kind = msg:byte(pos)
  if kind ~= 0 then
    return response_to, false, "mongo: unsupported OP_MSG section kind " .. kind
  end
  local ok, doc, after = pcall(decode_at, msg, pos + 1)
  if not ok then
    return response_to, false, "mongo: bad reply document: " .. tostring(doc)
  end
  if after ~= #msg + 1 then
    return response_to, false, "mongo: OP_MSG reply with more than one section"
  end
  return response_to, true, doc
end

-- socketchannel's response reader: session, ok, document (or why not).
local function read_response(so)
  local size = string_unpack("<i4", so:read(4))
  if size < 21 or size > MAX_MESSAGE then
    error(format("mongo: bad reply length %d", size), 0)
  end
  local response_to, ok, doc = wire.read_reply(so:read(size - 4))
  if response_to == nil then
    error(doc, 0)
  end
  return response_to, ok, doc
end

----- replies

local function write_result(r)
  local ok = r.ok == 1 and not r.writeErrors and not r.writeConcernError and not r.errmsg
  local err
  if not ok then
    if r.writeErrors then
      err = r.writeErrors[1].errmsg
    elseif r.writeConcernError then
      err = r.writeConcernError.errmsg
    else
      err = r.errmsg
    end
  end
  return ok, err, r
end

local function bulk_result(r)
  local ok, err = write_result(r)
  local failed
  if r.nErrors and r.nErrors ~= 0 and r.cursor then
    failed = {}
    err = err and err .. ";" or ""
    for i, v in ipairs(r.cursor.firstBatch) do
      if v.ok ~= 1 then
        failed[#failed + 1] = i
        err = err .. tostring(v.errmsg) .. ";"
      end
    end
  end
  return ok, err, r, failed
end

local function checked(r)
  if r.ok ~= 1 then
    error(r.errmsg or "Reply from mongod error", 3)
  end
  return r
end

----- objects: client -> db -> collection -> cursor

local client = {}
local database = {}
local collection = {}
local cursor = {}
local aggregate_cursor = {}

local client_meta = {
  __index = function(self, key)
    return rawget(client, key) or self:getDB(key)
  end,
  __tostring = function(self)
    return "[mongo client : " .. self.host .. (self.port and ":" .. self.port or "") .. "]"
  end,
}

local db_meta = {
  __index = function(self, key)
    return rawget(database, key) or self:getCollection(key)
  end,
  __tostring = function(self)
    return "[mongo db : " .. self.name .. "]"
  end,
}

local collection_meta = {
  __index = function(self, key)
    return rawget(collection, key) or self:getCollection(key)
  end,
  __tostring = function(self)
    return "[mongo collection : " .. self.full_name .. "]"
  end,
}

local cursor_meta = { __index = cursor }
local aggregate_meta = { __index = aggregate_cursor }

----- authentication

local auth = {}

function auth.mongodb_cr(db, user, password)
  local key_password = md5.sumhexa(format("%s:mongo:%s", user, password))
  local r = db:runCommand "getnonce"
  if r.ok ~= 1 then
    return false
  end
  local key = md5.sumhexa(r.nonce .. user .. key_password)
  r = db:runCommand("authenticate", 1, "user", user, "nonce", r.nonce, "key", key)
  return r.ok == 1
end

-- PBKDF2-HMAC-SHA1, one block (SCRAM's Hi()).
local function hi(password, salt, iterations)
  local u = crypt.hmac_sha1(password, salt .. "\0\0\0\1")
  local result = u
  for _ = 2, iterations do
    u = crypt.hmac_sha1(password, u)
    result = crypt.xor_str(result, u)
  end
  return result
end

local function scram_fields(payload)
  local fields = {}
  for k, v in crypt.base64decode(payload):gmatch("(%w+)=([^,]*)") do
    fields[k] = v
  end
  return fields
end

-- SCRAM-SHA-1 (RFC 5802) as MongoDB does it: the password is first
-- md5("user:mongo:password") in hex.
function auth.scram_sha1(db, username, password)
  local user = username:gsub("=", "=3D"):gsub(",", "=2C")
  local nonce = crypt.base64encode(crypt.randomkey())
  local first_bare = "n=" .. user .. ",r=" .. nonce
  local r = db:runCommand("saslStart", 1, "autoAuthorize", 1, "mechanism", "SCRAM-SHA-1",
    "payload", crypt.base64encode("n,," .. first_bare))
  if r.ok ~= 1 then
    return false
  end
  local conversation = r.conversationId
  local server_first = crypt.base64decode(r.payload)
  local s = scram_fields(r.payload)
  local iterations = tonumber(s.i)
  if not (s.r and s.s and iterations) or s.r:sub(1, #nonce) ~= nonce then
    skynet.error("mongo: the server's SCRAM challenge is invalid")
    return false
  end
  local without_proof = "c=biws,r=" .. s.r
  local salted = hi(md5.sumhexa(username .. ":mongo:" .. password), crypt.base64decode(s.s), iterations)
  local client_key = crypt.hmac_sha1(salted, "Client Key")
  local auth_message = first_bare .. "," .. server_first .. "," .. without_proof
  local signature = crypt.hmac_sha1(crypt.sha1(client_key), auth_message)
  local proof = crypt.base64encode(crypt.xor_str(client_key, signature))
  local server_signature = crypt.base64encode(crypt.hmac_sha1(crypt.hmac_sha1(salted, "Server Key"), auth_message))
  r = db:runCommand("saslContinue", 1, "conversationId", conversation,
    "payload", crypt.base64encode(without_proof .. ",p=" .. proof))
  if r.ok ~= 1 then
    return false
  end
  if scram_fields(r.payload).v ~= server_signature then
    skynet.error("mongo: the server's SCRAM signature is wrong")
    return false
  end
  if not r.done then
    r = db:runCommand("saslContinue", 1, "conversationId", conversation, "payload", "")
    if r.ok ~= 1 or not r.done then
      skynet.error("mongo: the SASL conversation did not complete")
      return false
    end
  end
  return true
end

local function parse_address(addr)
  local host, port = addr:match("^(.+):(%d+)$")
  return host, tonumber(port)
end

-- What socketchannel runs on each (re)connection: authenticate, then ask
-- who the primary is and follow it.
local function on_connect(c)
  return function()
    local user, password = rawget(c, "username"), rawget(c, "password")
    if user ~= nil and password ~= nil then
      local method = auth[rawget(c, "authmod") or "scram_sha1"]
      assert(method, "Invalid authmod")
      local db = client.getDB(c, rawget(c, "authdb") or "admin")
      assert(method(db, user, password), "mongo: authentication failed")
    end
    local r = client.runCommand(c, "ismaster")
    if r.ok ~= 1 then
      return
    end
    if r.hosts then
      local backup = {}
      for _, h in ipairs(r.hosts) do
        local host, port = parse_address(h)
        backup[#backup + 1] = { host = host, port = port }
      end
      c.__sock:changebackup(backup)
    end
    if r.ismaster then
      return
    elseif r.primary then
      c.host, c.port = parse_address(r.primary)
      c.__sock:changehost(c.host, c.port)
    else
      error("No primary return : " .. tostring(r.me))
    end
  end
end

----- client

function mongo.client(conf)
  local first = conf.rs and conf.rs[1] or conf
  local c = {
    host = first.host,
    port = first.port or 27017,
    username = first.username,
    password = first.password,
    authmod = first.authmod,
    authdb = first.authdb,
    __id = 0,
  }
  c.__sock = socketchannel.channel {
    host = c.host,
    port = c.port,
    response = read_response,
    auth = on_connect(c),
    backup = conf.rs,
    nodelay = true,
    overload = conf.overload,
  }
  setmetatable(c, client_meta)
  c.__sock:connect(true)
  return c
end

function client:getDB(name)
  local db = { connection = self, name = name, full_name = name, __cmd = name .. ".$cmd" }
  db.database = db
  return setmetatable(db, db_meta)
end

function client:disconnect()
  local so = self.__sock
  if so then
    self.__sock = false
    so:close()
  end
end

-- Request ids are positive int32s.
function client:genId()
  self.__id = (self.__id + 1) & 0x7fffffff
  return self.__id
end

function client:runCommand(...)
  local admin = rawget(self, "admin")
  if not admin then
    admin = self:getDB "admin"
    self.admin = admin
  end
  return admin:runCommand(...)
end

function client:logout()
  return self:runCommand("logout").ok == 1
end

local function optional(args, key, value)
  if value ~= nil then
    args[#args + 1] = key
    args[#args + 1] = type(value) == "table" and encode(value) or value
  end
end

local bulk_ops = {}

function bulk_ops.insert(ns, op)
  return encode_order("insert", ns, "document", encode(op.insert))
end

function bulk_ops.delete(ns, op)
  local args = { "delete", ns, "filter", encode(op.filter), "multi", op.multi or false }
  optional(args, "hit", op.hit)
  optional(args, "collation", op.collation)
  return encode_order(table.unpack(args))
end

function bulk_ops.update(ns, op)
  local args = { "update", ns, "filter", encode(op.filter), "updateMods", encode(op.update),
    "multi", op.multi or false, "upsert", op.upsert or false }
  optional(args, "hit", op.hit)
  optional(args, "constants", op.constants)
  optional(args, "collation", op.collation)
  return encode_order(table.unpack(args))
end

-- MongoDB 8's bulkWrite: ops = { { op = "insert", collection = "db.coll", insert = doc }, ... }
function client:bulkWrite(ops, comment, ordered, bypass_validation, errors_only)
  local encoded, namespaces, index = {}, {}, {}
  for i, op in ipairs(ops) do
    if not index[op.collection] then
      index[op.collection] = #namespaces
      namespaces[#namespaces + 1] = encode { ns = op.collection }
    end
    local f = assert(bulk_ops[op.op], op.op)
    encoded[i] = f(index[op.collection], op)
  end
  local args = { "bulkWrite", 1, "ops", encoded, "nsInfo", namespaces }
  optional(args, "ordered", ordered)
  optional(args, "bypassDocumentValidation", bypass_validation)
  optional(args, "comment", comment)
  optional(args, "errorsOnly", errors_only)
  return bulk_result(self:runCommand(table.unpack(args)))
end

----- database

function database:auth(user, password)
  local method = auth[rawget(self.connection, "authmod") or "scram_sha1"]
  assert(method, "Invalid authmod")
  return method(self, user, password)
end

local function command_document(db, flags, cmd, value, ...)
  if flags ~= 0 then
    return encode_order(cmd, value or 1, "$db", db.name, "writeConcern", { w = 0 }, ...)
  end
  return encode_order(cmd, value or 1, "$db", db.name, ...)
end

-- runCommand("name" [, value, key, value...]): the reply document.
function database:runCommand(cmd, value, ...)
  local c = self.connection
  local id = c:genId()
  local doc = command_document(self, 0, cmd, value, ...)
  return c.__sock:request(wire.op_msg(id, 0, doc), id)
end

-- The same, with no reply (writeConcern w = 0, moreToCome).
function database:send_command(cmd, value, ...)
  local c = self.connection
  local doc = command_document(self, MORE_TO_COME, cmd, value, ...)
  c.__sock:request(wire.op_msg(c:genId(), MORE_TO_COME, doc))
  return { ok = 1 }
end

function database:getCollection(name)
  local coll = {
    connection = self.connection,
    name = name,
    full_name = self.full_name .. "." .. name,
    database = self.database,
  }
  self[name] = setmetatable(coll, collection_meta)
  return coll
end

----- collection

collection.getCollection = database.getCollection

local function with_id(doc)
  if doc._id == nil then
    doc._id = bson.objectid()
  end
  return encode(doc)
end

function collection:insert(doc)
  self.database:send_command("insert", self.name, "documents", { with_id(doc) })
end

function collection:safe_insert(doc)
  return write_result(self.database:runCommand("insert", self.name, "documents", { encode(doc) }))
end

function collection:raw_safe_insert(doc)
  return write_result(self.database:runCommand("insert", self.name, "documents", { doc }))
end

local function encode_all(docs)
  for i = 1, #docs do
    docs[i] = with_id(docs[i])
  end
  return docs
end

function collection:batch_insert(docs)
  self.database:send_command("insert", self.name, "documents", encode_all(docs))
end
collection.insert_many = collection.batch_insert

function collection:safe_batch_insert(docs)
  return write_result(self.database:runCommand("insert", self.name, "documents", encode_all(docs)))
end
collection.safe_insert_many = collection.safe_batch_insert

local function update_statement(query, update, upsert, multi)
  return encode { q = query, u = update, upsert = upsert, multi = multi }
end

function collection:update(query, update, upsert, multi)
  self.database:send_command("update", self.name, "updates", { update_statement(query, update, upsert, multi) })
end

function collection:safe_update(query, update, upsert, multi)
  return write_result(self.database:runCommand("update", self.name, "updates",
    { update_statement(query, update, upsert, multi) }))
end

local function update_statements(updates)
  local list = {}
  for i, u in ipairs(updates) do
    list[i] = update_statement(u.query, u.update, u.upsert, u.multi)
  end
  return list
end

function collection:batch_update(updates)
  self.database:send_command("update", self.name, "updates", update_statements(updates))
end

function collection:safe_batch_update(updates)
  return write_result(self.database:runCommand("update", self.name, "updates", update_statements(updates)))
end

function collection:raw_safe_update(update)
  return write_result(self.database:runCommand("update", self.name, "updates", { update }))
end

local function delete_statement(query, single)
  return encode { q = query, limit = single and 1 or 0 }
end

function collection:delete(query, single)
  self.database:send_command("delete", self.name, "deletes", { delete_statement(query, single) })
end

function collection:safe_delete(query, single)
  return write_result(self.database:runCommand("delete", self.name, "deletes", { delete_statement(query, single) }))
end

function collection:safe_batch_delete(queries, single)
  local list = {}
  for i, q in ipairs(queries) do
    list[i] = delete_statement(q, single)
  end
  return write_result(self.database:runCommand("delete", self.name, "deletes", list))
end

function collection:raw_safe_delete(delete)
  return write_result(self.database:runCommand("delete", self.name, "deletes", { delete }))
end

function collection:findOne(query, projection)
  local r = checked(self.database:runCommand("find", self.name, "filter", query and encode(query) or EMPTY,
    "limit", 1, "projection", projection and encode(projection) or EMPTY))
  return r.cursor.firstBatch[1]
end

function collection:find(query, projection)
  return setmetatable({
    __collection = self,
    __query = query and encode(query) or EMPTY,
    __projection = projection and encode(projection) or EMPTY,
    __sort = EMPTY,
    __document = {},
  }, cursor_meta)
end

-- createIndex({ key = 1 }, { unique = true }) (one key), or
-- createIndex { { key1 = 1 }, { key2 = -1 }, unique = true } / { "key1", "key2", ... }
local function index_model(spec)
  local doc, keys, name = {}, {}, nil
  for k, v in pairs(spec) do
    if type(k) == "string" then
      doc[k] = v
    end
  end
  for _, kv in ipairs(spec) do
    local k, v
    if type(kv) == "string" then
      k, v = kv, 1
    else
      k, v = next(kv)
    end
    keys[#keys + 1] = k
    keys[#keys + 1] = v
    name = (name and name .. "_" or "") .. k .. "_" .. tostring(v)
  end
  assert(name, "Need keys")
  doc.name = doc.name or name
  doc.key = encode_order(table.unpack(keys))
  return doc
end

function collection:createIndex(keys, options)
  if options then
    local k, v = next(keys)
    assert(next(keys, k) == nil, "Use new api for multi-keys")
    local doc = {}
    for ok, ov in pairs(options) do
      doc[ok] = ov
    end
    doc.name = doc.name or (k .. "_" .. tostring(v))
    doc.key = keys
    return self.database:runCommand("createIndexes", self.name, "indexes", { doc })
  end
  return self.database:runCommand("createIndexes", self.name, "indexes", { index_model(keys) })
end
collection.ensureIndex = collection.createIndex

function collection:createIndexes(...)
  local models = { ... }
  for i, spec in ipairs(models) do
    models[i] = index_model(spec)
  end
  return self.database:runCommand("createIndexes", self.name, "indexes", models)
end

function collection:drop()
  return self.database:runCommand("drop", self.name)
end

function collection:dropIndex(name)
  return self.database:runCommand("dropIndexes", self.name, "index", name)
end

-- findAndModify { query =, update = or remove =, sort =, new =, fields =, upsert = }
function collection:findAndModify(doc)
  assert(doc.query)
  assert(doc.update or doc.remove)
  local args = { "findAndModify", self.name }
  for k, v in pairs(doc) do
    args[#args + 1] = k
    args[#args + 1] = v
  end
  return self.database:runCommand(table.unpack(args))
end

function collection:aggregate(pipeline, options)
  assert(pipeline)
  local extra
  if options then
    extra = {}
    for k, v in pairs(options) do
      extra[#extra + 1] = k
      extra[#extra + 1] = v
    end
  end
  return setmetatable({
    __collection = self,
    __pipeline = table.move(pipeline, 1, #pipeline, 1, {}),
    __options = extra,
    __document = {},
    __skip = 0,
    __limit = 0,
  }, aggregate_meta)
end

----- cursors

-- sort { key = 1 } or sort({ key1 = 1 }, { key2 = -1 }, ...) (ordered)
function cursor:sort(first, ...)
  if select("#", ...) > 0 then
    local keys = {}
    for _, kv in ipairs { first, ... } do
      local k, v = next(kv)
      keys[#keys + 1] = k
      keys[#keys + 1] = v
    end
    first = encode_order(table.unpack(keys))
  end
  self.__sort = first
  return self
end

for _, option in ipairs { "skip", "limit", "hint", "maxTimeMS", "batchSize" } do
  cursor[option] = function(self, value)
    self["__" .. option] = value
    return self
  end
end

local function options(self, args, ...)
  for _, name in ipairs { ... } do
    local v = self["__" .. name]
    if v ~= nil then
      args[#args + 1] = name
      args[#args + 1] = v
    end
  end
  return table.unpack(args)
end

function cursor:count(with_limit_and_skip)
  local c = self.__collection
  local args = { "count", c.name, "query", self.__query }
  local r
  if with_limit_and_skip then
    r = c.database:runCommand(options(self, args, "skip", "limit", "hint", "maxTimeMS"))
  else
    r = c.database:runCommand(options(self, args, "hint", "maxTimeMS"))
  end
  assert(r.ok == 1, r.errmsg)
  return r.n
end

-- Takes a batch reply into the cursor; false once there is nothing more.
local function take_batch(self, r)
  if r.ok ~= 1 then
    self.__document, self.__data, self.__cursor = nil, nil, nil
    error(r.errmsg or "Reply from mongod error", 3)
  end
  local batch = r.cursor.firstBatch or r.cursor.nextBatch
  self.__document = batch
  self.__data = r
  self.__ptr = 1
  self.__cursor = r.cursor.id
  local limit = self.__limit
  if limit and limit > 0 and self.__cursor > 0 then
    limit = limit - #batch
    if limit <= 0 then
      self:close()
    end
    self.__limit = limit
  end
  if #batch == 0 then
    self.__ptr = nil
    return false
  end
  return true
end

local function get_more(self)
  local c = self.__collection
  local size = self.__batchSize
  if size and size > 0 then
    return c.database:runCommand("getMore", int64(self.__cursor), "collection", c.name, "batchSize", size)
  end
  return c.database:runCommand("getMore", int64(self.__cursor), "collection", c.name)
end

function cursor:hasNext()
  if self.__ptr then
    return true
  end
  if self.__document == nil then
    return false
  end
  if self.__data == nil then
    local c = self.__collection
    return take_batch(self, c.database:runCommand(options(self,
      { "find", c.name, "filter", self.__query, "sort", self.__sort, "projection", self.__projection },
      "skip", "limit", "hint", "maxTimeMS", "batchSize")))
  end
  if self.__cursor and self.__cursor > 0 then
    return take_batch(self, get_more(self))
  end
  self.__document, self.__data = nil, nil
  return false
end

function cursor:next()
  local ptr = self.__ptr
  if ptr == nil then
    error("Call hasNext first", 2)
  end
  local doc = self.__document[ptr]
  self.__ptr = ptr < #self.__document and ptr + 1 or nil
  return doc
end

function cursor:close()
  if self.__cursor and self.__cursor > 0 then
    local c = self.__collection
    c.database:send_command("killCursors", c.name, "cursors", { int64(self.__cursor) })
    self.__cursor = nil
  end
end

-- The pipeline with the cursor's sort / skip / limit, or a $count, after it.
local function pipeline(self, with_limit_and_skip, counting)
  local stages = table.move(self.__pipeline, 1, #self.__pipeline, 1, {})
  if self.__sort and not counting then
    stages[#stages + 1] = { ["$sort"] = self.__sort }
  end
  if with_limit_and_skip then
    if self.__skip > 0 then
      stages[#stages + 1] = { ["$skip"] = self.__skip }
    end
    if self.__limit > 0 then
      stages[#stages + 1] = { ["$limit"] = self.__limit }
    end
  end
  if counting then
    stages[#stages + 1] = { ["$count"] = "__count" }
  end
  return stages
end

local function aggregate(self, stages)
  local c = self.__collection
  if self.__options then
    return c.database:runCommand("aggregate", c.name, "pipeline", stages, table.unpack(self.__options))
  end
  return c.database:runCommand("aggregate", c.name, "pipeline", stages, "cursor", EMPTY)
end

function aggregate_cursor:count(with_limit_and_skip)
  local r = checked(aggregate(self, pipeline(self, with_limit_and_skip, true)))
  local first = r.cursor.firstBatch[1]
  return first and first.__count or 0
end

function aggregate_cursor:hasNext()
  if self.__ptr then
    return true
  end
  if self.__document == nil then
    return false
  end
  if self.__data == nil then
    return take_batch(self, aggregate(self, pipeline(self, true)))
  end
  if self.__cursor and self.__cursor > 0 then
    return take_batch(self, get_more(self))
  end
  self.__document, self.__data = nil, nil
  return false
end

aggregate_cursor.sort = cursor.sort
aggregate_cursor.skip = cursor.skip
aggregate_cursor.limit = cursor.limit
aggregate_cursor.next = cursor.next
aggregate_cursor.close = cursor.close

-- mongo.enable(name): loads the extension skynet.db.mongo.<name> once.
local enabled = {}
function mongo.enable(name)
  if not enabled[name] then
    enabled[name] = true
    require("skynet.db.mongo." .. name).init { mongo_db = database }
  end
end

return mongo
