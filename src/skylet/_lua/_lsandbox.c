/*
 * skylet.sandbox in C: the last seal the boot chunk puts on a service VM,
 * the same rules as lualib/skylet/sandbox.lua (its fallback), for a few
 * hundred bytes per VM instead of ~14 KB of Lua closures and prototypes.
 *
 * For service code:
 * - the functions the boot chunk seals, the binary loader and the boot
 *   chunk itself are opaque: debug.getupvalue and debug.upvalueid answer
 *   nil on them, debug.setupvalue and debug.upvaluejoin raise, no local of
 *   a frame of theirs can be read or set, and debug.getinfo never hands one
 *   out as `func`;
 * - no userdata's metatable can be read (debug.getmetatable answers the
 *   string "protected"; io's and lupa's metatables get a __metatable field,
 *   so plain getmetatable does too), none can be put on a userdata, and no
 *   protected metatable can be put on anything;
 * - debug.setuservalue is gone.
 *
 * The wrappers are light C functions that call Lua's own debug functions
 * (ldblib's, taken from the debug table when the sandbox is installed) in
 * their own frame, as plain C calls: no extra frame, so every level counts
 * as in Lua, no call hook fires between wrapper and original, and there is
 * no closure or upvalue to look into. Their frames count as opaque too: a
 * finalizer that runs while one allocates must not read its temporaries.
 *
 * The set of opaque functions is a weak-keyed table in the registry (which
 * services cannot reach): a sealed function nothing else holds (the boot
 * chunk, once it has returned) is out of reach anyway, and its code can go.
 */
#define LUA_API_USED(X)                                                           \
    X(lua_Number, lua_version, (lua_State * L))                                   \
    X(int, lua_gettop, (lua_State * L))                                           \
    X(void, lua_settop, (lua_State * L, int idx))                                 \
    X(void, lua_pushvalue, (lua_State * L, int idx))                              \
    X(int, lua_checkstack, (lua_State * L, int n))                                \
    X(void, lua_xmove, (lua_State * from, lua_State * to, int n))                 \
    X(int, lua_type, (lua_State * L, int idx))                                    \
    X(int, lua_toboolean, (lua_State * L, int idx))                               \
    X(lua_CFunction, lua_tocfunction, (lua_State * L, int idx))                   \
    X(lua_State *, lua_tothread, (lua_State * L, int idx))                        \
    X(lua_Unsigned, lua_rawlen, (lua_State * L, int idx))                         \
    X(void, lua_pushnil, (lua_State * L))                                         \
    X(void, lua_pushboolean, (lua_State * L, int b))                              \
    X(const char *, lua_pushstring, (lua_State * L, const char *s))               \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))           \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))                  \
    X(int, lua_rawget, (lua_State * L, int idx))                                  \
    X(int, lua_rawgeti, (lua_State * L, int idx, lua_Integer n))                  \
    X(void, lua_rawset, (lua_State * L, int idx))                                 \
    X(int, lua_rawgetp, (lua_State * L, int idx, const void *p))                  \
    X(void, lua_rawsetp, (lua_State * L, int idx, const void *p))                 \
    X(int, lua_getfield, (lua_State * L, int idx, const char *k))                 \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))                \
    X(int, lua_getmetatable, (lua_State * L, int objindex))                       \
    X(int, lua_setmetatable, (lua_State * L, int objindex))                       \
    X(int, lua_getstack, (lua_State * L, int level, lua_Debug *ar))               \
    X(int, lua_getinfo, (lua_State * L, const char *what, lua_Debug *ar))         \
    X(lua_Integer, luaL_checkinteger, (lua_State * L, int arg))                   \
    X(int, luaL_error, (lua_State * L, const char *fmt, ...))

#include "_lua54.h"

LUA_API_BINDING(skylet_sandbox)

