-- skylet.msgpack: pure Lua 5.4 msgpack codec for service message payloads.
--
-- A payload is a plain concatenation of msgpack objects, one per argument, so
-- Python can read it with msgpack.Unpacker and write it with msgpack.packb.
-- This is the fallback that runs for every message until a C codec replaces
-- it, hence the cached locals, the shared output buffer and the absence of
-- per-call closures.

local type = type
local next = next
local error = error
local rawget = rawget
local rawlen = rawlen
local select = select
local schar = string.char
local sbyte = string.byte
local ssub = string.sub
local spack = string.pack
local sunpack = string.unpack
local mtype = math.type
local ulen = utf8.len
local tconcat = table.concat
local tunpack = table.unpack

local MAXDEPTH = 128

local M = {}

---------------------------------------------------------------------------
-- Encoder
---------------------------------------------------------------------------

-- Single-byte encodings looked up instead of built, since small ints and
-- short strings dominate real traffic. Filled on first use: building all
-- 192 strings up front cost every service ~30 us at launch.
local FIXINT = {}
local FIXSTR = {}

-- Encoding never runs user code (raw table access only, no metamethods), so
-- one buffer per VM can be shared across calls without reentrancy issues.
local buf = {}
local nb = 0
local seen = {}

local encode

local function encode_table(t, depth)
    if seen[t] then
        error("skynet.pack: table has a cycle", 0)
    end
    if depth >= MAXDEPTH then
        error("skynet.pack: tables nested deeper than " .. MAXDEPTH, 0)
    end

    local n = rawlen(t)
    local count = 0
    -- next() walks the array part first, in order; if keys arrive as 1, 2, ...
    -- the table is a sequence without a second pass.
    local ordered = true
    for k in next, t do
        count = count + 1
        if k ~= count then
            ordered = false
        end
    end

    local isarray = false
    if count == n and n > 0 then
        isarray = true
        if not ordered then
            -- n distinct keys with every one of 1..n present means exactly 1..n;
            -- #t alone is only a border and can sit past a hole.
            for i = 1, n do
                if rawget(t, i) == nil then
                    isarray = false
                    break
                end
            end
        end
    end

    seen[t] = true
    local d = depth + 1
    if isarray then
        if n < 16 then
            nb = nb + 1
            buf[nb] = schar(0x90 + n)
        elseif n < 0x10000 then
            nb = nb + 1
            buf[nb] = spack(">BI2", 0xdc, n)
        else
            nb = nb + 1
            buf[nb] = spack(">BI4", 0xdd, n)
        end
        for i = 1, n do
            -- all of 1..n are present, so plain indexing is raw here
            encode(t[i], d)
        end
    else
        if count < 16 then
            nb = nb + 1
            buf[nb] = schar(0x80 + count)
        elseif count < 0x10000 then
            nb = nb + 1
            buf[nb] = spack(">BI2", 0xde, count)
        else
            nb = nb + 1
            buf[nb] = spack(">BI4", 0xdf, count)
        end
        for k, v in next, t do
            encode(k, d)
            encode(v, d)
        end
    end
    seen[t] = nil
end

