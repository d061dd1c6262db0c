/*
 * skylet's native message path: Lua-to-Lua messages never enter Python.
 *
 * Each Lua service has a mailbox here (struct Service) and a C `send` in its
 * VM. A send from Lua to a Lua service copies the payload into the target's
 * mailbox and puts the target on the node's run queue; dispatchers take
 * services off that queue and call each VM's dispatch function directly.
 * With `thread = N` the node runs N dispatchers on N threads (Python threads
 * blocked in a ctypes call, which releases the GIL), as skynet's workers.
 *
 * What stays in Python: everything that is not a Lua-to-Lua message. The C
 * send falls back to the Python send (kept in the VM's registry) for any
 * destination it does not know (names, Python services, dead services,
 * remote ones) or any payload that is not a string or nil; Python posts
 * into the mailboxes here (timers, sockets, errors, the Python API).
 *
 * Guarantees kept from the Python path:
 * - a service is in the run queue at most once and runs on one dispatcher
 *   at a time (`queued` stays set while it runs);
 * - per-sender order: one mailbox per service, FIFO;
 * - every request gets one answer: the request book (who asked whom, by
 *   session) is kept here, and a retired service hands back its queued mail
 *   so that Python answers the requests in it;
 * - the VM is never closed under a dispatcher: retire marks the service
 *   dead, and if it is running, Python closes it after the turn (EV_CLOSE);
 * - memory limits: lupa's allocator state is lifted around the payload
 *   write, as Service.make_room does (see lift_memory).
 *
 * Lua never sees an address: the VM finds its Service through a registry
 * box, as the watchdog does.
 */
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define LUA_API_USED(X)                                                            \
    X(lua_Number, lua_version, (lua_State * L))                                    \
    X(int, lua_gettop, (lua_State * L))                                            \
    X(void, lua_settop, (lua_State * L, int idx))                                  \
    X(void, lua_pushvalue, (lua_State * L, int idx))                               \
    X(int, lua_type, (lua_State * L, int idx))                                     \
    X(int, lua_isinteger, (lua_State * L, int idx))                                \
    X(lua_Integer, lua_tointegerx, (lua_State * L, int idx, int *isnum))           \
    X(const char *, lua_tolstring, (lua_State * L, int idx, size_t *len))          \
    X(void *, lua_touserdata, (lua_State * L, int idx))                            \
    X(void, lua_pushnil, (lua_State * L))                                          \
    X(void, lua_pushboolean, (lua_State * L, int b))                               \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))                       \
    X(void, lua_pushnumber, (lua_State * L, lua_Number n))                         \
    X(const char *, lua_pushlstring, (lua_State * L, const char *s, size_t len))   \
    X(void, lua_pushlightuserdata, (lua_State * L, void *p))                       \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))            \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))                  \
    X(void *, lua_newuserdatauv, (lua_State * L, size_t sz, int nuvalue))          \
    X(int, lua_rawgetp, (lua_State * L, int idx, const void *p))                   \
    X(void, lua_rawsetp, (lua_State * L, int idx, const void *p))                  \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))                 \
    X(int, lua_setmetatable, (lua_State * L, int objindex))                        \
    X(void, lua_callk, (lua_State * L, int nargs, int nresults, void *ctx, void *k)) \
    X(int, lua_pcallk, (lua_State * L, int nargs, int nresults, int errfunc, void *ctx, void *k)) \
    X(void *, lua_getallocf, (lua_State * L, void **ud))                           \
    X(int, lua_gc, (lua_State * L, int what, ...))                                 \
    X(void, luaL_traceback, (lua_State * L, lua_State * L1, const char *msg, int level))

#include "_lua54.h"

LUA_API_BINDING(skylet_native)

#define lua_version (api.p_lua_version)
#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_pushvalue (api.p_lua_pushvalue)
#define lua_type (api.p_lua_type)
#define lua_isinteger (api.p_lua_isinteger)
#define lua_tointegerx (api.p_lua_tointegerx)
#define lua_tolstring (api.p_lua_tolstring)
#define lua_touserdata (api.p_lua_touserdata)
#define lua_pushnil (api.p_lua_pushnil)
#define lua_pushboolean (api.p_lua_pushboolean)
#define lua_pushinteger (api.p_lua_pushinteger)
#define lua_pushnumber (api.p_lua_pushnumber)
#define lua_pushlstring (api.p_lua_pushlstring)
#define lua_pushlightuserdata (api.p_lua_pushlightuserdata)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_newuserdatauv (api.p_lua_newuserdatauv)
#define lua_rawgetp (api.p_lua_rawgetp)
#define lua_rawsetp (api.p_lua_rawsetp)
#define lua_setfield (api.p_lua_setfield)
#define lua_setmetatable (api.p_lua_setmetatable)
#define lua_getallocf (api.p_lua_getallocf)
#define luaL_traceback (api.p_luaL_traceback)
#define lua_gc (api.p_lua_gc)
#define LUA_GCCOUNT 3
#define LUA_GCCOUNTB 4
#define lua_call(L, n, r) (api.p_lua_callk((L), (n), (r), NULL, NULL))
#define lua_pcall(L, n, r, f) (api.p_lua_pcallk((L), (n), (r), (f), NULL, NULL))
#define lua_pop(L, n) lua_settop(L, -(n)-1)

#define PTYPE_RESPONSE 1
#define PTYPE_ERROR 7
#define LUA_MULTRET (-1)

/* Messages a service handles in one turn before others get theirs. */
#define TURN_MESSAGES 64
/* Lua memory beyond a VM's limit the payload write may use (Service.HEADROOM). */
#define HEADROOM (256 * 1024)
/* Mailbox length past which skynet warns "May overload" (then doubles). */
#define OVERLOAD 1024
/* Dispatchers a node may have (config `thread` is at most 256). */
#define MAX_SLOTS 256

