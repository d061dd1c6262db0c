-- skynet.db.mysql for the tests: connect, then query / prepare / execute on
-- one connection; the results come back as the driver returns them.
local skynet = require "skynet"
local mysql = require "skynet.db.mysql"

local db
local stmts = {}

local CMD = {}

function CMD.connect(opts)
  if opts.on_connect_sql then -- queries run in the login, before any other request
    local sqls = opts.on_connect_sql
    opts.on_connect = function(conn)
      for _, sql in ipairs(sqls) do
        conn:query(sql)
      end
    end
  end
  local ok, r = pcall(mysql.connect, opts)
  if ok then
    db = r
    return true, db:server_ver()
  end
  return false, tostring(r)
end

function CMD.query(sql)
  local ok, r = pcall(db.query, db, sql)
  if ok then
    return true, r
  end
  return false, tostring(r)
end

-- several queries at once, from as many coroutines: each result in order
function CMD.concurrent(sqls)
  local results, done, me = {}, 0, coroutine.running()
  for i, sql in ipairs(sqls) do
    skynet.fork(function()
      local ok, r = pcall(db.query, db, sql)
      results[i] = ok and r or { error = tostring(r) }
      done = done + 1
      if done == #sqls then
        skynet.wakeup(me)
      end
    end)
  end
  skynet.wait(me)
  return results
end

function CMD.prepare(sql)
  local stmt = db:prepare(sql)
  if stmt.badresult then
    return stmt
  end
  stmts[stmt.prepare_id] = stmt
  return { prepare_id = stmt.prepare_id, param_count = stmt.param_count,
           field_count = stmt.field_count, fields = #stmt.fields, params = #stmt.params }
end

-- execute(id, n, args...): n arguments (nil ones included)
function CMD.execute(id, n, ...)
  local args = table.pack(...)
  local ok, r = pcall(db.execute, db, stmts[id], table.unpack(args, 1, n))
  if ok then
    return true, r
  end
  return false, tostring(r)
end

function CMD.stmt_close(id)
  db:stmt_close(stmts[id])
  stmts[id] = nil
  return true
end

function CMD.stmt_reset(id)
  return db:stmt_reset(stmts[id])
end

function CMD.ping()
  return db:ping()
end

function CMD.quote(s)
  return mysql.quote_sql_str(s)
end

function CMD.compact(on)
  db:set_compact_arrays(on)
  return true
end

function CMD.disconnect()
  db:disconnect()
  return true
end

-- the MYSQLAUTH core command, as the driver calls it
function CMD.mysqlauth(...)
  local ok, r = pcall(require("skylet.core").command, "MYSQLAUTH", ...)
  if ok then
    return true, r
  end
  return false, tostring(r)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    skynet.retpack(CMD[cmd](...))
  end)
end)
