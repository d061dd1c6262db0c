/*
 * skylet.watchdog: interrupts a runaway handler from the node's monitor
 * thread, and costs nothing while no handler runs away.
 *
 * Any Lua hook makes Lua 5.4 trace every instruction, which halves the speed
 * of CPU-bound code; so no hook is set until the monitor asks for one. Then
 * it sets a count hook with count 1 (fires at the next instruction) on the
 * lua_State running right now, from its own thread, as skynet's monitor
 * does: lua_sethook is documented as safe to call asynchronously (ldebug.c),
 * and every loop in the VM rereads the trap it sets. The hook removes itself
 * and raises the error inside the runaway code.
 *
 * "The lua_State running right now" is the VM's main thread or the coroutine
 * it resumed, or the one that resumed, ... So this module provides
 * coroutine.resume and coroutine.wrap, which record in the VM's watch slot
 * which state they resume and restore the resumer when it returns.
 *
 * The slot (struct Watch) is shared by the VM and the node, reference counted,
 * and guarded by a spinlock: the monitor calls lua_sethook under the lock
 * on the state the slot names, and the slot only ever names a state that is
 * running or resuming another (so is on some stack, not collectable), or
 * nothing once the VM closed. An interrupt that arrives while the running
 * state is about to switch follows the switch (it stays pending until a
 * hook fires), as skynet does. A hook left on a state that is no longer
 * running finds nothing pending when it next fires and just removes itself.
 *
 * The node creates the slot (skylet_watchdog_new) and offers it to the
 * boot chunk of the VM it is booting (skylet_watchdog_offer, thread-local);
 * luaopen_skylet_watchdog adopts the offered slot. Lua code never sees an
 * address: the slot is found through the registry, which services cannot
 * reach, not through upvalues (debug.setupvalue can replace a C function's).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#define LUA_API_USED(X)                                                      \
    X(lua_Number, lua_version, (lua_State * L))                              \
    X(int, lua_gettop, (lua_State * L))                                      \
    X(void, lua_settop, (lua_State * L, int idx))                            \
    X(void, lua_pushvalue, (lua_State * L, int idx))                         \
    X(void, lua_rotate, (lua_State * L, int idx, int n))                     \
    X(int, lua_checkstack, (lua_State * L, int n))                           \
    X(void, lua_xmove, (lua_State * from, lua_State * to, int n))            \
    X(int, lua_type, (lua_State * L, int idx))                               \
    X(lua_State *, lua_tothread, (lua_State * L, int idx))                   \
    X(void *, lua_touserdata, (lua_State * L, int idx))                      \
    X(void, lua_pushboolean, (lua_State * L, int b))                         \
    X(const char *, lua_pushstring, (lua_State * L, const char *s))          \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))      \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))             \
    X(void *, lua_newuserdatauv, (lua_State * L, size_t sz, int nuvalue))    \
    X(lua_State *, lua_newthread, (lua_State * L))                           \
    X(int, lua_rawgetp, (lua_State * L, int idx, const void *p))             \
    X(void, lua_rawsetp, (lua_State * L, int idx, const void *p))            \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))           \
    X(int, lua_setmetatable, (lua_State * L, int objindex))                  \
    X(int, lua_resume, (lua_State * L, lua_State * from, int narg, int *nres)) \
    X(int, lua_status, (lua_State * L))                                      \
    X(int, lua_closethread, (lua_State * L, lua_State * from))               \
    X(void, lua_sethook, (lua_State * L, lua_Hook f, int mask, int count))   \
    X(int, lua_getstack, (lua_State * L, int level, lua_Debug *ar))          \
    X(void, lua_concat, (lua_State * L, int n))                              \
    X(int, lua_error, (lua_State * L))                                       \
    X(void, luaL_where, (lua_State * L, int lvl))                            \
    X(void, luaL_checktype, (lua_State * L, int arg, int t))

#include "_lua54.h"

LUA_API_BINDING(skylet_watchdog)

#define lua_version (api.p_lua_version)
#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_pushvalue (api.p_lua_pushvalue)
#define lua_rotate (api.p_lua_rotate)
#define lua_checkstack (api.p_lua_checkstack)
#define lua_xmove (api.p_lua_xmove)
#define lua_type (api.p_lua_type)
#define lua_tothread (api.p_lua_tothread)
#define lua_touserdata (api.p_lua_touserdata)
#define lua_pushboolean (api.p_lua_pushboolean)
#define lua_pushstring (api.p_lua_pushstring)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_newuserdatauv (api.p_lua_newuserdatauv)
#define lua_newthread (api.p_lua_newthread)
#define lua_rawgetp (api.p_lua_rawgetp)
#define lua_rawsetp (api.p_lua_rawsetp)
#define lua_setfield (api.p_lua_setfield)
#define lua_setmetatable (api.p_lua_setmetatable)
#define lua_resume (api.p_lua_resume)
#define lua_status (api.p_lua_status)
#define lua_closethread (api.p_lua_closethread)
#define lua_sethook (api.p_lua_sethook)
#define lua_getstack (api.p_lua_getstack)
#define lua_concat (api.p_lua_concat)
#define lua_error (api.p_lua_error)
#define luaL_where (api.p_luaL_where)
#define luaL_checktype (api.p_luaL_checktype)

#define lua_pop(L, n) lua_settop(L, -(n)-1)
#define lua_insert(L, idx) lua_rotate(L, (idx), 1)

/* ---- The watch slot ---- */

