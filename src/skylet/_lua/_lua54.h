/*
 * The slice of Lua 5.4's ABI (lua.h, lauxlib.h) that skylet's Lua C modules
 * use, and the way they reach it.
 *
 * The modules do not link against Lua. lupa's lupa.lua54 extension carries
 * Lua 5.4 statically and its symbols are private to it; no Lua headers ship
 * with lupa or on PyPI. So each module lists the API functions it calls
 * (LUA_API_USED), keeps them as pointers, and skylet/_lua/_luabind.py fills them in
 * with the addresses of lupa's own functions (PREFIX_bind) before any VM opens
 * the module. Making lupa's symbols global instead (RTLD_GLOBAL) would let
 * them interpose on every Lua library loaded later, e.g. lupa.lua55, which
 * then aborts the process.
 *
 * Usage, in a module:
 *     #define LUA_API_USED(X) X(int, lua_gettop, (lua_State * L)) ...
 *     #include "_lua54.h"
 *     LUA_API_BINDING(skylet_mymodule)
 *     #define lua_gettop (api.p_lua_gettop)
 */
#ifndef SKYLET_LUA54_H
#define SKYLET_LUA54_H

#include <stddef.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct lua_State lua_State;
typedef struct lua_Debug lua_Debug; /* only ever passed through */
typedef long long lua_Integer;
typedef unsigned long long lua_Unsigned;
typedef double lua_Number;
typedef int (*lua_CFunction)(lua_State *L);
typedef void (*lua_Hook)(lua_State *L, lua_Debug *ar);

#define LUA_TNONE (-1)
#define LUA_TNIL 0
#define LUA_TBOOLEAN 1
#define LUA_TLIGHTUSERDATA 2
#define LUA_TNUMBER 3
#define LUA_TSTRING 4
#define LUA_TTABLE 5
#define LUA_TFUNCTION 6
#define LUA_TUSERDATA 7
#define LUA_TTHREAD 8

#define LUA_OK 0
#define LUA_YIELD 1
#define LUA_ERRMEM 4

/* LUAI_MAXSTACK is 1,000,000 in Lua 5.4's default luaconf.h, which lupa uses */
#define LUA_REGISTRYINDEX (-1000000 - 1000)
#define lua_upvalueindex(i) (LUA_REGISTRYINDEX - (i))

#define LUA_HOOKCOUNT 3
#define LUA_MASKCOUNT (1 << LUA_HOOKCOUNT)

/* Declares `api` (one pointer per function of LUA_API_USED) and the two
 * entry points skylet/_lua/_luabind.py calls:
 *   PREFIX_symbol(i): the name of the i-th function, NULL past the end;
 *   PREFIX_bind(addresses, n): stores their addresses, in that order;
 *     0, or -1 if the count is wrong or one is missing. */
#define LUA_API_DECLARE_POINTER_(ret, name, params) ret(*p_##name) params;
#define LUA_API_SYMBOL_NAME_(ret, name, params) #name,
#define LUA_API_BINDING(prefix)                                                  \
    static struct {                                                              \
        LUA_API_USED(LUA_API_DECLARE_POINTER_)                                   \
    } api;                                                                       \
    static int api_bound = 0;                                                    \
    static const char *const api_symbols[] = {LUA_API_USED(LUA_API_SYMBOL_NAME_) \
                                                  NULL};                         \
    EXPORT const char *prefix##_symbol(int i) {                                  \
        if (i < 0 || i >= (int)(sizeof(api_symbols) / sizeof(api_symbols[0])))   \
            return NULL;                                                         \
        return api_symbols[i];                                                   \
    }                                                                            \
    EXPORT int prefix##_bind(void *const *addresses, int n) {                    \
        int expected = (int)(sizeof(api_symbols) / sizeof(api_symbols[0])) - 1; \
        if (n != expected)                                                       \
            return -1;                                                           \
        for (int i = 0; i < n; i++)                                              \
            if (addresses[i] == NULL)                                            \
                return -1;                                                       \
        /* struct api is n function pointers in declaration order */             \
        memcpy(&api, addresses, sizeof(api));                                    \
        api_bound = 1;                                                           \
        return 0;                                                                \
    }

#endif
