-- Runs debug console command lines without a socket: answers the lines the
-- console would have written.
local skynet = require "skynet"
local console = require "skylet.console"

skynet.start(function()
  skynet.dispatch("lua", function(session, source, line)
    local lines = {}
    local function print(...)
      local parts = table.pack(...)
      for i = 1, parts.n do
        parts[i] = tostring(parts[i])
      end
      -- As the socket would carry it: one text, possibly several lines.
      for line in (table.concat(parts, "\t", 1, parts.n) .. "\n"):gmatch("(.-)\n") do
        lines[#lines + 1] = line
      end
    end
    console.docmd(line, print)
    skynet.retpack(lines)
  end)
end)