/* What a dispatcher tells Python (the node's event callback, with the GIL). */
enum {
    EV_ERROR = 1,    /* an error escaped dispatch: text is the error */
    EV_MEMORY = 2,   /* the same, out of memory */
    EV_DOOMED = 3,   /* the monitor doomed the service; its message unwound */
    EV_CLOSE = 4,    /* a service retired while running: close its VM now */
    EV_OVERLOAD = 5, /* session holds the mailbox length */
    EV_LOG = 6,      /* a message to a service the console logs (logon) */
};

typedef void (*EventFn)(int kind, uint32_t handle, int ptype, long long session,
                        uint32_t source, const char *text, size_t len);

/* ---- spinlocks: held for a few instructions only ---- */

typedef char Spin;

static void spin_lock(Spin *s) {
    unsigned spins = 0;
    while (__atomic_test_and_set(s, __ATOMIC_ACQUIRE))
        if (++spins % 64 == 0)
            sched_yield(); /* the holder was descheduled: let it finish */
}

static void spin_unlock(Spin *s) {
    __atomic_clear(s, __ATOMIC_RELEASE);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- messages and mailboxes ---- */

enum { K_NIL = 0, K_STRING = 1, K_INTEGER = 2, K_NUMBER = 3, K_SHORT = 4 };

/* Payloads up to this size travel inside the message: no malloc, no free. */
#define SHORT_PAYLOAD 40

typedef struct Message {
    int ptype;
    int kind;
    uint32_t source;
    long long session;
    size_t size;
    union {
        char *data; /* K_STRING: malloc'd, owned by the message */
        char bytes[SHORT_PAYLOAD]; /* K_SHORT */
        lua_Integer integer;
        lua_Number number;
    } u;
} Message;

typedef struct Node Node;
typedef struct Service Service;

struct Service {
    Spin lock;
    int refs;         /* Python's Service, the VM (free list when 0) */
    int queued;       /* in the run queue, running, or booting */
    int running;      /* a dispatcher is inside its VM */
    int dead;         /* retired: takes no mail, its VM closes */
    int doomed;       /* the monitor doomed it: retire after this message */
    int has_dispatch; /* skynet.start registered its dispatch function */
    int logged;       /* the console's logon: report each message (EV_LOG) */
    uint32_t handle;
    Node *node;
    lua_State *L; /* the VM's main thread; NULL once it closed */
    Message *queue; /* ring buffer */
    size_t cap, head, count;
    size_t overload; /* next mailbox length to warn at */
    uint64_t messages;
    int64_t cpu_ns;
    uint64_t sent, passed_on; /* sends its C send queued / passed to Python */
    struct Service *next; /* run queue / free list */
};

static void message_free(Message *m) {
    if (m->kind == K_STRING)
        free(m->u.data);
    m->kind = K_NIL;
}

/* Copies a string payload into m (K_SHORT or K_STRING); 0 if out of memory. */
static int message_set_string(Message *m, const char *data, size_t size) {
    m->size = size;
    if (size <= SHORT_PAYLOAD) {
        memcpy(m->u.bytes, data, size);
        m->kind = K_SHORT;
        return 1;
    }
    m->u.data = malloc(size);
    if (m->u.data == NULL) {
        m->kind = K_NIL;
        return 0;
    }
    memcpy(m->u.data, data, size);
    m->kind = K_STRING;
    return 1;
}

static const char *message_string(const Message *m) {
    return m->kind == K_SHORT ? m->u.bytes : m->u.data;
}

static int message_is_string(const Message *m) {
    return m->kind == K_STRING || m->kind == K_SHORT;
}

/* Appends m (taking its data) to s's mailbox; s is locked. 0 if out of memory. */
static int mailbox_push(Service *s, Message *m) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        Message *q = malloc(cap * sizeof *q);
        if (q == NULL)
            return 0;
        for (size_t i = 0; i < s->count; i++)
            q[i] = s->queue[(s->head + i) % s->cap];
        free(s->queue);
        s->queue = q;
        s->cap = cap;
        s->head = 0;
    }
    s->queue[(s->head + s->count) % s->cap] = *m;
    s->count++;
    return 1;
}