#define lua_version (api.p_lua_version)
#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_pushvalue (api.p_lua_pushvalue)
#define lua_checkstack (api.p_lua_checkstack)
#define lua_xmove (api.p_lua_xmove)
#define lua_type (api.p_lua_type)
#define lua_toboolean (api.p_lua_toboolean)
#define lua_tocfunction (api.p_lua_tocfunction)
#define lua_tothread (api.p_lua_tothread)
#define lua_rawlen (api.p_lua_rawlen)
#define lua_pushnil (api.p_lua_pushnil)
#define lua_pushboolean (api.p_lua_pushboolean)
#define lua_pushstring (api.p_lua_pushstring)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_rawget (api.p_lua_rawget)
#define lua_rawgeti (api.p_lua_rawgeti)
#define lua_rawset (api.p_lua_rawset)
#define lua_rawgetp (api.p_lua_rawgetp)
#define lua_rawsetp (api.p_lua_rawsetp)
#define lua_getfield (api.p_lua_getfield)
#define lua_setfield (api.p_lua_setfield)
#define lua_getmetatable (api.p_lua_getmetatable)
#define lua_setmetatable (api.p_lua_setmetatable)
#define lua_getstack (api.p_lua_getstack)
#define lua_getinfo (api.p_lua_getinfo)
#define luaL_checkinteger (api.p_luaL_checkinteger)
#define luaL_error (api.p_luaL_error)

#define lua_pop(L, n) lua_settop(L, -(n)-1)
#define lua_pushcfunction(L, f) lua_pushcclosure(L, (f), 0)

#define PROTECTED "protected"

/* Registry keys: the opaque set (weak keys) and the protected metatables. */
static const char OPAQUE_KEY = 0;
static const char PROTECTED_KEY = 0;

/* A lua_Debug is only handed from lua_getstack to lua_getinfo here, never
 * read: room enough for Lua 5.4's struct, whatever its exact layout. */
typedef union {
    char room[512];
    void *align;
    lua_Number align_number;
} DebugRecord;

/* ---- Lua's own debug functions, taken from the first VM's debug table ---- */

enum {
    GETINFO,
    GETLOCAL,
    SETLOCAL,
    GETUPVALUE,
    SETUPVALUE,
    UPVALUEID,
    UPVALUEJOIN,
    GETMETATABLE,
    SETMETATABLE,
    SETUSERVALUE,
    N_WRAPPED
};

static const char *const wrapped_names[N_WRAPPED] = {
    "getinfo",    "getlocal",     "setlocal",     "getupvalue",   "setupvalue",
    "upvalueid",  "upvaluejoin",  "getmetatable", "setmetatable", "setuservalue",
};

/* The same for every VM of the process (one Lua, lupa's): set once, then
 * every later VM's must match or the sandbox refuses to install there. */
static lua_CFunction originals[N_WRAPPED];

static lua_CFunction original(int i) {
    return __atomic_load_n(&originals[i], __ATOMIC_ACQUIRE);
}

/* ---- Opaque functions ---- */

static int s_getinfo(lua_State *L);
static int s_getlocal(lua_State *L);
static int s_setlocal(lua_State *L);
static int s_getupvalue(lua_State *L);
static int s_setupvalue(lua_State *L);
static int s_upvalueid(lua_State *L);
static int s_upvaluejoin(lua_State *L);
static int s_getmetatable(lua_State *L);
static int s_setmetatable(lua_State *L);
static int s_setuservalue(lua_State *L);

static const lua_CFunction wrappers[N_WRAPPED] = {
    s_getinfo,    s_getlocal,   s_setlocal,     s_getupvalue,   s_setupvalue,
    s_upvalueid,  s_upvaluejoin, s_getmetatable, s_setmetatable, s_setuservalue,
};

/* Whether the value at idx (absolute) is opaque: a sealed function, or one
 * of the wrappers or originals. */
static int is_opaque(lua_State *L, int idx) {
    int t = lua_type(L, idx);
    if (t != LUA_TFUNCTION)
        return 0;
    lua_CFunction f = lua_tocfunction(L, idx);
    if (f != NULL) {
        for (int i = 0; i < N_WRAPPED; i++)
            if (f == wrappers[i] || f == original(i))
                return 1;
    }
    int opaque = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &OPAQUE_KEY) == LUA_TTABLE) {
        lua_pushvalue(L, idx);
        lua_rawget(L, -2);
        opaque = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return opaque;
}

