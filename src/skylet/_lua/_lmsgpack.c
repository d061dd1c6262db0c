/*
 * skylet.cmsgpack: the C twin of lualib/skylet/msgpack.lua, loaded into every
 * service VM when available. It must write exactly the bytes msgpack.lua
 * writes and read back exactly what it reads, with the same error messages;
 * tests/test_msgpack_c.py holds both to that.
 *
 * Lua's C API comes from lupa's lupa.lua54 extension, through the pointers
 * skylet/_lua/_luabind.py fills in (skylet_cmsgpack_bind); see _lua54.h.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

/* X(return type, name, parameters): every Lua API function this file calls. */
#define LUA_API_USED(X)                                                   \
    X(lua_Number, lua_version, (lua_State * L))                           \
    X(int, lua_gettop, (lua_State * L))                                   \
    X(void, lua_settop, (lua_State * L, int idx))                         \
    X(void, lua_copy, (lua_State * L, int from, int to))                  \
    X(int, lua_checkstack, (lua_State * L, int n))                        \
    X(void, luaL_checkstack, (lua_State * L, int sz, const char *msg))    \
    X(int, lua_type, (lua_State * L, int idx))                            \
    X(const char *, lua_typename, (lua_State * L, int tp))                \
    X(int, lua_isinteger, (lua_State * L, int idx))                       \
    X(lua_Integer, lua_tointegerx, (lua_State * L, int idx, int *isnum))  \
    X(lua_Number, lua_tonumberx, (lua_State * L, int idx, int *isnum))    \
    X(int, lua_toboolean, (lua_State * L, int idx))                       \
    X(const char *, lua_tolstring, (lua_State * L, int idx, size_t *len)) \
    X(lua_Unsigned, lua_rawlen, (lua_State * L, int idx))                 \
    X(const void *, lua_topointer, (lua_State * L, int idx))              \
    X(void, lua_pushnil, (lua_State * L))                                 \
    X(void, lua_pushnumber, (lua_State * L, lua_Number n))                \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))              \
    X(const char *, lua_pushlstring, (lua_State * L, const char *s, size_t len)) \
    X(const char *, lua_pushstring, (lua_State * L, const char *s))       \
    X(void, lua_pushboolean, (lua_State * L, int b))                      \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))   \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))         \
    X(void *, lua_newuserdatauv, (lua_State * L, size_t sz, int nuvalue)) \
    X(int, lua_next, (lua_State * L, int idx))                            \
    X(int, lua_rawgeti, (lua_State * L, int idx, lua_Integer n))          \
    X(void, lua_rawset, (lua_State * L, int idx))                         \
    X(void, lua_rawseti, (lua_State * L, int idx, lua_Integer n))         \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))        \
    X(int, lua_error, (lua_State * L))                                    \
    X(const char *, luaL_checklstring, (lua_State * L, int arg, size_t *l)) \
    X(lua_Integer, luaL_optinteger, (lua_State * L, int arg, lua_Integer def)) \
    X(int, luaL_argerror, (lua_State * L, int arg, const char *extramsg))

#include "_lua54.h"

LUA_API_BINDING(skylet_cmsgpack)

#define lua_version (api.p_lua_version)
#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_copy (api.p_lua_copy)
#define lua_checkstack (api.p_lua_checkstack)
#define luaL_checkstack (api.p_luaL_checkstack)
#define lua_type (api.p_lua_type)
#define lua_typename (api.p_lua_typename)
#define lua_isinteger (api.p_lua_isinteger)
#define lua_tointegerx (api.p_lua_tointegerx)
#define lua_tonumberx (api.p_lua_tonumberx)
#define lua_toboolean (api.p_lua_toboolean)
#define lua_tolstring (api.p_lua_tolstring)
#define lua_rawlen (api.p_lua_rawlen)
#define lua_topointer (api.p_lua_topointer)
#define lua_pushnil (api.p_lua_pushnil)
#define lua_pushnumber (api.p_lua_pushnumber)
#define lua_pushinteger (api.p_lua_pushinteger)
#define lua_pushlstring (api.p_lua_pushlstring)
#define lua_pushstring (api.p_lua_pushstring)
#define lua_pushboolean (api.p_lua_pushboolean)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_newuserdatauv (api.p_lua_newuserdatauv)
#define lua_next (api.p_lua_next)
#define lua_rawgeti (api.p_lua_rawgeti)
#define lua_rawset (api.p_lua_rawset)
#define lua_rawseti (api.p_lua_rawseti)
#define lua_setfield (api.p_lua_setfield)
#define lua_error (api.p_lua_error)
#define luaL_checklstring (api.p_luaL_checklstring)
#define luaL_optinteger (api.p_luaL_optinteger)
#define luaL_argerror (api.p_luaL_argerror)