static int mailbox_pop(Service *s, Message *m) {
    if (s->count == 0)
        return 0;
    *m = s->queue[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    return 1;
}

/* ---- the handle table: handle -> Service, read without a lock ---- */

#define CHUNK_BITS 12
#define CHUNK (1 << CHUNK_BITS)
#define CHUNKS (1 << (24 - CHUNK_BITS)) /* the low 24 bits number a service */

/* ---- the request book: (caller, session) -> callee ---- */

#define SHARDS 64

typedef struct Entry {
    uint32_t caller, callee;
    long long session;
    struct Entry *next;
} Entry;

typedef struct Shard {
    Spin lock;
    size_t size, buckets;
    Entry **bucket;
} Shard;

/* ---- the node ---- */

typedef struct Slot {
    /* what one dispatcher runs, read by the monitor (any thread) */
    uint32_t current, source;
    int64_t started_ns;
    uint64_t version;
    /* The service this dispatcher's turn last made runnable: it runs next,
     * here (see schedule). Swapped atomically; another dispatcher takes it
     * only from a turn that has run long (steal). */
    Service *next;
    int streak; /* turns in a row taken from `next` */
    char pad[64]; /* one dispatcher's slot per cache line */
} Slot;

struct Node {
    pthread_mutex_t lock; /* the run queue, the free list */
    pthread_cond_t work;
    Service *first, *last;
    size_t queued;
    int sleeping, stopping;
    Service *free;
    /* Service structs not in `free` (a VM, Python or a queue holds them),
     * and whether Python let go of the node: the node is destroyed when
     * both say so, so a VM that closes late never touches freed memory. */
    size_t live;
    int abandoned;
    Service **chunk[CHUNKS];
    Shard book[SHARDS];
    EventFn event;
    int slots;
    Slot slot[MAX_SLOTS];
};

static __thread Slot *my_slot = NULL;

static Service *lookup(Node *n, uint32_t handle) {
    uint32_t index = handle & 0xffffff;
    Service **chunk = __atomic_load_n(&n->chunk[index >> CHUNK_BITS], __ATOMIC_ACQUIRE);
    if (chunk == NULL)
        return NULL;
    return __atomic_load_n(&chunk[index & (CHUNK - 1)], __ATOMIC_ACQUIRE);
}

static int table_set(Node *n, uint32_t handle, Service *s) {
    uint32_t index = handle & 0xffffff;
    Service **chunk = n->chunk[index >> CHUNK_BITS];
    if (chunk == NULL) {
        chunk = calloc(CHUNK, sizeof *chunk);
        if (chunk == NULL)
            return 0;
        __atomic_store_n(&n->chunk[index >> CHUNK_BITS], chunk, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&chunk[index & (CHUNK - 1)], s, __ATOMIC_RELEASE);
    return 1;
}

static void enqueue(Node *n, Service *s) {
    /* s->queued was set by the caller, under s's lock */
    pthread_mutex_lock(&n->lock);
    s->next = NULL;
    if (n->last)
        n->last->next = s;
    else
        n->first = s;
    n->last = s;
    n->queued++;
    if (n->sleeping)
        pthread_cond_signal(&n->work);
    pthread_mutex_unlock(&n->lock);
}

/* The slot of the dispatcher running on this thread, if it is one of n's. */
static Slot *own_slot(Node *n) {
    Slot *me = my_slot;
    return me != NULL && me >= n->slot && me < n->slot + n->slots ? me : NULL;
}

/* A service got mail and was idle. Mail sent from a turn makes its target
 * this dispatcher's next service (the one there before goes to the run
 * queue): a call and its answer then stay on one thread, in its cache, and
 * no other dispatcher has to be woken for them. Measured on pingpong at
 * thread = 2: a lone pair stopped bouncing between the two dispatchers,
 * and context switches fell from 24,287 to 2,159 (docs/architecture.md). */
static void schedule(Node *n, Service *s) {
    Slot *me = own_slot(n);
    if (me != NULL) {
        s = __atomic_exchange_n(&me->next, s, __ATOMIC_ACQ_REL);
        if (s == NULL)
            return;
    }
    enqueue(n, s);
}

/* Turns in a row a dispatcher takes from its own `next` before it serves
 * the run queue, if others wait there: two services calling each other
 * cannot starve the rest. */
#define STREAK 32
/* A dispatcher with nothing to do takes another's `next` only if that one's
 * current turn has run this long (it will not get to it soon). */
#define STEAL_AFTER_NS 5000000

static Service *take_next(Node *n, Slot *me) {
    if (me == NULL || __atomic_load_n(&me->next, __ATOMIC_RELAXED) == NULL)
        return NULL;
    if (me->streak >= STREAK && __atomic_load_n(&n->first, __ATOMIC_RELAXED) != NULL) {
        me->streak = 0;
        Service *s = __atomic_exchange_n(&me->next, NULL, __ATOMIC_ACQ_REL);
        if (s != NULL)
            enqueue(n, s); /* behind the others now */
        return NULL;
    }
    me->streak++;
    return __atomic_exchange_n(&me->next, NULL, __ATOMIC_ACQ_REL);
}

static Service *steal(Node *n, Slot *me) {
    int64_t now = 0;
    for (int i = 0; i < n->slots; i++) {
        Slot *other = &n->slot[i];
        if (other == me || __atomic_load_n(&other->next, __ATOMIC_RELAXED) == NULL)
            continue;
        if (now == 0)
            now = now_ns();
        /* Between turns, or early in one, its owner takes it soon itself. */
        if (__atomic_load_n(&other->current, __ATOMIC_RELAXED) == 0 ||
            now - __atomic_load_n(&other->started_ns, __ATOMIC_RELAXED) < STEAL_AFTER_NS)
            continue;
        Service *s = __atomic_exchange_n(&other->next, NULL, __ATOMIC_ACQ_REL);
        if (s != NULL)
            return s;
    }
    return NULL;
}

/* Looks a dispatcher takes at the run queue before it sleeps: waking a
 * sleeper costs the sender a futex call and the sleeper a context switch,
 * more than a message. A few pauses only: with `next` (above) a call chain
 * stays on its dispatcher anyway, and yielding in a longer spin measured
 * slower launches at thread = 2 (spawn 1,104 against 802 us per service on
 * a loaded machine), the spinner taking the core a launch needed. */
#define SPINS 64
#define YIELDS 0

static Service *pop(Node *n) {
    pthread_mutex_lock(&n->lock);
    Service *s = n->stopping ? NULL : n->first;
    if (s != NULL) {
        n->first = s->next;
        if (n->first == NULL)
            n->last = NULL;
        n->queued--;
    }
    pthread_mutex_unlock(&n->lock);
    return s;
}

/* The next service for this thread's dispatcher; with `wait`, sleeps until
 * there is one (NULL once the node stops). */
static Service *take(Node *n, int wait) {
    Slot *me = own_slot(n);
    Service *s = take_next(n, me);
    if (s != NULL)
        return s;
    for (;;) {
        s = pop(n);
        if (s != NULL || !wait || __atomic_load_n(&n->stopping, __ATOMIC_RELAXED))
            return s;
        if ((s = steal(n, me)) != NULL)
            return s;
        int i = 0;
        for (; i < SPINS + YIELDS; i++) {
            if (__atomic_load_n(&n->first, __ATOMIC_RELAXED) != NULL ||
                __atomic_load_n(&n->stopping, __ATOMIC_RELAXED))
                break;
            if (i < SPINS)
                __builtin_ia32_pause();
            else
                sched_yield();
        }
        if (i < SPINS + YIELDS)
            continue;
        /* Asleep until mail is queued, or a while: mail another dispatcher's
         * long turn holds in its `next` is stolen at the next look. */
        pthread_mutex_lock(&n->lock);
        if (n->first == NULL && !n->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            n->sleeping++;
            pthread_cond_timedwait(&n->work, &n->lock, &until);
            n->sleeping--;
        }
        pthread_mutex_unlock(&n->lock);
    }
}

/* ---- the request book ---- */

static size_t book_hash(uint32_t caller, long long session) {
    uint64_t h = ((uint64_t)caller << 32) ^ (uint64_t)session;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static void book_grow(Shard *sh) {
    size_t buckets = sh->buckets ? sh->buckets * 2 : 64;
    Entry **bucket = calloc(buckets, sizeof *bucket);
    if (bucket == NULL)
        return; /* keeps working, with longer chains */
    for (size_t i = 0; i < sh->buckets; i++) {
        Entry *e = sh->bucket[i];
        while (e != NULL) {
            Entry *next = e->next;
            size_t at = (book_hash(e->caller, e->session) / SHARDS) % buckets;
            e->next = bucket[at];
            bucket[at] = e;
            e = next;
        }
    }
    free(sh->bucket);
    sh->bucket = bucket;
    sh->buckets = buckets;
}

/* Records that caller waits for callee's answer to session (replacing any
 * earlier record of that pair). 0 if out of memory. */
static int book_ask(Node *n, uint32_t caller, long long session, uint32_t callee) {
    size_t h = book_hash(caller, session);
    Shard *sh = &n->book[h % SHARDS];
    spin_lock(&sh->lock);
    if (sh->size >= sh->buckets)
        book_grow(sh);
    if (sh->buckets == 0) {
        spin_unlock(&sh->lock);
        return 0;
    }
    Entry **at = &sh->bucket[(h / SHARDS) % sh->buckets];
    for (Entry *e = *at; e != NULL; e = e->next)
        if (e->caller == caller && e->session == session) {
            e->callee = callee;
            spin_unlock(&sh->lock);
            return 1;
        }
    Entry *e = malloc(sizeof *e);
    if (e == NULL) {
        spin_unlock(&sh->lock);
        return 0;
    }
    e->caller = caller;
    e->session = session;
    e->callee = callee;
    e->next = *at;
    *at = e;
    sh->size++;
    spin_unlock(&sh->lock);
    return 1;
}

/* The answer to (caller, session) is on its way: forget the request.
 * Returns its callee, or 0 if none was recorded; `keep` only looks. */
static uint32_t book_answer(Node *n, uint32_t caller, long long session, int keep) {
    size_t h = book_hash(caller, session);
    Shard *sh = &n->book[h % SHARDS];
    uint32_t callee = 0;
    spin_lock(&sh->lock);
    if (sh->buckets) {
        Entry **at = &sh->bucket[(h / SHARDS) % sh->buckets];
        for (; *at != NULL; at = &(*at)->next) {
            Entry *e = *at;
            if (e->caller == caller && e->session == session) {
                callee = e->callee;
                if (!keep) {
                    *at = e->next;
                    sh->size--;
                    free(e);
                }
                break;
            }
        }
    }
    spin_unlock(&sh->lock);
    return callee;
}

/* ---- the VM's side ---- */

/* Registry keys: the VM's Service box, its dispatch function, the Python send. */
static const char SERVICE_KEY = 0;
static const char DISPATCH_KEY = 0;
static const char PYSEND_KEY = 0;

static Service *service_of(lua_State *L) {
    Service *s = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SERVICE_KEY) == LUA_TUSERDATA)
        s = *(Service **)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

static void node_destroy(Node *n);

static void service_release(Service *s) {
    Node *n = s->node;
    spin_lock(&s->lock);
    int last = --s->refs == 0;
    spin_unlock(&s->lock);
    if (!last)
        return;
    Message m;
    while (mailbox_pop(s, &m))
        message_free(&m);
    free(s->queue);
    s->queue = NULL;
    s->cap = s->head = s->count = 0;
    /* Kept for reuse, never freed while the node runs: a sender may still
     * hold the pointer it read from the handle table; it checks the handle
     * and `dead` under the lock, so a reused struct turns it away. */
    pthread_mutex_lock(&n->lock);
    s->next = n->free;
    n->free = s;
    int destroy = --n->live == 0 && n->abandoned;
    pthread_mutex_unlock(&n->lock);
    if (destroy)
        node_destroy(n);
}

/* Python's send, for everything the native path does not take. */
static int fallback(lua_State *L, Service *self) {
    if (self != NULL)
        self->passed_on++; /* only its own thread sends for it */
    int top = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &PYSEND_KEY);
    for (int i = 1; i <= 4; i++)
        lua_pushvalue(L, i);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L) - top;
}

