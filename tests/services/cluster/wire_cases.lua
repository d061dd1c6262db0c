-- Cases for the cluster packet vectors, built with skylet.seri and
-- skylet.clusterwire; tests/cluster/vectors.json holds what real skynet's
-- cluster.core made of the same inputs. Returns name -> packet(s), and
-- name .. " next" -> the session the next request uses.
local seri = require "skylet.seri"
local wire = require "skylet.clusterwire"

local out = {}
local function req(name, addr, session, is_push, ...)
  local packet, next_session, parts = wire.request(addr, session, seri.pack(...), is_push)
  out[name] = packet
  if not is_push or parts then
    out[name .. " next"] = next_session
  end
  for i, p in ipairs(parts or {}) do
    out[("%s.parts[%d]"):format(name, i)] = p
  end
end
local function resp(name, r)
  if type(r) == "table" then
    for i, p in ipairs(r) do out[("%s[%d]"):format(name, i)] = p end
  else
    out[name] = r
  end
end

req("req_num", 0x0a, 7, false, "echo", 1)
req("req_name", "@echo", 8, false, "echo", nil, 2.5)
req("push_num", 0x0a, 9, true, "push", 3)
req("push_name", ".echo", 9, true, "x")
req("req_query", 0, 0x7fffffff, false, "echo")
req("req_large", 0x0b, 5, false, string.rep("z", 70000))
req("push_large_name", "@echo", 6, true, string.rep("q", 32760))
out.trace = wire.trace("(n1-n2-3)tag")
resp("resp_ok", wire.response(12, true, seri.pack(true, "ok")))
resp("resp_err", wire.response(13, false, "boom"))
resp("resp_large", wire.response(14, true, seri.pack(string.rep("r", 32768))))
resp("resp_edge", wire.response(15, true, seri.pack(string.rep("s", 32762))))
return out