typedef struct Watch {
    char lock;          /* spinlock (__atomic_test_and_set) over the fields below */
    int refs;           /* holders: the node, the VM, a pending offer */
    int pending;        /* an interrupt waits for its hook to fire */
    int deferred;       /* times the hook put it off (see interrupt_hook) */
    int doomed;         /* every instruction raises, in every state (never cleared) */
    lua_State *main;    /* the VM's main thread */
    lua_State *current; /* the state running now; NULL before adoption and once closed */
    char why[240];      /* the error the hook raises */
} Watch;

/* Instructions the hook may wait in the main thread's outermost function. */
#define MAX_DEFERRED 100

static void lock(Watch *w) {
    unsigned spins = 0;
    while (__atomic_test_and_set(&w->lock, __ATOMIC_ACQUIRE))
        if (++spins % 64 == 0)
            sched_yield(); /* the holder was descheduled: let it finish */
}

static void unlock(Watch *w) {
    __atomic_clear(&w->lock, __ATOMIC_RELEASE);
}

static void release(Watch *w) {
    lock(w);
    int last = --w->refs == 0;
    unlock(w);
    if (last)
        free(w);
}

/* The slot the node offers to the next VM this thread opens the module in. */
static __thread Watch *offered = NULL;

/* Registry key of the VM's slot box (a full userdata holding Watch *). */
static const char WATCH_KEY = 0;

static Watch *watch_of(lua_State *L) {
    Watch *w = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &WATCH_KEY) == LUA_TUSERDATA)
        w = *(Watch **)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return w;
}

