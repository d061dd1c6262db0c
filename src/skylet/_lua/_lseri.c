/*
 * skylet.cseri: the C twin of lualib/skylet/seri.lua, skynet.pack's format
 * (lua-seri) as the cluster writes it on the wire. It must write exactly the
 * bytes seri.lua writes and read back what it reads, with the same error
 * messages; tests/cluster/test_cluster_codec.py holds both to that.
 *
 * It is built into the codec library (_lmsgpack's extension) and bound with
 * it (skylet_cseri_bind, see _lua54.h); the boot chunk opens it into
 * package.loaded["skylet.cseri"] beside the msgpack codec.
 *
 * Layout: a type byte `type | cookie << 3`, little-endian fields after it.
 *   0 nil; 1 boolean (cookie 1 true); 2 number (cookie 0 zero, 1 uint8,
 *   2 uint16, 4 int32, 6 int64, 8 double); 3 C pointer (refused);
 *   4 short string (cookie = length < 32); 5 long string (cookie 2: uint16
 *   length, 4: uint32); 6 table (cookie = array size, 31: the size follows
 *   as a number; array items, key/value pairs, nil).
 */
#include <stdint.h>
#include <stdio.h>

/* X(return type, name, parameters): every Lua API function this file calls. */
#define LUA_API_USED(X)                                                          \
    X(int, lua_gettop, (lua_State * L))                                          \
    X(void, lua_settop, (lua_State * L, int idx))                                \
    X(void, lua_pushvalue, (lua_State * L, int idx))                             \
    X(void, lua_copy, (lua_State * L, int from, int to))                         \
    X(int, lua_checkstack, (lua_State * L, int n))                               \
    X(void, luaL_checkstack, (lua_State * L, int sz, const char *msg))           \
    X(int, lua_type, (lua_State * L, int idx))                                   \
    X(const char *, lua_typename, (lua_State * L, int tp))                       \
    X(int, lua_isinteger, (lua_State * L, int idx))                              \
    X(lua_Integer, lua_tointegerx, (lua_State * L, int idx, int *isnum))         \
    X(lua_Number, lua_tonumberx, (lua_State * L, int idx, int *isnum))           \
    X(int, lua_toboolean, (lua_State * L, int idx))                              \
    X(const char *, lua_tolstring, (lua_State * L, int idx, size_t *len))        \
    X(lua_Unsigned, lua_rawlen, (lua_State * L, int idx))                        \
    X(void, lua_pushnil, (lua_State * L))                                        \
    X(void, lua_pushnumber, (lua_State * L, lua_Number n))                       \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))                     \
    X(const char *, lua_pushlstring, (lua_State * L, const char *s, size_t len)) \
    X(const char *, lua_pushstring, (lua_State * L, const char *s))              \
    X(void, lua_pushboolean, (lua_State * L, int b))                             \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))          \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))                \
    X(void *, lua_newuserdatauv, (lua_State * L, size_t sz, int nuvalue))        \
    X(int, lua_next, (lua_State * L, int idx))                                   \
    X(int, lua_rawgeti, (lua_State * L, int idx, lua_Integer n))                 \
    X(void, lua_rawset, (lua_State * L, int idx))                                \
    X(void, lua_rawseti, (lua_State * L, int idx, lua_Integer n))                \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))               \
    X(void, lua_callk, (lua_State * L, int nargs, int nresults, intptr_t ctx, void *k)) \
    X(int, luaL_getmetafield, (lua_State * L, int obj, const char *e))           \
    X(int, lua_error, (lua_State * L))                                           \
    X(const char *, luaL_checklstring, (lua_State * L, int arg, size_t *l))

#include "_lua54.h"

LUA_API_BINDING(skylet_cseri)

#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_pushvalue (api.p_lua_pushvalue)
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
#define lua_callk (api.p_lua_callk)
#define luaL_getmetafield (api.p_luaL_getmetafield)
#define lua_error (api.p_lua_error)
#define luaL_checklstring (api.p_luaL_checklstring)

