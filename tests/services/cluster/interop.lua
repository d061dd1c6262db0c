-- Runs the cluster scenarios against node `target` (arg 1) and prints one
-- line per case. Written against skynet's API only: it runs on skynet and on
-- skylet, for the by-hand checks against real skynet (docs/architecture.md).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local target = ...

local function show(v)
  if type(v) == "string" then
    if #v > 40 then
      return ("<%d bytes %q..>"):format(#v, v:sub(1, 8))
    end
    return ("%q"):format(v)
  elseif type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = show(v[i]) end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= #v) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v) .. (math.type(v) == "float" and "f" or "")
end

local function case(name, f, ...)
  local t0 = skynet.now()
  local r = table.pack(pcall(f, ...))
  local out = {}
  for i = 2, r.n do out[#out + 1] = show(r[i]) end
  print(("CASE %s %s %s (%d ticks)"):format(name, r[1] and "ok" or "ERR", table.concat(out, " "), skynet.now() - t0))
end

skynet.start(function()
  case("values", cluster.call, target, "@echo", "echo", 1, nil, 2.5, "x", "\255\0", { 1, 2, k = "v" }, nil)
  case("types", cluster.call, target, ".echo", "types", 1, 2.0, nil, "s", {}, -2^40)
  case("query", cluster.query, target, "echo")
  case("bigarg", cluster.call, target, "@echo", "len", string.rep("y", 131072))
  case("bigans", function() return #cluster.call(target, "@echo", "big", 131072) end)
  case("pushes", function()
    for i = 1, 100 do cluster.send(target, "@echo", "push", i) end
    local got = cluster.call(target, "@echo", "pushed")
    return #got, got[1], got[#got]
  end)
  case("proxy", function()
    local p = cluster.proxy(target, "@echo")
    skynet.send(p, "lua", "push", "p")
    return skynet.call(p, "lua", "echo", "via proxy")
  end)
  case("remote_error", cluster.call, target, "@echo", "fail", "boom")
  case("bad_name", cluster.call, target, "@nosuch", "echo")
  case("query_missing", cluster.query, target, "nosuch")
  local n, t0 = 2000, skynet.hpc()
  for i = 1, n do cluster.call(target, "@echo", "echo", i) end
  print(("BENCH %d calls in %.3fs"):format(n, (skynet.hpc() - t0) / 1e9))
  skynet.abort()
end)
