-- sproto messages/s for typical game packets; runs unchanged on skynet and
-- skylet (a start service: prints one BENCH line per case, then aborts).
-- Timed with os.clock inside the service: the codec's own cost.
local skynet = require "skynet"
require "skynet.manager"
local sproto = require "sproto"

local SCHEMA = [[
.package {
	type 0 : integer
	session 1 : integer
}
.Vec3 {
	x 0 : double
	y 1 : double
	z 2 : double
}
.Item {
	id 0 : integer
	count 1 : integer
	name 2 : string
}
.Player {
	id 0 : integer
	name 1 : string
	level 2 : integer
	exp 3 : integer
	hp 4 : integer(2)
	pos 5 : Vec3
	online 6 : boolean
	items 7 : *Item(id)
	tags 8 : *string
	scores 9 : *integer
	guild 10 : string
	money 11 : integer
}
move 1 {
	request Vec3
	response { ok 0 : boolean }
}
sync 2 {
	request Player
}
]]

local iterations = tonumber(skynet.getenv "iterations") or 100000

local function player()
	local items = {}
	for i = 1, 5 do
		items[1000 + i] = { id = 1000 + i, count = i * 3, name = "item" .. i }
	end
	return {
		id = 10001, name = "Alice", level = 42, exp = 1234567, hp = 87.5,
		pos = { x = 103.25, y = -7.5, z = 12.0 }, online = true, items = items,
		tags = { "vip", "pvp", "guild" }, scores = { 1, 20, 300, 4000, 50000 },
		guild = "Knights", money = 5000000000,
	}
end

local function measure(name, n, once)
	for _ = 1, n // 10 do once() end -- warm up
	local t0 = os.clock()
	for _ = 1, n do once() end
	local dt = os.clock() - t0
	return dt
end

skynet.start(function()
	local sp = sproto.parse(SCHEMA)
	local p = player()
	local packed = sp:pencode("Player", p)
	local enc = measure("encode", iterations, function() sp:pencode("Player", p) end)
	local dec = measure("decode", iterations, function() sp:pdecode("Player", packed) end)
	print(string.format("BENCH sproto player bytes=%d encode=%.0f decode=%.0f roundtrip=%.0f",
		#packed, iterations / enc, iterations / dec, iterations / (enc + dec)))

	-- RPC: a client's request through the server's host, and the answer back
	local client, server = sp:host "package", sp:host "package"
	local request = client:attach(sp)
	local args = { x = 1.5, y = 2.5, z = -3.5 }
	local session = 0
	local rpc = measure("rpc", iterations, function()
		session = session + 1
		local _, _, a, respond = server:dispatch(request("move", args, session))
		client:dispatch(respond({ ok = a.x > 0 }))
	end)
	print(string.format("BENCH sproto move_rpc bytes=%d roundtrip=%.0f",
		#request("move", args, 1), iterations / rpc))
	skynet.abort()
end)