/* ---- The interrupt ---- */

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    Watch *w = watch_of(L);
    char why[sizeof(((Watch *)0)->why)];
    int fire = 0;
    if (w != NULL) {
        /* under the lock: the monitor may be arming this very state */
        lock(w);
        if (w->doomed) {
            /* The service swallowed its interrupts and the node dooms it:
             * the hook stays and raises at every instruction, so the
             * message unwinds through every pcall to the node. */
            memcpy(why, w->why, sizeof why);
            unlock(w);
            luaL_where(L, 0);
            lua_pushstring(L, why);
            lua_concat(L, 2);
            lua_error(L);
        }
        lua_sethook(L, NULL, 0, 0);
        fire = w->pending;
        /* In the main thread's outermost function (the one Python called:
         * skynet.lua's dispatch_message, before it enters its xpcall) an
         * error would escape the service's own handling, and a request
         * would go unanswered. That happens when an interrupt arrives just
         * after its message ended: it waits for the next one. So wait a few
         * instructions for the code to call in; a loop right there is still
         * caught after MAX_DEFERRED. (`ar` is Lua's own, free to reuse.) */
        if (fire && L == w->main && w->deferred < MAX_DEFERRED && !lua_getstack(L, 1, ar)) {
            w->deferred++;
            lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, 1);
            fire = 0;
        } else {
            w->pending = 0;
        }
        memcpy(why, w->why, sizeof why);
        unlock(w);
    } else {
        lua_sethook(L, NULL, 0, 0);
    }
    if (!fire)
        return; /* put off, or left from an interrupt another state took */
    luaL_where(L, 0); /* level 0 is the Lua function that was running */
    lua_pushstring(L, why);
    lua_concat(L, 2);
    lua_error(L);
}

/* Records that `to` runs now; a pending interrupt follows it. */
static void switch_to(Watch *w, lua_State *to) {
    lock(w);
    if (w->current != NULL) {
        w->current = to;
        if (w->pending || w->doomed)
            lua_sethook(to, interrupt_hook, LUA_MASKCOUNT, 1);
    }
    unlock(w);
}

/* ---- resume and wrap: Lua 5.4's, recording the running state ---- */

/* Lua's auxresume: the n values resumed with (or yielded) pushed on L, or
 * -1 and an error message. */
static int resume(lua_State *L, lua_State *co, int narg, Watch *w) {
    if (!lua_checkstack(co, narg)) {
        lua_pushstring(L, "too many arguments to resume");
        return -1;
    }
    lua_xmove(L, co, narg);
    int nres;
    if (w != NULL)
        switch_to(w, co);
    /* lua_resume raises nothing: it reports dead and running coroutines,
     * and errors inside co, as a status, so the switch back always happens */
    int status = lua_resume(co, L, narg, &nres);
    if (w != NULL)
        switch_to(w, L);
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushstring(L, "too many results to resume");
            return -1;
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1); /* the error object */
    return -1;
}

/* coroutine.resume(co, ...) */
static int l_resume(lua_State *L) {
    Watch *w = watch_of(L);
    luaL_checktype(L, 1, LUA_TTHREAD); /* Lua 5.4.8's very check and message */
    lua_State *co = lua_tothread(L, 1);
    int r = resume(L, co, lua_gettop(L) - 1, w);
    if (r < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2; /* false, error */
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(r + 1));
    return r + 1; /* true, values */
}

/* The function coroutine.wrap returns; upvalue 1 is its coroutine. */
static int l_wrapped(lua_State *L) {
    Watch *w = watch_of(L);
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    if (co == NULL) { /* debug.setupvalue replaced it */
        lua_pushstring(L, "wrapped function lost its coroutine");
        return lua_error(L);
    }
    int r = resume(L, co, lua_gettop(L), w);
    if (r >= 0)
        return r;
    int status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD) { /* an error inside co */
        /* closing runs co's pending to-be-closed variables, in co */
        if (w != NULL)
            switch_to(w, co);
        status = lua_closethread(co, L);
        if (w != NULL)
            switch_to(w, L);
        lua_xmove(co, L, 1);
    }
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1); /* where the wrapped function was called */
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* coroutine.wrap(f) */
static int l_wrap(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, l_wrapped, 1);
    return 1;
}

/* __gc of the slot box: the VM is closing. */
static int l_close_watch(lua_State *L) {
    Watch **box = (Watch **)lua_touserdata(L, 1);
    if (box != NULL && *box != NULL) {
        Watch *w = *box;
        *box = NULL;
        lock(w);
        w->current = NULL;
        w->pending = 0;
        unlock(w);
        release(w);
    }
    return 0;
}

