-- md5: skynet's lualib/md5.lua over its md5.core (keplerproject's md5), same
-- functions. The digest and HMAC come from the node (the "CRYPT" core command,
-- Python's hashlib/hmac); exor and the MD5-CFB crypt/decrypt are written here.
--   sum(message)             16-byte MD5 digest
--   sumhexa(message)         the digest in lowercase hex
--   hmacmd5(data, key)       HMAC-MD5 in lowercase hex
--   exor(s1, s2)             bytewise xor of two strings of equal length
--   crypt(message, key [, seed]), decrypt(cipher, key)
local crypt = require "skynet.crypt"
local command = require "skylet.core".command

local type, error, format, char, byte, sub, concat, pack =
  type, error, string.format, string.char, string.byte, string.sub, table.concat, string.pack

local md5 = {
  _COPYRIGHT = "Copyright (C) 2003-2013 PUC-Rio",
  _DESCRIPTION = "Basic cryptographic facilities",
  _VERSION = "MD5 1.2",
}

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

local function sum(message)
  local digest = command("CRYPT", "md5", check("sum", 1, message))
  return digest
end
md5.sum = sum

function md5.sumhexa(message)
  return crypt.hexencode(sum(check("sumhexa", 1, message)))
end

function md5.hmacmd5(data, key)
  local mac = command("CRYPT", "hmac_md5", check("hmacmd5", 2, key), check("hmacmd5", 1, data))
  return crypt.hexencode(mac)
end

function md5.exor(s1, s2)
  s1, s2 = check("exor", 1, s1), check("exor", 2, s2)
  if #s1 ~= #s2 then
    error("bad argument #2 to 'exor' (lengths must be equal)", 2)
  end
  if #s1 == 0 then
    return ""
  end
  return crypt.xor_str(s1, s2)
end

local BLOCKSIZE, MAXKEY = 16, 256

-- The key stream: md5 of (seed padded to 16 bytes .. key), then of the last
-- ciphertext block (as long as the block) over the block's start, and so on.
local function stream(message, key, block, decrypting)
  if #key > MAXKEY then
    error(format("key too long (> %d)", MAXKEY), 3)
  end
  local out = {}
  local tail = key
  for i = 1, #message, BLOCKSIZE do
    local code = sum(block .. tail)
    local chunk = sub(message, i, i + BLOCKSIZE - 1)
    local x = crypt.xor_str(chunk, sub(code, 1, #chunk))
    out[#out + 1] = x
    local feedback = decrypting and chunk or x
    block = feedback .. sub(block, #feedback + 1)
  end
  return concat(out)
end

function md5.crypt(message, key, seed)
  message, key = check("crypt", 1, message), check("crypt", 2, key)
  if seed == nil then
    seed = pack("j", os.time())  -- as md5.core: the bytes of time()
  end
  seed = check("crypt", 3, seed)
  if #seed > BLOCKSIZE then
    error(format("seed too long (> %d)", BLOCKSIZE), 2)
  end
  local block = seed .. ("\0"):rep(BLOCKSIZE - #seed)
  return char(#seed) .. seed .. stream(message, key, block, false)
end

function md5.decrypt(cipher, key)
  cipher, key = check("decrypt", 1, cipher), check("decrypt", 2, key)
  local lseed = byte(cipher, 1) or 0
  if #cipher < lseed + 1 or lseed > BLOCKSIZE then
    error("bad argument #1 to 'decrypt' (invalid cyphered string)", 2)
  end
  local seed = sub(cipher, 2, lseed + 1)
  local block = seed .. ("\0"):rep(BLOCKSIZE - #seed)
  return stream(sub(cipher, lseed + 2), key, block, true)
end

return md5