static int refuse(lua_State *L, const char *what) {
    return luaL_error(L, "%s is not allowed on skylet's own functions", what);
}

/* Whether the frame at `level` of L1 runs an opaque function (0 if there is
 * no such frame: the original then reports the level out of range). */
static int frame_is_opaque(lua_State *L, lua_State *L1, int level) {
    DebugRecord ar;
    if (!lua_getstack(L1, level, (lua_Debug *)&ar))
        return 0;
    if (L1 != L && !lua_checkstack(L1, 1))
        return luaL_error(L, "stack overflow");
    if (!lua_checkstack(L, 2))
        return luaL_error(L, "stack overflow");
    lua_getinfo(L1, "f", (lua_Debug *)&ar);
    if (L1 != L)
        lua_xmove(L1, L, 1);
    int opaque = is_opaque(L, lua_gettop(L));
    lua_pop(L, 1);
    return opaque;
}

/* getlocal/setlocal: ([thread,] level, n ...): refuse on an opaque frame.
 * A function in place of the level (getlocal's parameter names) reads no
 * live value. The level converts as Lua's own would (a string may be one). */
static void check_frame(lua_State *L, const char *what) {
    int arg = 1;
    lua_State *L1 = L;
    if (lua_type(L, 1) == LUA_TTHREAD) {
        L1 = lua_tothread(L, 1);
        arg = 2;
    }
    if (lua_type(L, arg) == LUA_TFUNCTION)
        return;
    /* the very conversion Lua's getlocal/setlocal make */
    int level = (int)luaL_checkinteger(L, arg);
    if (frame_is_opaque(L, L1, level))
        refuse(L, what);
}

/* ---- The wrappers: each calls the original in its own frame ---- */

static int s_getinfo(lua_State *L) {
    int n = original(GETINFO)(L);
    if (n >= 1 && lua_type(L, -1) == LUA_TTABLE) {
        lua_pushstring(L, "func");
        if (lua_rawget(L, -2) != LUA_TNIL && is_opaque(L, lua_gettop(L))) {
            lua_pop(L, 1);
            lua_pushstring(L, "func");
            lua_pushnil(L);
            lua_rawset(L, -3);
        } else {
            lua_pop(L, 1);
        }
    }
    return n;
}

static int s_getlocal(lua_State *L) {
    check_frame(L, "debug.getlocal");
    return original(GETLOCAL)(L);
}

static int s_setlocal(lua_State *L) {
    check_frame(L, "debug.setlocal");
    return original(SETLOCAL)(L);
}