#define lua_pop(L, n) lua_settop(L, -(n)-1)
#define lua_replace(L, idx) (lua_copy(L, -1, (idx)), lua_pop(L, 1))

/* ---- Shared ---- */

#define MAXDEPTH 128

static int fail(lua_State *L, const char *msg) {
    lua_pushstring(L, msg); /* no position prefix, as error(msg, 0) */
    return lua_error(L);
}

static void put_be16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v) {
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be16(const unsigned char *p) {
    return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t get_be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const unsigned char *p) {
    return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

/* ---- UTF-8: what utf8.len accepts (strict: no surrogates, nothing above
 * U+10FFFF, no overlong forms) ---- */

static int valid_utf8(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* ASCII runs dominate: skip them eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t chunk;
            memcpy(&chunk, s + i, 8);
            if (chunk & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
        }
        if (len - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* ---- Encoder ---- */

#define INITIAL_BUFFER 512

typedef struct Encoder {
    lua_State *L;
    unsigned char *buf;
    size_t len, cap;
    int slot; /* stack slot anchoring the heap buffer once it outgrows local */
    const void *path[MAXDEPTH]; /* tables being encoded, outermost first */
    unsigned char local[INITIAL_BUFFER];
} Encoder;

/* Buffers beyond the local one are Lua userdata, anchored in e->slot, so an
 * error anywhere (including out of memory) leaks nothing. */
static void grow(Encoder *e, size_t need) {
    lua_State *L = e->L;
    size_t cap = e->cap * 2;
    if (cap - e->len < need) {
        if (need > SIZE_MAX / 2 - e->len)
            fail(L, "skynet.pack: message too large");
        cap = e->len + need;
    }
    if (!lua_checkstack(L, 1))
        fail(L, "skynet.pack: stack overflow");
    unsigned char *bigger = lua_newuserdatauv(L, cap, 0);
    memcpy(bigger, e->buf, e->len);
    lua_replace(L, e->slot);
    e->buf = bigger;
    e->cap = cap;
}

static inline unsigned char *reserve(Encoder *e, size_t n) {
    if (e->cap - e->len < n)
        grow(e, n);
    unsigned char *p = e->buf + e->len;
    e->len += n;
    return p;
}

static inline void put_byte(Encoder *e, unsigned c) {
    *reserve(e, 1) = (unsigned char)c;
}

static void put_integer(Encoder *e, lua_Integer v) {
    unsigned char *p;
    if (v >= 0) {
        if (v < 0x80) {
            put_byte(e, (unsigned)v);
        } else if (v < 0x100) {
            p = reserve(e, 2);
            p[0] = 0xcc, p[1] = (unsigned char)v;
        } else if (v < 0x10000) {
            p = reserve(e, 3);
            p[0] = 0xcd, put_be16(p + 1, (uint32_t)v);
        } else if (v < 0x100000000LL) {
            p = reserve(e, 5);
            p[0] = 0xce, put_be32(p + 1, (uint32_t)v);
        } else {
            p = reserve(e, 9);
            p[0] = 0xcf, put_be64(p + 1, (uint64_t)v);
        }
    } else if (v >= -32) {
        put_byte(e, (unsigned)(v & 0xff));
    } else if (v >= -0x80) {
        p = reserve(e, 2);
        p[0] = 0xd0, p[1] = (unsigned char)(v & 0xff);
    } else if (v >= -0x8000) {
        p = reserve(e, 3);
        p[0] = 0xd1, put_be16(p + 1, (uint32_t)(v & 0xffff));
    } else if (v >= -0x80000000LL) {
        p = reserve(e, 5);
        p[0] = 0xd2, put_be32(p + 1, (uint32_t)(v & 0xffffffff));
    } else {
        p = reserve(e, 9);
        p[0] = 0xd3, put_be64(p + 1, (uint64_t)v);
    }
}

static void put_float(Encoder *e, lua_Number v) {
    /* always float64 so 1.0 stays a float on the other side */
    uint64_t bits;
    memcpy(&bits, &v, 8);
    unsigned char *p = reserve(e, 9);
    p[0] = 0xcb;
    put_be64(p + 1, bits);
}

static void put_string(Encoder *e, const char *s, size_t len) {
    unsigned char *p;
    if (len > 0xffffffffULL)
        fail(e->L, "skynet.pack: string too long");
    if (valid_utf8((const unsigned char *)s, len)) {
        if (len < 32) {
            p = reserve(e, 1 + len);
            p[0] = (unsigned char)(0xa0 + len);
            p += 1;
        } else if (len < 0x100) {
            p = reserve(e, 2 + len);
            p[0] = 0xd9, p[1] = (unsigned char)len;
            p += 2;
        } else if (len < 0x10000) {
            p = reserve(e, 3 + len);
            p[0] = 0xda, put_be16(p + 1, (uint32_t)len);
            p += 3;
        } else {
            p = reserve(e, 5 + len);
            p[0] = 0xdb, put_be32(p + 1, (uint32_t)len);
            p += 5;
        }
    } else {
        /* not valid UTF-8: bin, so Python gets bytes instead of a decode error */
        if (len < 0x100) {
            p = reserve(e, 2 + len);
            p[0] = 0xc4, p[1] = (unsigned char)len;
            p += 2;
        } else if (len < 0x10000) {
            p = reserve(e, 3 + len);
            p[0] = 0xc5, put_be16(p + 1, (uint32_t)len);
            p += 3;
        } else {
            p = reserve(e, 5 + len);
            p[0] = 0xc6, put_be32(p + 1, (uint32_t)len);
            p += 5;
        }
    }
    memcpy(p, s, len);
}

static void put_container_header(Encoder *e, size_t n, unsigned fix, unsigned c16, unsigned c32) {
    unsigned char *p;
    if (n < 16) {
        put_byte(e, fix + (unsigned)n);
    } else if (n < 0x10000) {
        p = reserve(e, 3);
        p[0] = (unsigned char)c16, put_be16(p + 1, (uint32_t)n);
    } else {
        if (n > 0xffffffffULL)
            fail(e->L, "skynet.pack: table too large");
        p = reserve(e, 5);
        p[0] = (unsigned char)c32, put_be32(p + 1, (uint32_t)n);
    }
}

static void encode(Encoder *e, int idx, int depth);

/* A table is an array when its keys are exactly 1..n (n >= 1); a table that
 * may be one (#t >= 1) is checked with one pass over its keys. */
static int is_sequence(lua_State *L, int idx, lua_Unsigned n) {
    lua_Unsigned count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointegerx(L, -1, NULL);
        if (k < 1 || (lua_Unsigned)k > n || ++count > n) {
            lua_pop(L, 1);
            return 0;
        }
    }
    /* count distinct keys, all within 1..n: exactly 1..n when count == n */
    return count == n;
}

static void encode_table(Encoder *e, int idx, int depth) {
    lua_State *L = e->L;
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < depth; i++)
        if (e->path[i] == self)
            fail(L, "skynet.pack: table has a cycle");
    if (depth >= MAXDEPTH)
        fail(L, "skynet.pack: tables nested deeper than 128");
    luaL_checkstack(L, 4, "skynet.pack");
    e->path[depth] = self;

    int top = lua_gettop(L);
    lua_Unsigned n = lua_rawlen(L, idx);
    if (n > 0 && is_sequence(L, idx, n)) {
        put_container_header(e, (size_t)n, 0x90, 0xdc, 0xdd);
        for (lua_Unsigned i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            encode(e, top + 1, depth + 1);
            lua_pop(L, 1);
        }
        return;
    }

    /* A map: write the pairs first and the header after, so that one pass
     * over the table is enough; the header is 1 byte unless 16+ pairs. */
    size_t header = e->len;
    put_byte(e, 0x80);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        encode(e, top + 1, depth + 1);
        encode(e, top + 2, depth + 1);
        lua_pop(L, 1);
        count++;
    }
    if (count < 16) {
        e->buf[header] = (unsigned char)(0x80 + count);
        return;
    }
    size_t extra = count < 0x10000 ? 2 : 4;
    if (count > 0xffffffffULL)
        fail(L, "skynet.pack: table too large");
    reserve(e, extra);
    unsigned char *h = e->buf + header;
    memmove(h + 1 + extra, h + 1, e->len - extra - header - 1);
    if (extra == 2)
        h[0] = 0xde, put_be16(h + 1, (uint32_t)count);
    else
        h[0] = 0xdf, put_be32(h + 1, (uint32_t)count);
}

static void encode(Encoder *e, int idx, int depth) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        put_byte(e, 0xc0);
        break;
    case LUA_TBOOLEAN:
        put_byte(e, lua_toboolean(L, idx) ? 0xc3 : 0xc2);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            put_integer(e, lua_tointegerx(L, idx, NULL));
        else
            put_float(e, lua_tonumberx(L, idx, NULL));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(e, s, len);
        break;
    }
    case LUA_TTABLE:
        encode_table(e, idx, depth);
        break;
    default: {
        char msg[80];
        snprintf(msg, sizeof msg, "skynet.pack: unsupported type %s",
                 lua_typename(L, lua_type(L, idx)));
        fail(L, msg);
    }
    }
}