encode = function(v, depth)
    local tv = type(v)
    if tv == "string" then
        local len = #v
        if ulen(v) then
            if len < 32 then
                local head = FIXSTR[len]
                if head == nil then
                    head = schar(0xa0 + len)
                    FIXSTR[len] = head
                end
                nb = nb + 1
                buf[nb] = head
            elseif len < 0x100 then
                nb = nb + 1
                buf[nb] = spack(">BB", 0xd9, len)
            elseif len < 0x10000 then
                nb = nb + 1
                buf[nb] = spack(">BI2", 0xda, len)
            elseif len < 0x100000000 then
                nb = nb + 1
                buf[nb] = spack(">BI4", 0xdb, len)
            else
                error("skynet.pack: string too long", 0)
            end
        else
            -- not valid UTF-8: send as bin so Python gets bytes instead of a
            -- decode error
            if len < 0x100 then
                nb = nb + 1
                buf[nb] = spack(">BB", 0xc4, len)
            elseif len < 0x10000 then
                nb = nb + 1
                buf[nb] = spack(">BI2", 0xc5, len)
            elseif len < 0x100000000 then
                nb = nb + 1
                buf[nb] = spack(">BI4", 0xc6, len)
            else
                error("skynet.pack: string too long", 0)
            end
        end
        if len > 0 then
            nb = nb + 1
            buf[nb] = v
        end
    elseif tv == "number" then
        nb = nb + 1
        if mtype(v) == "integer" then
            local f = FIXINT[v]
            if f then
                buf[nb] = f
            elseif v >= -32 and v < 128 then
                f = schar(v & 0xff)
                FIXINT[v] = f
                buf[nb] = f
            elseif v >= 0 then
                if v < 0x100 then
                    buf[nb] = spack(">BB", 0xcc, v)
                elseif v < 0x10000 then
                    buf[nb] = spack(">BI2", 0xcd, v)
                elseif v < 0x100000000 then
                    buf[nb] = spack(">BI4", 0xce, v)
                else
                    buf[nb] = spack(">BI8", 0xcf, v)
                end
            elseif v >= -0x80 then
                buf[nb] = spack(">Bi1", 0xd0, v)
            elseif v >= -0x8000 then
                buf[nb] = spack(">Bi2", 0xd1, v)
            elseif v >= -0x80000000 then
                buf[nb] = spack(">Bi4", 0xd2, v)
            else
                buf[nb] = spack(">Bi8", 0xd3, v)
            end
        else
            -- always float64 so 1.0 stays a float on the other side
            buf[nb] = spack(">Bd", 0xcb, v)
        end
    elseif tv == "table" then
        encode_table(v, depth)
    elseif tv == "boolean" then
        nb = nb + 1
        buf[nb] = v and "\xc3" or "\xc2"
    elseif tv == "nil" then
        nb = nb + 1
        buf[nb] = "\xc0"
    else
        error("skynet.pack: unsupported type " .. tv, 0)
    end
end

function M.pack(...)
    local n = select("#", ...)
    if n == 0 then
        return ""
    end
    nb = 0
    -- a previous pack may have raised mid-table and left entries behind
    if next(seen) ~= nil then
        seen = {}
    end
    if n <= 4 then
        for i = 1, n do
            encode((select(i, ...)), 0)
        end
    else
        -- select(i, ...) copies the varargs each time: quadratic for long lists
        local args = { ... }
        for i = 1, n do
            encode(args[i], 0)
        end
    end
    local s = tconcat(buf, "", 1, nb)
    if nb > 64 then
        -- don't keep a big message's pieces alive until the next pack
        buf = {}
    end
    return s
end

---------------------------------------------------------------------------
-- Decoder
---------------------------------------------------------------------------

local function truncated()
    error("skynet.unpack: truncated message", 0)
end