/* Queues m (taking its data) for `target`, which must still be `handle`, and
 * wakes it if it was idle. With `asker`, books the request (asker, session)
 * under the target's lock: the target can neither answer it before it is
 * booked nor retire without seeing it. 0 (m freed) if the target is gone
 * or memory ran out. */
static int deliver(Node *n, Service *target, uint32_t handle, Message *m, uint32_t asker) {
    spin_lock(&target->lock);
    if (target->dead || target->handle != handle ||
        (asker && !book_ask(n, asker, m->session, handle)) || !mailbox_push(target, m)) {
        spin_unlock(&target->lock);
        message_free(m);
        return 0;
    }
    int wake = !target->queued;
    if (wake) {
        target->queued = 1;
        target->refs++; /* the run queue's */
    }
    spin_unlock(&target->lock);
    if (wake)
        schedule(n, target);
    return 1;
}

/* send(dest, ptype, session, msg): true if queued; else as Python's send. */
static int l_send(lua_State *L) {
    lua_settop(L, 4);
    Service *self = service_of(L);
    if (self == NULL || !lua_isinteger(L, 1) || !lua_isinteger(L, 2) || !lua_isinteger(L, 3))
        return fallback(L, self);
    int kind = lua_type(L, 4);
    if (kind != LUA_TSTRING && kind != LUA_TNIL)
        return fallback(L, self);
    lua_Integer dest = lua_tointegerx(L, 1, NULL);
    lua_Integer ptype = lua_tointegerx(L, 2, NULL);
    lua_Integer session = lua_tointegerx(L, 3, NULL);
    if (dest <= 0 || dest > 0xffffffffLL || ptype < 0 || ptype > 255)
        return fallback(L, self);
    Node *n = self->node;
    Service *target = lookup(n, (uint32_t)dest);
    if (target == NULL || self->dead || self->doomed)
        return fallback(L, self); /* (a doomed service retires there first) */
    Message m;
    m.ptype = (int)ptype;
    m.source = self->handle;
    m.session = session;
    m.kind = K_NIL;
    m.size = 0;
    if (kind == LUA_TSTRING) {
        size_t size;
        const char *data = lua_tolstring(L, 4, &size);
        if (!message_set_string(&m, data, size))
            return fallback(L, self);
    }
    int answer = session != 0 && (ptype == PTYPE_RESPONSE || ptype == PTYPE_ERROR);
    if (answer)
        book_answer(n, (uint32_t)dest, session, 0);
    uint32_t asker = session && !answer ? self->handle : 0;
    if (!deliver(n, target, (uint32_t)dest, &m, asker))
        return fallback(L, self);
    self->sent++;
    lua_pushboolean(L, 1);
    return 1;
}

