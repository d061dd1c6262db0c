-- skynet.db.redis.crc16: CRC-16/XMODEM (poly 0x1021, init 0, no reflection),
-- the hash Redis Cluster maps keys to slots with (crc16(key) % 16384).
-- crc16("123456789") == 0x31C3. The module is the function.
local byte = string.byte

local TABLE = {}
for i = 0, 255 do
  local crc = i << 8
  for _ = 1, 8 do
    if crc & 0x8000 ~= 0 then
      crc = ((crc << 1) ~ 0x1021) & 0xffff
    else
      crc = (crc << 1) & 0xffff
    end
  end
  TABLE[i] = crc
end

return function(s)
  local crc = 0
  for i = 1, #s do
    crc = ((crc << 8) & 0xffff) ~ TABLE[((crc >> 8) ~ byte(s, i)) & 0xff]
  end
  return crc
end