-- uint8..uint64 then int8..int64
local INTFMT = {
    [0xcc] = ">I1", [0xcd] = ">I2", [0xce] = ">I4", [0xcf] = ">I8",
    [0xd0] = ">i1", [0xd1] = ">i2", [0xd2] = ">i4", [0xd3] = ">i8",
}
local INTWIDTH = {
    [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8,
    [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8,
}

local decode

local function decode_array(s, pos, last, n, depth)
    if depth >= MAXDEPTH then
        error("skynet.unpack: nested deeper than " .. MAXDEPTH, 0)
    end
    -- every element takes at least one byte; catches absurd headers early
    if n > last - pos + 1 then
        truncated()
    end
    local t = {}
    local d = depth + 1
    local v
    for i = 1, n do
        v, pos = decode(s, pos, last, d)
        t[i] = v
    end
    return t, pos
end

local function decode_map(s, pos, last, n, depth)
    if depth >= MAXDEPTH then
        error("skynet.unpack: nested deeper than " .. MAXDEPTH, 0)
    end
    if 2 * n > last - pos + 1 then
        truncated()
    end
    local t = {}
    local d = depth + 1
    local k, v
    for _ = 1, n do
        k, pos = decode(s, pos, last, d)
        v, pos = decode(s, pos, last, d)
        -- Lua tables cannot hold nil or NaN keys
        if k ~= nil and k == k then
            t[k] = v
        end
    end
    return t, pos
end

-- Reads a length-prefixed byte string whose body starts at pos.
local function body(s, pos, last, len)
    local e = pos + len - 1
    if e > last then
        truncated()
    end
    return ssub(s, pos, e), e + 1
end

decode = function(s, pos, last, depth)
    if pos > last then
        truncated()
    end
    local c = sbyte(s, pos)
    if c < 0x80 then
        return c, pos + 1
    elseif c >= 0xe0 then
        return c - 0x100, pos + 1
    elseif c >= 0xa0 and c < 0xc0 then
        return body(s, pos + 1, last, c - 0xa0)
    elseif c < 0x90 then
        return decode_map(s, pos + 1, last, c - 0x80, depth)
    elseif c < 0xa0 then
        return decode_array(s, pos + 1, last, c - 0x90, depth)
    elseif c == 0xc0 then
        return nil, pos + 1
    elseif c == 0xc2 then
        return false, pos + 1
    elseif c == 0xc3 then
        return true, pos + 1
    elseif c == 0xcb then
        if pos + 8 > last then
            truncated()
        end
        return sunpack(">d", s, pos + 1)
    elseif c >= 0xcc and c <= 0xd3 then
        if pos + INTWIDTH[c] > last then
            truncated()
        end
        if c == 0xcf then
            local v, np = sunpack(">I8", s, pos + 1)
            if v < 0 then
                -- uint64 above math.maxinteger wrapped negative; a float keeps
                -- the magnitude
                v = v + 18446744073709551616.0
            end
            return v, np
        end
        return sunpack(INTFMT[c], s, pos + 1)
    elseif c == 0xd9 or c == 0xc4 then
        if pos + 1 > last then
            truncated()
        end
        return body(s, pos + 2, last, sbyte(s, pos + 1))
    elseif c == 0xda or c == 0xc5 then
        if pos + 2 > last then
            truncated()
        end
        local len, np = sunpack(">I2", s, pos + 1)
        return body(s, np, last, len)
    elseif c == 0xdb or c == 0xc6 then
        if pos + 4 > last then
            truncated()
        end
        local len, np = sunpack(">I4", s, pos + 1)
        return body(s, np, last, len)
    elseif c == 0xca then
        if pos + 4 > last then
            truncated()
        end
        return sunpack(">f", s, pos + 1)
    elseif c == 0xdc or c == 0xde then
        if pos + 2 > last then
            truncated()
        end
        local n, np = sunpack(">I2", s, pos + 1)
        if c == 0xdc then
            return decode_array(s, np, last, n, depth)
        end
        return decode_map(s, np, last, n, depth)
    elseif c == 0xdd or c == 0xdf then
        if pos + 4 > last then
            truncated()
        end
        local n, np = sunpack(">I4", s, pos + 1)
        if c == 0xdd then
            return decode_array(s, np, last, n, depth)
        end
        return decode_map(s, np, last, n, depth)
    end
    -- 0xc1 (never used) and the ext family 0xc7-0xc9, 0xd4-0xd8
    error(("skynet.unpack: unsupported msgpack type 0x%02x"):format(c), 0)
end

local function limit(msg, sz)
    local last = #msg
    if sz and sz < last then
        last = sz
    end
    return last
end

function M.unpack(msg, sz)
    if msg == nil then
        return
    end
    local last = limit(msg, sz)
    if last < 1 then
        return
    end
    -- most messages carry one to three arguments; skip the table for those
    local v1, v2, v3, pos
    v1, pos = decode(msg, 1, last, 0)
    if pos > last then
        return v1
    end
    v2, pos = decode(msg, pos, last, 0)
    if pos > last then
        return v1, v2
    end
    v3, pos = decode(msg, pos, last, 0)
    if pos > last then
        return v1, v2, v3
    end
    local t = { v1, v2, v3 }
    local n = 3
    local v
    repeat
        v, pos = decode(msg, pos, last, 0)
        n = n + 1
        t[n] = v
    until pos > last
    return tunpack(t, 1, n)
end

function M.unpack_one(msg, pos)
    return decode(msg, pos or 1, #msg, 0)
end

return M