/* callback(f): the dispatch function the dispatchers call. */
static int l_callback(lua_State *L) {
    Service *s = service_of(L);
    if (s == NULL || lua_type(L, 1) != LUA_TFUNCTION)
        return 0;
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &DISPATCH_KEY);
    spin_lock(&s->lock);
    s->has_dispatch = 1;
    spin_unlock(&s->lock);
    return 0;
}

/* __gc of the service box: the VM is closing. */
static int l_close(lua_State *L) {
    Service **box = (Service **)lua_touserdata(L, 1);
    if (box != NULL && *box != NULL) {
        Service *s = *box;
        *box = NULL;
        spin_lock(&s->lock);
        s->L = NULL;
        s->has_dispatch = 0;
        spin_unlock(&s->lock);
        service_release(s);
    }
    return 0;
}

static __thread Service *offered = NULL;

/* Opened by the boot chunk: package.loadlib(path, "luaopen_skylet_native")
 * called with the Python send. Adopts the offered Service and returns
 * {send=, callback=}; returns nothing if nothing is offered, the Lua API is
 * not bound to this very Lua, or the VM has a Service already. */
EXPORT int luaopen_skylet_native(lua_State *L) {
    if (!api_bound || lua_version(L) != 504 || offered == NULL)
        return 0;
    if (lua_type(L, 1) != LUA_TUSERDATA && lua_type(L, 1) != LUA_TFUNCTION)
        return 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SERVICE_KEY) != LUA_TNIL)
        return 0;
    lua_pop(L, 1);
    /* Everything that allocates (and so may raise) comes first; the
     * Service changes hands only once its box is in the registry. */
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &PYSEND_KEY);
    lua_createtable(L, 0, 2);
    lua_pushcclosure(L, l_send, 0);
    lua_setfield(L, -2, "send");
    lua_pushcclosure(L, l_callback, 0);
    lua_setfield(L, -2, "callback");
    Service **box = (Service **)lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcclosure(L, l_close, 0);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SERVICE_KEY); /* pops the box */
    Service *s = offered;
    offered = NULL; /* the offer's reference is now the VM's */
    *box = s;
    spin_lock(&s->lock);
    s->L = L;
    spin_unlock(&s->lock);
    return 1;
}

/* check(limit): whether lupa's allocator state (MemoryStatus below) reads
 * as this very VM's: `used` is what Lua counts, `limit` what lupa was just
 * told (set_max_memory(limit, total=True)). Loaded once, in a test VM. */
static int l_check_memory(lua_State *L);

EXPORT int luaopen_skylet_native_memcheck(lua_State *L) {
    if (!api_bound || lua_version(L) != 504)
        return 0;
    lua_pushcclosure(L, l_check_memory, 0);
    return 1;
}

/* ---- dispatching ---- */

/* lupa's allocator state (lupa 2.x's MemoryStatus), checked at load time by
 * the memcheck entry (l_check_memory) against lupa's own figures. */
typedef struct MemoryStatus {
    size_t used;
    size_t base_usage;
    size_t limit;
} MemoryStatus;

static int memory_known = 0;

