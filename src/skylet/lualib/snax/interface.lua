-- snax.interface(name, G, loader) -> methods, pattern: runs a snax service
-- file (found on the config key `snax`) with G as its globals and collects
-- what it defines:
--   function accept.NAME(...)    a post (no answer)
--   function response.NAME(...)  a request (answered with what it returns)
--   function init/exit/hotfix/profile  the system methods
-- methods[id] = { id, group, name, f }; ids 1-4 are the system methods, then
-- accept and response methods in the order the file defines them, so every
-- VM that reads the same file numbers them alike (the client sends ids).
local skynet = require "skynet"

local SYSTEM = { "init", "exit", "hotfix", "profile" }

local function file_loader(path, name, G)
  local errors = {}
  for pattern in path:gmatch("[^;]+") do
    local filename = pattern:gsub("?", name)
    local f, err = loadfile(filename, "t", G)
    if f then
      return f, pattern
    end
    errors[#errors + 1] = err
  end
  error(table.concat(errors, "\n"))
end

return function(name, G, loader)
  loader = loader or file_loader
  assert(getmetatable(G) == nil)
  assert(G.init == nil and G.exit == nil and G.accept == nil and G.response == nil)

  local methods = {}
  local system_id = {}
  for id, method in ipairs(SYSTEM) do
    system_id[method] = id
    methods[id] = { id, "system", method }
  end

  local function group(kind)
    local defined = {}
    return setmetatable({}, { __newindex = function(_, method, f)
      if type(method) ~= "string" then
        error(("%s method only support string"):format(kind))
      end
      if type(f) ~= "function" then
        error(("%s.%s must be function"):format(kind, method))
      end
      if defined[method] then
        error(("%s.%s duplicate definition"):format(kind, method))
      end
      defined[method] = true
      methods[#methods + 1] = { #methods + 1, kind, method, f }
    end })
  end

  -- While the file runs, G reads accept/response from here, and a global
  -- function named like a system method becomes that method; other globals
  -- wait in `later` and land in G afterwards.
  local later = {}
  local env = setmetatable({ accept = group("accept"), response = group("response") },
    { __index = later })
  local path = assert(skynet.getenv "snax", "please set snax in config file")
  local main, pattern = loader(path, name, G)
  setmetatable(G, {
    __index = env,
    __newindex = function(_, key, value)
      local id = system_id[key]
      if id then
        if type(value) ~= "function" then
          error(("%s must be a function"):format(key))
        end
        methods[id][4] = value
      else
        later[key] = value
      end
    end,
  })
  local ok, err = xpcall(main, debug.traceback)
  setmetatable(G, nil)
  assert(ok, err)
  for k, v in pairs(later) do
    G[k] = v
  end
  return methods, pattern
end
