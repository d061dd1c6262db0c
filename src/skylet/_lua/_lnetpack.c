/*
 * skylet.cnetpack: the C cutter behind skynet.netpack's filter (lualib
 * skynet/netpack.lua), which sits on every client message the gate
 * receives: a packet on the wire is a 2-byte big-endian length, then that
 * many bytes.
 *
 *   cut(buf [, maxpacket]) -> count, restpos, first, all, bad
 *     count    whole packets in buf before the end or a bad length;
 *     first    the first of them (or nil);
 *     all      when count > 1, a sequence of every one, first included (else nil);
 *     restpos  where the unfinished rest of buf starts (#buf + 1: none);
 *     bad      a length of 0 or above maxpacket (when given), where cutting
 *              stopped (else nil).
 *
 * It must cut exactly as netpack.lua's own cutter does (its fallback, used
 * where the codec library is not built); tests/net/test_netpack.py holds
 * the two to that. Built into the codec library and bound with it; the boot
 * chunk opens it into package.loaded["skylet.cnetpack"].
 */
#include <stddef.h>
#include <stdint.h>

/* X(return type, name, parameters): every Lua API function this file calls. */
#define LUA_API_USED(X)                                                          \
    X(int, lua_type, (lua_State * L, int idx))                                   \
    X(lua_Integer, lua_tointegerx, (lua_State * L, int idx, int *isnum))         \
    X(const char *, luaL_checklstring, (lua_State * L, int arg, size_t *l))      \
    X(void, lua_pushnil, (lua_State * L))                                        \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))                     \
    X(const char *, lua_pushlstring, (lua_State * L, const char *s, size_t len)) \
    X(void, lua_pushvalue, (lua_State * L, int idx))                             \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))          \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))                \
    X(void, lua_rawseti, (lua_State * L, int idx, lua_Integer n))                \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))               \
    X(void, lua_settop, (lua_State * L, int idx))

#include "_lua54.h"

LUA_API_BINDING(skylet_cnetpack)

#define lua_type (api.p_lua_type)
#define lua_tointegerx (api.p_lua_tointegerx)
#define luaL_checklstring (api.p_luaL_checklstring)
#define lua_pushnil (api.p_lua_pushnil)
#define lua_pushinteger (api.p_lua_pushinteger)
#define lua_pushlstring (api.p_lua_pushlstring)
#define lua_pushvalue (api.p_lua_pushvalue)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_rawseti (api.p_lua_rawseti)
#define lua_setfield (api.p_lua_setfield)
#define lua_settop (api.p_lua_settop)

/* The packet at p (its 2-byte header first): its length. */
static size_t packet_size(const unsigned char *p) {
    return ((size_t)p[0] << 8) | p[1];
}

static int lcut(lua_State *L) {
    size_t len;
    const unsigned char *buf = (const unsigned char *)luaL_checklstring(L, 1, &len);
    lua_Integer maxpacket = -1; /* none */
    if (lua_type(L, 2) == LUA_TNUMBER) {
        int isnum;
        maxpacket = lua_tointegerx(L, 2, &isnum);
        if (!isnum)
            maxpacket = -1;
    }
    size_t pos = 0, count = 0;
    lua_Integer bad = -1;
    while (len - pos >= 2) {
        size_t size = packet_size(buf + pos);
        if (maxpacket >= 0 && (size == 0 || (lua_Integer)size > maxpacket)) {
            bad = (lua_Integer)size;
            break;
        }
        if (len - pos - 2 < size)
            break;
        pos += 2 + size;
        count++;
    }
    lua_settop(L, 0);
    lua_pushinteger(L, (lua_Integer)count);   /* 1 */
    lua_pushinteger(L, (lua_Integer)pos + 1); /* 2: restpos, 1-based */
    if (count == 0) {
        lua_pushnil(L);
        lua_pushnil(L);
    } else {
        size_t first_size = packet_size(buf);
        lua_pushlstring(L, (const char *)buf + 2, first_size); /* 3: first */
        if (count == 1) {
            lua_pushnil(L);
        } else {
            lua_createtable(L, count < 0x7fffffff ? (int)count : 0x7fffffff, 0); /* 4 */
            lua_pushvalue(L, 3);
            lua_rawseti(L, 4, 1);
            size_t at = 2 + first_size;
            for (size_t i = 2; i <= count; i++) {
                size_t size = packet_size(buf + at);
                lua_pushlstring(L, (const char *)buf + at + 2, size);
                lua_rawseti(L, 4, (lua_Integer)i);
                at += 2 + size;
            }
        }
    }
    if (bad >= 0)
        lua_pushinteger(L, bad);
    else
        lua_pushnil(L);
    return 5;
}

EXPORT int luaopen_skylet_cnetpack(lua_State *L) {
    if (!api_bound)
        return 0; /* not bound: netpack.lua cuts in Lua */
    lua_createtable(L, 0, 1);
    lua_pushcclosure(L, lcut, 0);
    lua_setfield(L, -2, "cut");
    return 1;
}