/* pack(...) -> one msgpack object per argument, concatenated */
static int l_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) {
        lua_pushlstring(L, "", 0);
        return 1;
    }
    Encoder e;
    e.L = L;
    e.buf = e.local;
    e.len = 0;
    e.cap = sizeof e.local;
    lua_pushnil(L); /* the C function's guaranteed stack space covers this */
    e.slot = n + 1;
    for (int i = 1; i <= n; i++)
        encode(&e, i, 0);
    lua_pushlstring(L, (const char *)e.buf, e.len);
    return 1;
}

/* ---- Decoder ---- */

typedef struct Decoder {
    lua_State *L;
    const unsigned char *p, *end;
} Decoder;

static int truncated(lua_State *L) {
    return fail(L, "skynet.unpack: truncated message");
}

static inline void need(Decoder *d, size_t n) {
    if ((size_t)(d->end - d->p) < n)
        truncated(d->L);
}

static void decode(Decoder *d, int depth);

static void decode_body(Decoder *d, size_t len) {
    need(d, len);
    lua_pushlstring(d->L, (const char *)d->p, len);
    d->p += len;
}

static void decode_array(Decoder *d, size_t n, int depth) {
    lua_State *L = d->L;
    if (depth >= MAXDEPTH)
        fail(L, "skynet.unpack: nested deeper than 128");
    /* every element takes at least one byte; catches absurd headers early */
    need(d, n);
    luaL_checkstack(L, 3, "skynet.unpack");
    lua_createtable(L, n > INT_MAX ? 0 : (int)n, 0);
    for (size_t i = 1; i <= n; i++) {
        decode(d, depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i);
    }
}

