-- Node "game": calls the "db" node's kv store every second, through
-- cluster.call, a proxy and cluster.send. Stop it and db with Ctrl-C; stop
-- db alone to see calls fail at once and work again once db is back.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
  skynet.fork(function()
    local kv -- a local address for db's kv, made once db answers
    while true do
      local ok, err = pcall(function()
        local visits = cluster.call("db", "@kv", "incr", "visits")
        cluster.call("db", "@kv", "set", "last", { at = skynet.time(), by = skynet.self() })
        kv = kv or cluster.proxy("db", "@kv")
        local last = skynet.call(kv, "lua", "get", "last")
        cluster.send("db", "@kv", "log", "visit " .. visits)
        skynet.error(string.format("game: visit %d, last set at %.2f", visits, last.at))
      end)
      if not ok then
        skynet.error("game: db unreachable:", err)
      end
      skynet.sleep(100)
    end
  end)
end)