/* Reading answers as for a function without upvalues; changing raises. */
static int s_getupvalue(lua_State *L) {
    if (is_opaque(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    return original(GETUPVALUE)(L);
}

static int s_setupvalue(lua_State *L) {
    if (is_opaque(L, 1))
        return refuse(L, "debug.setupvalue");
    return original(SETUPVALUE)(L);
}

static int s_upvalueid(lua_State *L) {
    if (is_opaque(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    return original(UPVALUEID)(L);
}

static int s_upvaluejoin(lua_State *L) {
    if (is_opaque(L, 1) || is_opaque(L, 3))
        return refuse(L, "debug.upvaluejoin");
    return original(UPVALUEJOIN)(L);
}

static int is_userdata(lua_State *L, int idx) {
    int t = lua_type(L, idx);
    return t == LUA_TUSERDATA || t == LUA_TLIGHTUSERDATA;
}

static int s_getmetatable(lua_State *L) {
    if (is_userdata(L, 1)) {
        if (lua_getmetatable(L, 1)) {
            lua_pop(L, 1);
            lua_pushstring(L, PROTECTED);
        } else {
            lua_pushnil(L);
        }
        return 1;
    }
    return original(GETMETATABLE)(L);
}

static int s_setmetatable(lua_State *L) {
    if (is_userdata(L, 1))
        return luaL_error(L, "debug.setmetatable: a userdata's metatable cannot be changed");
    /* Functions share one metatable, skylet's own C entry points included. */
    if (lua_type(L, 1) == LUA_TFUNCTION)
        return luaL_error(L, "debug.setmetatable: a function's metatable cannot be changed");
    int t = lua_type(L, 2);
    if (t != LUA_TNIL && t != LUA_TNONE) {
        int refused = 1;
        if (t == LUA_TTABLE) {
            refused = 0;
            if (lua_rawgetp(L, LUA_REGISTRYINDEX, &PROTECTED_KEY) == LUA_TTABLE) {
                lua_pushvalue(L, 2);
                lua_rawget(L, -2);
                refused = lua_toboolean(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        if (refused)
            return luaL_error(
                L, "debug.setmetatable: the metatable must be nil or a table of the service's");
    }
    return original(SETMETATABLE)(L);
}

static int s_setuservalue(lua_State *L) {
    return luaL_error(L, "debug.setuservalue is not available in a service");
}

/* ---- Installing ---- */

/* Takes the debug table's functions as the originals: 0 if one is missing or
 * differs from what another VM had (not Lua's own, then). */
static int take_originals(lua_State *L, int debug) {
    for (int i = 0; i < N_WRAPPED; i++) {
        lua_getfield(L, debug, wrapped_names[i]);
        lua_CFunction f = lua_type(L, -1) == LUA_TFUNCTION ? lua_tocfunction(L, -1) : NULL;
        lua_pop(L, 1);
        if (f == NULL)
            return 0;
        for (int j = 0; j < N_WRAPPED; j++)
            if (f == wrappers[j])
                return 0;
        lua_CFunction expected = NULL;
        if (!__atomic_compare_exchange_n(&originals[i], &expected, f, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE) &&
            expected != f)
            return 0;
    }
    return 1;
}

/* install(debug, sealed, raw_load, boot, ...): seals the VM; `sealed` is a
 * list of functions, `raw_load` and `boot` are opaque too (either may be
 * nil), and the metatables of the values after them get protected. Returns
 * true, or nothing if this VM cannot have it (the Lua API is not bound to
 * this very Lua, the debug library is not Lua's own, or the VM has the
 * sandbox already): the boot chunk then uses skylet/sandbox.lua. */
EXPORT int luaopen_skylet_sandbox(lua_State *L) {
    if (!api_bound || lua_version(L) != 504 || lua_type(L, 1) != LUA_TTABLE ||
        lua_type(L, 2) != LUA_TTABLE)
        return 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &OPAQUE_KEY) != LUA_TNIL)
        return 0;
    lua_pop(L, 1);
    if (!take_originals(L, 1))
        return 0;
    int top = lua_gettop(L);
    lua_checkstack(L, 8);
    /* Everything that allocates comes first; the debug table changes last. */
    lua_Unsigned n = lua_rawlen(L, 2);
    lua_createtable(L, 0, (int)n + 2); /* the opaque set */
    int opaque = lua_gettop(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, opaque);
    for (lua_Unsigned i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 2, (lua_Integer)i) == LUA_TFUNCTION) {
            lua_pushboolean(L, 1);
            lua_rawset(L, opaque);
        } else {
            lua_pop(L, 1);
        }
    }
    for (int arg = 3; arg <= 4 && arg <= top; arg++) {
        if (lua_type(L, arg) == LUA_TFUNCTION) {
            lua_pushvalue(L, arg);
            lua_pushboolean(L, 1);
            lua_rawset(L, opaque);
        }
    }
    lua_createtable(L, 0, top > 4 ? top - 4 : 0); /* the protected metatables */
    int protected_mts = lua_gettop(L);
    for (int arg = 5; arg <= top; arg++) {
        if (lua_getmetatable(L, arg)) {
            lua_pushstring(L, PROTECTED);
            lua_setfield(L, -2, "__metatable");
            lua_pushboolean(L, 1);
            lua_rawset(L, protected_mts);
        }
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &PROTECTED_KEY); /* pops protected_mts */
    lua_rawsetp(L, LUA_REGISTRYINDEX, &OPAQUE_KEY);    /* pops opaque */
    for (int i = 0; i < N_WRAPPED; i++) {
        lua_pushcfunction(L, wrappers[i]);
        lua_setfield(L, 1, wrapped_names[i]);
    }
    lua_pushboolean(L, 1);
    return 1;
}