static void decode_map(Decoder *d, size_t n, int depth) {
    lua_State *L = d->L;
    if (depth >= MAXDEPTH)
        fail(L, "skynet.unpack: nested deeper than 128");
    if ((size_t)(d->end - d->p) / 2 < n)
        truncated(L);
    luaL_checkstack(L, 3, "skynet.unpack");
    lua_createtable(L, 0, n > INT_MAX ? 0 : (int)n);
    for (size_t i = 0; i < n; i++) {
        decode(d, depth + 1);
        decode(d, depth + 1);
        int kt = lua_type(L, -2);
        /* Lua tables cannot hold nil or NaN keys */
        if (kt == LUA_TNIL) {
            lua_pop(L, 2);
        } else if (kt == LUA_TNUMBER && !lua_isinteger(L, -2)) {
            lua_Number k = lua_tonumberx(L, -2, NULL);
            if (k != k)
                lua_pop(L, 2);
            else
                lua_rawset(L, -3);
        } else {
            lua_rawset(L, -3);
        }
    }
}

static void decode(Decoder *d, int depth) {
    lua_State *L = d->L;
    if (d->p >= d->end)
        truncated(L);
    unsigned c = *d->p++;
    const unsigned char *p = d->p;
    if (c < 0x80) {
        lua_pushinteger(L, c);
        return;
    }
    if (c >= 0xe0) {
        lua_pushinteger(L, (lua_Integer)c - 0x100);
        return;
    }
    if (c >= 0xa0 && c < 0xc0) {
        decode_body(d, c - 0xa0);
        return;
    }
    if (c < 0x90) {
        decode_map(d, c - 0x80, depth);
        return;
    }
    if (c < 0xa0) {
        decode_array(d, c - 0x90, depth);
        return;
    }
    switch (c) {
    case 0xc0:
        lua_pushnil(L);
        return;
    case 0xc2:
        lua_pushboolean(L, 0);
        return;
    case 0xc3:
        lua_pushboolean(L, 1);
        return;
    case 0xca: {
        need(d, 4);
        uint32_t bits = get_be32(p);
        float f;
        memcpy(&f, &bits, 4);
        d->p += 4;
        lua_pushnumber(L, (lua_Number)f);
        return;
    }
    case 0xcb: {
        need(d, 8);
        uint64_t bits = get_be64(p);
        lua_Number v;
        memcpy(&v, &bits, 8);
        d->p += 8;
        lua_pushnumber(L, v);
        return;
    }
    case 0xcc:
        need(d, 1);
        d->p += 1;
        lua_pushinteger(L, p[0]);
        return;
    case 0xcd:
        need(d, 2);
        d->p += 2;
        lua_pushinteger(L, get_be16(p));
        return;
    case 0xce:
        need(d, 4);
        d->p += 4;
        lua_pushinteger(L, get_be32(p));
        return;
    case 0xcf: {
        need(d, 8);
        d->p += 8;
        lua_Integer v = (lua_Integer)get_be64(p);
        if (v < 0) {
            /* above math.maxinteger: a float keeps the magnitude; computed
             * as msgpack.lua does so both round alike */
            lua_pushnumber(L, (lua_Number)v + 18446744073709551616.0);
        } else {
            lua_pushinteger(L, v);
        }
        return;
    }
    case 0xd0:
        need(d, 1);
        d->p += 1;
        lua_pushinteger(L, (int8_t)p[0]);
        return;
    case 0xd1:
        need(d, 2);
        d->p += 2;
        lua_pushinteger(L, (int16_t)get_be16(p));
        return;
    case 0xd2:
        need(d, 4);
        d->p += 4;
        lua_pushinteger(L, (int32_t)get_be32(p));
        return;
    case 0xd3:
        need(d, 8);
        d->p += 8;
        lua_pushinteger(L, (lua_Integer)get_be64(p));
        return;
    case 0xc4:
    case 0xd9:
        need(d, 1);
        d->p += 1;
        decode_body(d, p[0]);
        return;
    case 0xc5:
    case 0xda:
        need(d, 2);
        d->p += 2;
        decode_body(d, get_be16(p));
        return;
    case 0xc6:
    case 0xdb:
        need(d, 4);
        d->p += 4;
        decode_body(d, get_be32(p));
        return;
    case 0xdc:
        need(d, 2);
        d->p += 2;
        decode_array(d, get_be16(p), depth);
        return;
    case 0xdd:
        need(d, 4);
        d->p += 4;
        decode_array(d, get_be32(p), depth);
        return;
    case 0xde:
        need(d, 2);
        d->p += 2;
        decode_map(d, get_be16(p), depth);
        return;
    case 0xdf:
        need(d, 4);
        d->p += 4;
        decode_map(d, get_be32(p), depth);
        return;
    default: {
        /* 0xc1 (never used) and the ext family 0xc7-0xc9, 0xd4-0xd8 */
        char msg[64];
        snprintf(msg, sizeof msg, "skynet.unpack: unsupported msgpack type 0x%02x", c);
        fail(L, msg);
    }
    }
}