static MemoryStatus *memory_of(lua_State *L) {
    void *ud = NULL;
    if (!memory_known)
        return NULL;
    lua_getallocf(L, &ud);
    return (MemoryStatus *)ud;
}

/* Service.make_room in C: a Lua memory error while the payload is written
 * would end the message before the service saw it, so near its limit the
 * limit is lifted by the payload and HEADROOM; returns what to restore. */
static size_t lift_memory(MemoryStatus *ms, size_t extra, size_t *lifted) {
    *lifted = 0;
    if (ms == NULL || ms->limit == 0)
        return 0;
    size_t need = ms->used + extra + HEADROOM;
    if (need <= ms->limit)
        return 0;
    size_t saved = ms->limit;
    ms->limit = need;
    *lifted = need;
    return saved;
}

static int traceback(lua_State *L) {
    const char *msg = lua_tolstring(L, 1, NULL);
    if (msg == NULL)
        return 1; /* not a string: as it is */
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Protected: pushes the message and calls dispatch (a payload that cannot
 * be written is a memory error of this call, not an abort). */
static int call_dispatch(lua_State *L) {
    Message *m = (Message *)lua_touserdata(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &DISPATCH_KEY) != LUA_TFUNCTION)
        return 0;
    lua_pushinteger(L, m->ptype);
    lua_pushinteger(L, m->session);
    lua_pushinteger(L, m->source);
    switch (m->kind) {
    case K_STRING:
    case K_SHORT:
        lua_pushlstring(L, message_string(m), m->size);
        break;
    case K_INTEGER:
        lua_pushinteger(L, m->u.integer);
        break;
    case K_NUMBER:
        lua_pushnumber(L, m->u.number);
        break;
    default:
        lua_pushnil(L);
    }
    /* the payload is in the VM: let go of the copy before the handler runs */
    message_free(m);
    lua_call(L, 4, 0);
    return 0;
}

static void dispatch_one(Service *s, Message *m) {
    lua_State *L = s->L;
    Node *n = s->node;
    int top = lua_gettop(L);
    if (s->logged) {
        char number[32];
        const char *text = message_is_string(m) ? message_string(m) : number;
        size_t len = message_is_string(m) ? m->size : 0;
        if (m->kind == K_INTEGER)
            len = (size_t)snprintf(number, sizeof number, "%lld", (long long)m->u.integer);
        else if (m->kind == K_NUMBER)
            len = (size_t)snprintf(number, sizeof number, "%.14g", m->u.number);
        n->event(EV_LOG, s->handle, m->ptype, m->session, m->source, text, len);
    }
    size_t lifted;
    MemoryStatus *ms = memory_of(L);
    size_t saved = lift_memory(ms, message_is_string(m) ? m->size : 0, &lifted);
    lua_pushcclosure(L, traceback, 0);
    lua_pushcclosure(L, call_dispatch, 0);
    lua_pushlightuserdata(L, m);
    int status = lua_pcall(L, 1, 0, top + 1);
    if (status != LUA_OK) {
        size_t len = 0;
        const char *text = lua_tolstring(L, -1, &len);
        n->event(status == LUA_ERRMEM ? EV_MEMORY : EV_ERROR, s->handle, m->ptype, m->session,
                 m->source, text ? text : "error object is not a string", text ? len : 28);
    }
    lua_settop(L, top);
    message_free(m);
    if (lifted && ms->limit == lifted)
        ms->limit = saved;
}

/* One turn of s: up to TURN_MESSAGES messages. */
static void turn(Node *n, Slot *slot, Service *s) {
    spin_lock(&s->lock);
    if (s->dead || s->L == NULL || !s->has_dispatch) {
        s->queued = 0;
        spin_unlock(&s->lock);
        service_release(s); /* the run queue's reference */
        return;
    }
    s->running = 1;
    /* Only the mail there now: what comes meanwhile (a skynet.yield's
     * wakeup) waits for the next turn, after the services queued before. */
    size_t budget = s->count < TURN_MESSAGES ? s->count : TURN_MESSAGES;
    /* as skynet measures it: after taking the turn's first message */
    size_t length = s->count ? s->count - 1 : 0;
    int warn = length > s->overload;
    while (s->overload < length)
        s->overload *= 2;
    spin_unlock(&s->lock);
    if (warn)
        n->event(EV_OVERLOAD, s->handle, 0, (long long)length, 0, "", 0);
    int64_t started = now_ns();
    slot->current = s->handle;
    __atomic_store_n(&slot->started_ns, started, __ATOMIC_RELAXED);
    size_t done = 0;
    while (done < budget && !n->stopping) {
        Message m;
        spin_lock(&s->lock);
        int got = !s->dead && mailbox_pop(s, &m);
        spin_unlock(&s->lock);
        if (!got)
            break;
        done++;
        slot->source = m.source;
        __atomic_add_fetch(&slot->version, 1, __ATOMIC_RELEASE);
        dispatch_one(s, &m);
        if (s->doomed && !s->dead)
            n->event(EV_DOOMED, s->handle, 0, 0, 0, "", 0);
    }
    slot->current = 0;
    __atomic_add_fetch(&slot->version, 1, __ATOMIC_RELEASE);
    int64_t spent = now_ns() - started;
    spin_lock(&s->lock);
    s->running = 0;
    s->messages += done;
    s->cpu_ns += spent;
    int dead = s->dead;
    int again = !dead && s->count > 0;
    if (!again) {
        s->queued = 0;
        s->overload = OVERLOAD;
    }
    spin_unlock(&s->lock);
    if (again) {
        enqueue(n, s); /* behind the others; keeps the run queue's reference */
        return;
    }
    if (dead)
        n->event(EV_CLOSE, s->handle, 0, 0, 0, "", 0);
    service_release(s); /* the run queue's reference */
}

