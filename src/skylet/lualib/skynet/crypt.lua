-- skynet.crypt: skynet's crypto helpers (lualib-src/lua-crypt.c), same names,
-- arguments and results. Every function is one "CRYPT" core command; the node
-- computes with Python's hashlib/hmac/binascii and cryptography's DES, and
-- skynet's own constructions (hashkey, hmac64, the 64-bit Diffie-Hellman)
-- bit for bit as skynet does. Bad input raises skynet's message in the caller.
--   hashkey(text)            8 bytes (djb and JS hashes)
--   randomkey()              8 random bytes
--   dhexchange(key8)         5^key mod p (p = 2^64 - 59), 8 bytes little-endian
--   dhsecret(a8, b8)         a^b mod p
--   hmac64(x8, y8), hmac64_md5(x8, y8), hmac_hash(key8, text)
--   desencode(key8, text [, padding]), desdecode(key8, text [, padding])
--                            DES-ECB; padding = crypt.padding.iso7816_4 (default)
--                            or crypt.padding.pkcs7
--   hexencode, hexdecode, base64encode, base64decode
--   sha1(text), hmac_sha1(key, text), xor_str(text, key)
local command = require "skylet.core".command

local type, tostring, tonumber, error, format, tointeger =
  type, tostring, tonumber, error, string.format, math.tointeger

local crypt = {
  padding = { iso7816_4 = 0, pkcs7 = 1 },
}

-- As luaL_checklstring: strings, and numbers as their text.
local function check(name, i, v)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "number" then
    return tostring(v)
  end
  error(format("bad argument #%d to '%s' (string expected, got %s)", i, name,
    v == nil and "no value" or t), 3)
end

-- command raises the node's error (bad input) at the caller of the function
-- calling it: so no tail calls below, or the error would point one level up.
local function unary(op)
  return function(a)
    local r = command("CRYPT", op, check(op, 1, a))
    return r
  end
end

local function binary(op)
  return function(a, b)
    local r = command("CRYPT", op, check(op, 1, a), check(op, 2, b))
    return r
  end
end

local function des(op)
  return function(key, text, padding)
    if padding ~= nil then
      local mode = tointeger(tonumber(padding))
      if mode == nil then
        error(format("bad argument #3 to '%s' (number has no integer representation)", op), 2)
      end
      padding = mode
    end
    local r = command("CRYPT", op, check(op, 1, key), check(op, 2, text), padding)
    return r
  end
end

crypt.hashkey = unary "hashkey"
crypt.dhexchange = unary "dhexchange"
crypt.hexencode = unary "hexencode"
crypt.hexdecode = unary "hexdecode"
crypt.base64encode = unary "base64encode"
crypt.base64decode = unary "base64decode"
crypt.sha1 = unary "sha1"

crypt.hmac64 = binary "hmac64"
crypt.hmac64_md5 = binary "hmac64_md5"
crypt.hmac_hash = binary "hmac_hash"
crypt.dhsecret = binary "dhsecret"
crypt.hmac_sha1 = binary "hmac_sha1"
crypt.xor_str = binary "xor_str"

crypt.desencode = des "desencode"
crypt.desdecode = des "desdecode"

function crypt.randomkey()
  local r = command("CRYPT", "randomkey")
  return r
end

return crypt
