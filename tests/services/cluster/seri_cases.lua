-- Cases for the skynet.pack (lua-seri) vectors: name, function giving the
-- values. tests/cluster/vectors.json holds what real skynet packed for each.
local big = string.rep("x", 70000)
local arr40 = {} for i=1,40 do arr40[i]=i end
local function nest(n) local t = {} local c = t for i=2,n do local x = {} c[1]=x c=x end c[1]=1 return t end
return {
  {"nil", function() return nil end},
  {"nothing", function() return end},
  {"bools", function() return true, false end},
  {"zero", function() return 0 end},
  {"byte", function() return 1, 255 end},
  {"word", function() return 256, 65535 end},
  {"dword", function() return 65536, 0x7fffffff end},
  {"neg", function() return -1, -256, -0x80000000 end},
  {"qword", function() return 0x80000000, -0x80000001, math.maxinteger, math.mininteger end},
  {"reals", function() return 1.5, -0.0, 1.0, 1e300 end},
  {"short", function() return "", "a", string.rep("s", 31) end},
  {"long2", function() return string.rep("L", 32) end},
  {"long4", function() return string.rep("M", 65536) end},
  {"nilmid", function() return 1, nil, "x", nil end},
  {"empty", function() return {} end},
  {"array", function() return {1, 2, "three"} end},
  {"array40", function() return arr40 end},
  {"hash1", function() return {k = "v"} end},
  {"mixed1", function() return {10, 20, x = 1.25} end},
  {"nested", function() return {{1}, {{"deep"}}} end},
  {"binary", function() return "\0\255\1" end},
  {"depth32", function() return nest(32) end},
  {"depth33", function() return nest(33) end},
  {"args", function() return "req", 7, {name = "n"} end},
}