#define lua_pop(L, n) lua_settop(L, -(n)-1)
#define lua_replace(L, idx) (lua_copy(L, -1, (idx)), lua_pop(L, 1))

#define MAX_DEPTH 32         /* tables skynet.pack nests, at most */
#define MAX_READ_DEPTH 128   /* tables unpack accepts nested */
#define MAX_COOKIE 32

static int fail(lua_State *L, const char *msg) {
    lua_pushstring(L, msg); /* no position prefix, as error(msg, 0) */
    return lua_error(L);
}

/* ---- pack ---- */

#define INITIAL_BUFFER 512

typedef struct Encoder {
    lua_State *L;
    unsigned char *buf;
    size_t len, cap;
    int slot; /* stack slot anchoring the heap buffer once it outgrows local */
    unsigned char local[INITIAL_BUFFER];
} Encoder;

/* Buffers beyond the local one are Lua userdata anchored in e->slot, so an
 * error anywhere (out of memory included) leaks nothing. */
static void grow(Encoder *e, size_t need) {
    lua_State *L = e->L;
    size_t cap = e->cap * 2;
    if (cap - e->len < need) {
        if (need > SIZE_MAX / 2 - e->len)
            fail(L, "serialize: message too large");
        cap = e->len + need;
    }
    if (!lua_checkstack(L, 1))
        fail(L, "serialize: stack overflow");
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

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_integer(Encoder *e, lua_Integer v) {
    unsigned char *p;
    if (v == 0) {
        put_byte(e, 0x02);
    } else if (v < -0x80000000LL || v > 0x7fffffffLL) {
        p = reserve(e, 9);
        p[0] = 0x32, put_le(p + 1, (uint64_t)v, 8);
    } else if (v < 0) {
        p = reserve(e, 5);
        p[0] = 0x22, put_le(p + 1, (uint64_t)(uint32_t)(int32_t)v, 4);
    } else if (v < 0x100) {
        p = reserve(e, 2);
        p[0] = 0x0a, p[1] = (unsigned char)v;
    } else if (v < 0x10000) {
        p = reserve(e, 3);
        p[0] = 0x12, put_le(p + 1, (uint64_t)v, 2);
    } else {
        p = reserve(e, 5);
        p[0] = 0x22, put_le(p + 1, (uint64_t)v, 4);
    }
}

static void put_string(Encoder *e, const char *s, size_t len) {
    unsigned char *p;
    if (len < MAX_COOKIE) {
        p = reserve(e, 1 + len);
        p[0] = (unsigned char)(4 | len << 3);
        p += 1;
    } else if (len < 0x10000) {
        p = reserve(e, 3 + len);
        p[0] = 0x15, put_le(p + 1, len, 2);
        p += 3;
    } else if (len <= 0x7fffffff) {
        p = reserve(e, 5 + len);
        p[0] = 0x25, put_le(p + 1, len, 4);
        p += 5;
    } else {
        char msg[80];
        snprintf(msg, sizeof msg, "serialize can't pack a string of %zu bytes", len);
        fail(e->L, msg);
        return;
    }
    memcpy(p, s, len);
}

static void pack_one(Encoder *e, int idx, int depth);

/* A table with a __pairs metamethod goes as pairs only, as lua-seri does. */
static void pack_metapairs(Encoder *e, int idx, int depth) {
    lua_State *L = e->L;
    put_byte(e, 0x06);
    lua_pushvalue(L, idx);           /* __pairs t */
    lua_callk(L, 1, 3, 0, NULL);  /* f st k */
    for (;;) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_callk(L, 2, 2, 0, NULL); /* f st k k' v */
        if (lua_type(L, -2) == LUA_TNIL) {
            lua_pop(L, 5);
            break;
        }
        int top = lua_gettop(L);
        pack_one(e, top - 1, depth);
        pack_one(e, top, depth);
        lua_pop(L, 1);
        lua_replace(L, -2);          /* f st k' */
    }
    put_byte(e, 0x00);
}

