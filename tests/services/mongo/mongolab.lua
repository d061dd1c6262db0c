-- skynet.db.mongo test bench: one client per service, driven by the test.
local skynet = require "skynet"
local mongo = require "skynet.db.mongo"
local bson = require "bson"

local client
local CMD = {}

-- Tables with bson's special strings made readable for the test.
local function plain(v)
  if type(v) == "table" then
    local t = {}
    for k, x in pairs(v) do
      t[k] = plain(x)
    end
    return t
  end
  local kind, a = bson.type(v)
  if kind == "objectid" then
    return "oid:" .. a
  elseif kind == "nil" and v ~= nil then
    return "null"
  end
  return v
end

function CMD.connect(port, user, password, authdb)
  local ok, c = pcall(mongo.client, {
    host = "127.0.0.1", port = port, username = user, password = password, authdb = authdb,
  })
  if not ok then
    return false, tostring(c)
  end
  client = c
  return true, tostring(c)
end

function CMD.run(db, ...)
  local ok, r = pcall(client[db].runCommand, client[db], ...)
  return ok, plain(r)
end

function CMD.send(db, ...)
  return client[db]:send_command(...)
end

-- collection method with the given arguments, under pcall
function CMD.call(db, coll, method, ...)
  local c = client[db][coll]
  local r = table.pack(pcall(c[method], c, ...))
  for i = 2, r.n do
    r[i] = plain(r[i])
  end
  return table.unpack(r, 1, r.n)
end

-- every document of find(query, projection) with the cursor options given
function CMD.find(db, coll, query, projection, opts)
  local cur = client[db][coll]:find(query, projection)
  opts = opts or {}
  if opts.sort then cur:sort(opts.sort) end
  if opts.sort2 then cur:sort(table.unpack(opts.sort2)) end
  if opts.skip then cur:skip(opts.skip) end
  if opts.limit then cur:limit(opts.limit) end
  if opts.batch then cur:batchSize(opts.batch) end
  local docs = {}
  local ok, err = pcall(function()
    while cur:hasNext() do
      docs[#docs + 1] = plain(cur:next())
    end
  end)
  if not ok then
    return false, tostring(err)
  end
  local count = cur:count()
  return true, docs, count
end

-- reads `first` documents, then closes the cursor
function CMD.find_some(db, coll, first, batch)
  local cur = client[db][coll]:find():batchSize(batch)
  local docs = {}
  for _ = 1, first do
    assert(cur:hasNext())
    docs[#docs + 1] = plain(cur:next())
  end
  cur:close()
  return docs
end

function CMD.aggregate(db, coll, pipeline, opts)
  local cur = client[db][coll]:aggregate(pipeline)
  opts = opts or {}
  if opts.sort then cur:sort(opts.sort) end
  if opts.skip then cur:skip(opts.skip) end
  if opts.limit then cur:limit(opts.limit) end
  local docs = {}
  while cur:hasNext() do
    docs[#docs + 1] = plain(cur:next())
  end
  return docs, cur:count(true)
end

function CMD.ids(n)
  local r = {}
  for i = 1, n do
    r[i] = client:genId()
  end
  return r
end

function CMD.disconnect()
  client:disconnect()
  return true
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