/* ---- the node's side (Python, through ctypes) ---- */

EXPORT Node *skylet_native_new(int slots, EventFn event) {
    if (slots < 1 || slots > MAX_SLOTS || event == NULL)
        return NULL;
    Node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->work, NULL);
    n->event = event;
    n->slots = slots;
    return n;
}

/* After stop, once every VM closed and no dispatcher runs. */
static void node_destroy(Node *n) {
    while (n->free != NULL) {
        Service *s = n->free;
        n->free = s->next;
        free(s);
    }
    for (int i = 0; i < CHUNKS; i++)
        free(n->chunk[i]);
    for (int i = 0; i < SHARDS; i++) {
        Shard *sh = &n->book[i];
        for (size_t b = 0; b < sh->buckets; b++) {
            Entry *e = sh->bucket[b];
            while (e != NULL) {
                Entry *next = e->next;
                free(e);
                e = next;
            }
        }
        free(sh->bucket);
    }
    pthread_cond_destroy(&n->work);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

/* Python lets go of the node; no dispatcher runs any more. The services
 * still queued let go of their queue's hold; the node goes with the last
 * service a VM or Python still holds (at once if none). */
EXPORT void skylet_native_free(Node *n) {
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    n->abandoned = 1;
    n->live++; /* held by this call until the end */
    Service *queued = n->first;
    n->first = n->last = NULL;
    pthread_mutex_unlock(&n->lock);
    while (queued != NULL) {
        Service *s = queued;
        queued = s->next;
        service_release(s);
    }
    for (int i = 0; i < n->slots; i++) {
        Service *s = __atomic_exchange_n(&n->slot[i].next, NULL, __ATOMIC_ACQ_REL);
        if (s != NULL)
            service_release(s);
    }
    pthread_mutex_lock(&n->lock);
    int destroy = --n->live == 0;
    pthread_mutex_unlock(&n->lock);
    if (destroy)
        node_destroy(n);
}

/* A service being booted (queued, so no dispatcher enters it until
 * skylet_native_release), held by the caller. NULL if out of memory. */
EXPORT Service *skylet_native_service(Node *n, uint32_t handle) {
    pthread_mutex_lock(&n->lock);
    Service *s = n->free;
    if (s != NULL)
        n->free = s->next;
    n->live++;
    pthread_mutex_unlock(&n->lock);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            pthread_mutex_lock(&n->lock);
            n->live--;
            pthread_mutex_unlock(&n->lock);
            return NULL;
        }
    }
    spin_lock(&s->lock);
    s->refs = 2; /* Python's, and the run queue's while it boots */
    s->queued = 1;
    s->running = s->dead = s->doomed = s->has_dispatch = s->logged = 0;
    s->handle = handle;
    s->node = n;
    s->L = NULL;
    s->overload = OVERLOAD;
    s->messages = s->sent = s->passed_on = 0;
    s->cpu_ns = 0;
    s->next = NULL;
    spin_unlock(&s->lock);
    if (!table_set(n, handle, s)) {
        s->refs = 1;
        service_release(s);
        return NULL;
    }
    return s;
}

/* Python's Service lets go. */
EXPORT void skylet_native_forget(Service *s) {
    if (s != NULL)
        service_release(s);
}

/* Offers s to the next VM this thread opens the module in (NULL withdraws). */
EXPORT void skylet_native_offer(Service *s) {
    if (s != NULL) {
        spin_lock(&s->lock);
        s->refs++;
        spin_unlock(&s->lock);
    }
    Service *old = offered;
    offered = s;
    if (old != NULL)
        service_release(old);
}

/* Booted: queue it if mail came meanwhile. */
EXPORT void skylet_native_release(Service *s) {
    spin_lock(&s->lock);
    int wake = !s->dead && s->count > 0;
    if (!wake)
        s->queued = 0;
    spin_unlock(&s->lock);
    if (wake)
        schedule(s->node, s); /* with the reference it booted with */
    else
        service_release(s);
}

/* Python posts a message: 1 if queued, 0 if the service is dead (or out of
 * memory). kind: K_*; data/size for K_STRING, integer or number otherwise. */
EXPORT int skylet_native_post(Service *s, int ptype, long long session, uint32_t source,
                              int kind, const char *data, size_t size, lua_Integer integer,
                              lua_Number number) {
    Message m;
    m.ptype = ptype;
    m.session = session;
    m.source = source;
    m.kind = kind;
    m.size = 0;
    if (kind == K_STRING) {
        if (!message_set_string(&m, data, size))
            return 0;
    } else if (kind == K_INTEGER) {
        m.u.integer = integer;
    } else if (kind == K_NUMBER) {
        m.u.number = number;
    } else {
        m.kind = K_NIL;
    }
    return deliver(s->node, s, s->handle, &m, 0);
}

/* Retires s: no more mail, out of the handle table. Returns 1 if a
 * dispatcher runs it now (its VM must close after the turn: EV_CLOSE). */
EXPORT int skylet_native_retire(Service *s) {
    spin_lock(&s->lock);
    s->dead = 1;
    int running = s->running;
    spin_unlock(&s->lock);
    table_set(s->node, s->handle, NULL);
    return running;
}

/* Takes the next queued message of a retired service: its type, session and
 * source (the payload is dropped). 0 when none is left. */
EXPORT int skylet_native_drain(Service *s, int *ptype, long long *session, uint32_t *source) {
    Message m;
    spin_lock(&s->lock);
    int got = mailbox_pop(s, &m);
    spin_unlock(&s->lock);
    if (!got)
        return 0;
    *ptype = m.ptype;
    *session = m.session;
    *source = m.source;
    message_free(&m);
    return 1;
}