static void pack_table(Encoder *e, int idx, int depth) {
    lua_State *L = e->L;
    luaL_checkstack(L, 8, "serialize: tables nested too deep");
    if (luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL) {
        pack_metapairs(e, idx, depth);
        return;
    }
    lua_Unsigned n = lua_rawlen(L, idx);
    if (n >= MAX_COOKIE - 1) {
        put_byte(e, 0xfe);
        put_integer(e, (lua_Integer)n);
    } else {
        put_byte(e, (unsigned)(6 | n << 3));
    }
    for (lua_Unsigned i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        pack_one(e, lua_gettop(L), depth);
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        if (lua_isinteger(L, top - 1)) {
            lua_Integer k = lua_tointegerx(L, top - 1, NULL);
            if (k > 0 && (lua_Unsigned)k <= n) {
                lua_pop(L, 1);
                continue;
            }
        }
        pack_one(e, top - 1, depth);
        pack_one(e, top, depth);
        lua_pop(L, 1);
    }
    put_byte(e, 0x00);
}

static void pack_one(Encoder *e, int idx, int depth) {
    lua_State *L = e->L;
    if (depth > MAX_DEPTH)
        fail(L, "serialize can't pack too depth table");
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TNIL:
        put_byte(e, 0x00);
        break;
    case LUA_TBOOLEAN:
        put_byte(e, lua_toboolean(L, idx) ? 0x09 : 0x01);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            put_integer(e, lua_tointegerx(L, idx, NULL));
        } else {
            lua_Number v = lua_tonumberx(L, idx, NULL);
            unsigned char *p = reserve(e, 9);
            uint64_t bits;
            memcpy(&bits, &v, 8);
            p[0] = 0x42, put_le(p + 1, bits, 8);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(e, s, len);
        break;
    }
    case LUA_TTABLE:
        pack_table(e, idx, depth + 1);
        break;
    default: {
        char msg[80];
        snprintf(msg, sizeof msg, "Unsupport type %s to serialize", lua_typename(L, t));
        fail(L, msg);
    }
    }
}

static int lpack(lua_State *L) {
    int n = lua_gettop(L);
    Encoder e;
    e.L = L;
    e.buf = e.local;
    e.len = 0;
    e.cap = INITIAL_BUFFER;
    luaL_checkstack(L, 2, "serialize: too many values");
    lua_pushnil(L); /* the slot anchoring a heap buffer */
    e.slot = lua_gettop(L);
    for (int i = 1; i <= n; i++)
        pack_one(&e, i, 0);
    lua_pushlstring(L, (const char *)e.buf, e.len);
    return 1;
}

/* ---- unpack ---- */

typedef struct Decoder {
    lua_State *L;
    const unsigned char *s;
    size_t len, pos; /* pos: 0-based offset of the next byte */
} Decoder;

/* at: 0-based offset; messages name 1-based positions, as seri.lua does */
static int invalid(Decoder *d, size_t at, const char *why) {
    char msg[120];
    snprintf(msg, sizeof msg, "Invalid serialize stream at byte %zu: %s", at + 1, why);
    return fail(d->L, msg);
}

static void need(Decoder *d, size_t n) {
    if (n > d->len - d->pos)
        invalid(d, d->pos, "truncated");
}

static uint64_t get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* pos is just after the type byte */
static lua_Integer read_integer(Decoder *d, int cookie) {
    const unsigned char *p = d->s + d->pos;
    switch (cookie) {
    case 0:
        return 0;
    case 1:
        need(d, 1);
        d->pos += 1;
        return p[0];
    case 2:
        need(d, 2);
        d->pos += 2;
        return (lua_Integer)get_le(p, 2);
    case 4:
        need(d, 4);
        d->pos += 4;
        return (lua_Integer)(int32_t)(uint32_t)get_le(p, 4);
    case 6:
        need(d, 8);
        d->pos += 8;
        return (lua_Integer)get_le(p, 8);
    default: {
        char why[40];
        snprintf(why, sizeof why, "bad number width %d", cookie);
        invalid(d, d->pos - 1, why);
        return 0;
    }
    }
}

static void unpack_value(Decoder *d, int depth);

