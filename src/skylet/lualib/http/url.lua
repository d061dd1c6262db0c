-- http.url: split a request target and decode its query (skynet's http.url).
--   parse(u)          path (percent-decoded), query (raw, "" if none)
--   parse_query(q)    { name = value }; a name given several times maps to
--                     the list of its values, in order
local url = {}

local char, tonumber = string.char, tonumber

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(hex)
    return char(tonumber(hex, 16))
  end))
end

function url.parse(u)
  local path, query = u:match("^([^?]*)%??(.*)$")
  return unescape(path), query
end

function url.parse_query(q)
  local result = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=(.*)$")
    if k then
      k, v = unescape(k), unescape(v)
      local old = result[k]
      if old == nil then
        result[k] = v
      elseif type(old) == "table" then
        old[#old + 1] = v
      else
        result[k] = { old, v }
      end
    end
  end
  return result
end

return url