/* ---- The node's side (called from Python through ctypes) ---- */

/* A new slot, held by the caller; NULL if out of memory. */
EXPORT Watch *skylet_watchdog_new(void) {
    Watch *w = calloc(1, sizeof *w);
    if (w != NULL)
        w->refs = 1;
    return w;
}

/* The caller lets go of its slot. */
EXPORT void skylet_watchdog_release(Watch *w) {
    if (w != NULL)
        release(w);
}

/* Offers w to the next VM this thread opens the module in (NULL withdraws
 * the offer). The offer holds a reference until taken or withdrawn. */
EXPORT void skylet_watchdog_offer(Watch *w) {
    if (w != NULL) {
        lock(w);
        w->refs++;
        unlock(w);
    }
    Watch *old = offered;
    offered = w;
    if (old != NULL)
        release(old);
}

/* Arms the hook on the state the VM of w runs now, raising `why`; with
 * `doom`, for good (see interrupt_hook). 1 if armed, 0 if no VM. */
static int arm(Watch *w, const char *why, int doom) {
    if (w == NULL)
        return 0;
    lock(w);
    lua_State *running = w->current;
    if (running != NULL) {
        snprintf(w->why, sizeof w->why, "%s", why);
        w->pending = 1;
        w->deferred = 0;
        if (doom)
            w->doomed = 1;
        lua_sethook(running, interrupt_hook, LUA_MASKCOUNT, 1);
    }
    unlock(w);
    return running != NULL;
}

/* Interrupts whatever the VM of w runs now: the next Lua instruction of the
 * running state raises `why`. From any thread. 1 if armed, 0 if the slot has
 * no VM (never adopted, or closed). */
EXPORT int skylet_watchdog_interrupt(Watch *w, const char *why) {
    return arm(w, why != NULL ? why : "interrupted", 0);
}

/* 1 while an interrupt or doom waits for its hook to fire (the state has
 * not run a Lua instruction since: it is stalled, or in a long C call). */
EXPORT int skylet_watchdog_pending(Watch *w) {
    if (w == NULL)
        return 0;
    lock(w);
    int pending = w->pending;
    unlock(w);
    return pending;
}

/* Dooms the VM of w: from now on every Lua instruction it runs, in any of
 * its states, raises `why`. From any thread. 1 if armed, 0 if no VM. */
EXPORT int skylet_watchdog_doom(Watch *w, const char *why) {
    return arm(w, why != NULL ? why : "killed", 1);
}

/* Opened by the boot chunk through package.loadlib: adopts the offered slot
 * and returns {resume=, wrap=}. Returns nothing (the VM keeps Lua's own
 * coroutine functions and the Lua hook) if nothing is offered, the Lua API
 * is not bound to this very Lua 5.4, or the VM has a slot already. */
EXPORT int luaopen_skylet_watchdog(lua_State *L) {
    if (!api_bound || lua_version(L) != 504 || offered == NULL)
        return 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &WATCH_KEY) != LUA_TNIL)
        return 0;
    lua_pop(L, 1);
    /* Everything that allocates (and so may raise) comes first; the slot
     * changes hands only once the box is in the registry. */
    lua_createtable(L, 0, 2);
    lua_pushcclosure(L, l_resume, 0);
    lua_setfield(L, -2, "resume");
    lua_pushcclosure(L, l_wrap, 0);
    lua_setfield(L, -2, "wrap");
    Watch **box = (Watch **)lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcclosure(L, l_close_watch, 0);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &WATCH_KEY); /* pops the box */
    Watch *w = offered;
    offered = NULL; /* the offer's reference is now the VM's */
    *box = w;
    lock(w);
    /* L is running: the VM's main thread, which runs the boot chunk, the
     * service file's top level, and the dispatch code between coroutines */
    w->main = L;
    w->current = L;
    unlock(w);
    return 1;
}