EXPORT void skylet_native_log(Service *s, int on) {
    spin_lock(&s->lock);
    s->logged = on;
    spin_unlock(&s->lock);
}

EXPORT void skylet_native_doom(Service *s) {
    spin_lock(&s->lock);
    s->doomed = 1;
    spin_unlock(&s->lock);
}

/* mqlen, messages, cpu (ns); sends its C send queued and passed on */
EXPORT void skylet_native_stats(Service *s, long long *mqlen, long long *messages,
                                long long *cpu_ns, long long *sent, long long *passed_on) {
    spin_lock(&s->lock);
    *mqlen = (long long)s->count;
    *messages = (long long)s->messages;
    *cpu_ns = s->cpu_ns;
    *sent = (long long)s->sent;
    *passed_on = (long long)s->passed_on;
    spin_unlock(&s->lock);
}

EXPORT int skylet_native_ask(Node *n, uint32_t caller, long long session, uint32_t callee) {
    return book_ask(n, caller, session, callee);
}

EXPORT uint32_t skylet_native_answer(Node *n, uint32_t caller, long long session, int keep) {
    return book_answer(n, caller, session, keep);
}

/* Removes every request callee holds; writes up to cap (caller, session)
 * pairs and returns how many there were (call again while that is > cap). */
EXPORT size_t skylet_native_callers(Node *n, uint32_t callee, uint32_t *callers,
                                    long long *sessions, size_t cap) {
    size_t found = 0;
    for (int i = 0; i < SHARDS; i++) {
        Shard *sh = &n->book[i];
        spin_lock(&sh->lock);
        for (size_t b = 0; b < sh->buckets && found < cap; b++) {
            Entry **at = &sh->bucket[b];
            while (*at != NULL && found < cap) {
                Entry *e = *at;
                if (e->callee == callee) {
                    callers[found] = e->caller;
                    sessions[found] = e->session;
                    found++;
                    *at = e->next;
                    sh->size--;
                    free(e);
                } else {
                    at = &e->next;
                }
            }
        }
        spin_unlock(&sh->lock);
        if (found >= cap)
            break;
    }
    return found;
}

/* thread = 1: up to `budget` turns on the calling thread, never waiting.
 * Returns the turns run. */
EXPORT int skylet_native_run(Node *n, int budget) {
    Slot *slot = &n->slot[0];
    Slot *outer = my_slot;
    my_slot = slot;
    int turns = 0;
    while (turns < budget) {
        Service *s = take(n, 0);
        if (s == NULL)
            break;
        turn(n, slot, s);
        turns++;
    }
    my_slot = outer;
    return turns;
}

/* thread = N: dispatcher `index` runs until skylet_native_stop. */
EXPORT void skylet_native_work(Node *n, int index) {
    Slot *slot = &n->slot[index];
    my_slot = slot;
    for (;;) {
        Service *s = take(n, 1);
        if (s == NULL)
            break;
        turn(n, slot, s);
    }
    my_slot = NULL;
}

EXPORT int skylet_native_pending(Node *n) {
    pthread_mutex_lock(&n->lock);
    int queued = n->first != NULL;
    pthread_mutex_unlock(&n->lock);
    for (int i = 0; i < n->slots && !queued; i++)
        queued = __atomic_load_n(&n->slot[i].next, __ATOMIC_ACQUIRE) != NULL;
    return queued;
}

EXPORT void skylet_native_stop(Node *n) {
    pthread_mutex_lock(&n->lock);
    n->stopping = 1;
    pthread_cond_broadcast(&n->work);
    pthread_mutex_unlock(&n->lock);
}

/* What dispatcher `index` runs: 1 and the fields, or 0 if it is idle. */
EXPORT int skylet_native_slot(Node *n, int index, uint32_t *current, uint32_t *source,
                              long long *started_ns, unsigned long long *version) {
    if (index < 0 || index >= n->slots)
        return 0;
    Slot *slot = &n->slot[index];
    *version = __atomic_load_n(&slot->version, __ATOMIC_ACQUIRE);
    *current = slot->current;
    *source = slot->source;
    *started_ns = __atomic_load_n(&slot->started_ns, __ATOMIC_RELAXED);
    return *current != 0;
}

/* Another service's Lua runs inside this thread's turn (a launch runs the
 * new service's main chunk): the monitor watches that one meanwhile.
 * Returns the handle it replaced (pass it to leave). */
EXPORT uint32_t skylet_native_enter(uint32_t handle) {
    if (my_slot == NULL)
        return 0xffffffffu; /* not a dispatcher's thread */
    uint32_t outer = my_slot->current;
    my_slot->current = handle;
    __atomic_add_fetch(&my_slot->version, 1, __ATOMIC_RELEASE);
    return outer;
}

EXPORT void skylet_native_leave(uint32_t outer) {
    if (my_slot == NULL || outer == 0xffffffffu)
        return;
    my_slot->current = outer;
    __atomic_add_fetch(&my_slot->version, 1, __ATOMIC_RELEASE);
}

EXPORT int64_t skylet_native_clock(void) {
    return now_ns();
}

static int l_check_memory(lua_State *L) {
    lua_Integer limit = lua_tointegerx(L, 1, NULL);
    void *ud = NULL;
    lua_getallocf(L, &ud);
    MemoryStatus *ms = (MemoryStatus *)ud;
    size_t counted = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    memory_known = ms != NULL && ms->used == counted && ms->limit == (size_t)limit;
    lua_pushboolean(L, memory_known);
    return 1;
}