/* unpack(msg [, sz]) -> every object in msg (or its first sz bytes) */
static int l_unpack(lua_State *L) {
    if (lua_type(L, 1) <= LUA_TNIL)
        return 0;
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer last = luaL_optinteger(L, 2, (lua_Integer)len);
    if (last > (lua_Integer)len)
        last = (lua_Integer)len;
    if (last < 1)
        return 0;
    lua_settop(L, 1); /* msg stays on the stack, keeping s alive */
    Decoder d = {L, (const unsigned char *)s, (const unsigned char *)s + last};
    int n = 0;
    while (d.p < d.end) {
        luaL_checkstack(L, 2, "skynet.unpack: too many values");
        decode(&d, 0);
        n++;
    }
    return n;
}

/* unpack_one(msg [, pos]) -> the object at pos (default 1), next pos */
static int l_unpack_one(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer pos = luaL_optinteger(L, 2, 1);
    if (pos < 1)
        return luaL_argerror(L, 2, "position out of range");
    lua_settop(L, 1);
    Decoder d = {L, (const unsigned char *)s, (const unsigned char *)s + len};
    if ((lua_Unsigned)pos - 1 > len)
        truncated(L);
    d.p += pos - 1;
    decode(&d, 0);
    lua_pushinteger(L, (lua_Integer)(d.p - (const unsigned char *)s) + 1);
    return 2;
}

/* Opened by the boot chunk through package.loadlib. Returns nothing (so the
 * VM falls back to msgpack.lua) unless skylet bound the API to this very
 * Lua 5.4. */
EXPORT int luaopen_skylet_cmsgpack(lua_State *L) {
    if (!api_bound || lua_version(L) != 504)
        return 0;
    lua_createtable(L, 0, 3);
    lua_pushcclosure(L, l_pack, 0);
    lua_setfield(L, -2, "pack");
    lua_pushcclosure(L, l_unpack, 0);
    lua_setfield(L, -2, "unpack");
    lua_pushcclosure(L, l_unpack_one, 0);
    lua_setfield(L, -2, "unpack_one");
    return 1;
}
