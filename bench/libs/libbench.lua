-- Times skynet.netpack and skynet.crypt inside a service (os.clock, so the
-- figures include the Lua->Python crossing of crypt calls).
local skynet = require "skynet"
local netpack = require "skynet.netpack"
local crypt = require "skynet.crypt"

local function us(n, f)
  local t0 = os.clock()
  f(n)
  return (os.clock() - t0) / n * 1e6
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, n)
    local out = {}
    local header = string.pack(">BI4i8", 1, 5, 0)
    local packet = string.pack(">s2", ("x"):rep(32))
    local one, four = header .. packet, header .. packet:rep(4)
    local q = netpack.queue(65535)
    out[#out + 1] = { "netpack 1 packet/read", us(n, function(k)
      for _ = 1, k do netpack.filter(q, one) end
    end) }
    out[#out + 1] = { "netpack 4 packets/read", us(n, function(k)
      for _ = 1, k // 4 do
        netpack.filter(q, four)
        for _ in netpack.pop, q do end
      end
    end) }
    local key, text = "12345678", ("x"):rep(64)
    local cases = {
      { "crypt.hexencode 8B", crypt.hexencode, key },
      { "crypt.sha1 64B", crypt.sha1, text },
      { "crypt.hashkey 24B", crypt.hashkey, "aGVsbG8=@c2FtcGxl#MQ==:1" },
      { "crypt.dhexchange", crypt.dhexchange, key },
      { "crypt.desencode 64B", crypt.desencode, key, text },
      { "crypt.hmac64", crypt.hmac64, key, "87654321" },
    }
    for _, c in ipairs(cases) do
      local f, a, b = c[2], c[3], c[4]
      out[#out + 1] = { c[1], us(n // 10, function(k)
        for _ = 1, k do f(a, b) end
      end) }
    end
    local lines = {}
    for _, row in ipairs(out) do
      lines[#lines + 1] = string.format("%-24s %7.2f us", row[1], row[2])
    end
    skynet.ret(skynet.pack(table.concat(lines, "\n")))
  end)
end)