static void unpack_table(Decoder *d, int cookie, int depth) {
    lua_State *L = d->L;
    if (depth > MAX_READ_DEPTH)
        invalid(d, d->pos - 1, "tables nested too deep");
    lua_Integer n = cookie;
    if (cookie == MAX_COOKIE - 1) {
        need(d, 1);
        unsigned b = d->s[d->pos];
        if ((b & 7) != 2 || b >> 3 == 8)
            invalid(d, d->pos, "bad array size");
        d->pos += 1;
        n = read_integer(d, (int)(b >> 3));
        /* each item takes at least a byte */
        if (n < 0 || (lua_Unsigned)n > d->len - d->pos)
            invalid(d, d->pos, "bad array size");
    }
    luaL_checkstack(L, 4, "serialize: tables nested too deep");
    lua_createtable(L, (int)n, 0);
    int t = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        unpack_value(d, depth);
        lua_rawseti(L, t, i);
    }
    for (;;) {
        size_t at = d->pos;
        unpack_value(d, depth);
        int kt = lua_type(L, -1);
        if (kt == LUA_TNIL) {
            lua_pop(L, 1);
            return;
        }
        if (kt == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number k = lua_tonumberx(L, -1, NULL);
            if (k != k)
                invalid(d, at, "NaN table key");
        }
        unpack_value(d, depth);
        lua_rawset(L, t);
    }
}

static void unpack_value(Decoder *d, int depth) {
    lua_State *L = d->L;
    if (d->pos >= d->len)
        invalid(d, d->pos, "truncated");
    unsigned b = d->s[d->pos++];
    int type = (int)(b & 7), cookie = (int)(b >> 3);
    switch (type) {
    case 0:
        lua_pushnil(L);
        return;
    case 1:
        lua_pushboolean(L, cookie != 0);
        return;
    case 2:
        if (cookie == 8) {
            need(d, 8);
            uint64_t bits = get_le(d->s + d->pos, 8);
            lua_Number v;
            memcpy(&v, &bits, 8);
            d->pos += 8;
            lua_pushnumber(L, v);
        } else {
            lua_pushinteger(L, read_integer(d, cookie));
        }
        return;
    case 4:
        need(d, (size_t)cookie);
        lua_pushlstring(L, (const char *)d->s + d->pos, (size_t)cookie);
        d->pos += (size_t)cookie;
        return;
    case 5: {
        size_t n;
        if (cookie == 2) {
            need(d, 2);
            n = (size_t)get_le(d->s + d->pos, 2);
            d->pos += 2;
        } else if (cookie == 4) {
            need(d, 4);
            n = (size_t)get_le(d->s + d->pos, 4);
            d->pos += 4;
        } else {
            char why[48];
            snprintf(why, sizeof why, "bad string length width %d", cookie);
            invalid(d, d->pos - 1, why);
            return;
        }
        need(d, n);
        lua_pushlstring(L, (const char *)d->s + d->pos, n);
        d->pos += n;
        return;
    }
    case 6:
        unpack_table(d, cookie, depth + 1);
        return;
    case 3:
        invalid(d, d->pos - 1, "a C pointer (userdata) cannot cross processes");
        return;
    default: {
        char why[32];
        snprintf(why, sizeof why, "unknown type %d", type);
        invalid(d, d->pos - 1, why);
    }
    }
}

static int lunpack(lua_State *L) {
    Decoder d;
    d.L = L;
    d.s = (const unsigned char *)luaL_checklstring(L, 1, &d.len);
    d.pos = 0;
    lua_settop(L, 1);
    int n = 0;
    while (d.pos < d.len) {
        luaL_checkstack(L, 2, "serialize: too many values");
        unpack_value(&d, 0);
        n++;
    }
    return n;
}

EXPORT int luaopen_skylet_cseri(lua_State *L) {
    if (!api_bound)
        return 0; /* not bound: the caller falls back to seri.lua */
    lua_createtable(L, 0, 2);
    lua_pushcclosure(L, lpack, 0);
    lua_setfield(L, -2, "pack");
    lua_pushcclosure(L, lunpack, 0);
    lua_setfield(L, -2, "unpack");
    return 1;
}
