/*
 * One copy of each compiled function's instructions for the whole process.
 *
 * Every service VM undumps the chunks the code cache compiled (skynet.lua
 * first of all) into prototypes of its own. skynet shares whole prototypes
 * between VMs with a patched Lua; lupa's Lua is not patched, and most of a
 * prototype must stay per VM (its constants are strings of that VM, its
 * nested prototypes are objects its collector owns). Three arrays of it are
 * plain read-only data, though, written once by the undump and never again:
 * the instructions (`code`), the line deltas (`lineinfo`) and the absolute
 * line marks (`abslineinfo`). `share(f)` walks the prototype tree of a
 * freshly loaded Lua function and points those arrays at one process-wide
 * copy, freeing the VM's own.
 *
 * The shared copies live in one arena (an anonymous mapping reserved once,
 * committed page by page as it fills, read-only between appends) and are
 * never freed: a VM that later frees a prototype frees its arrays through
 * its allocator, so the allocator is wrapped (`share_alloc_N`) to drop frees
 * of arena blocks. The wrapper keeps lupa's allocator state as the VM's
 * allocator userdata, so lupa's memory accounting (and the native path's
 * view of it) is untouched: the VM's own copy is freed through lupa's
 * allocator when it is replaced, so a shared array no longer counts against
 * the VM's memory limit. Lua's own count (collectgarbage("count")) still
 * includes it until the prototype dies, as it never saw the swap.
 *
 * Identical arrays share one block (content hash, then memcmp). Only chunks
 * the node compiled go through here (boot.lua calls share on them): the
 * arena grows with distinct compiled code, never with what services load
 * at run time. When it is full, VMs keep their own copies.
 *
 * The struct layouts below are Lua 5.4's (lobject.h, 5.4.0 to 5.4.8), as
 * facts; `_codeshare.py` checks them against a live VM before any service
 * uses this, and the node falls back to per-VM copies if they differ.
 */
#define _DEFAULT_SOURCE /* mmap flags, sysconf under -std=c99 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef void *(*lua_Alloc)(void *ud, void *ptr, size_t osize, size_t nsize);

#define LUA_API_USED(X)                                                        \
    X(lua_Number, lua_version, (lua_State * L))                                \
    X(int, lua_type, (lua_State * L, int idx))                                 \
    X(int, lua_iscfunction, (lua_State * L, int idx))                          \
    X(int, lua_toboolean, (lua_State * L, int idx))                            \
    X(const void *, lua_topointer, (lua_State * L, int idx))                   \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))                   \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))        \
    X(lua_Alloc, lua_getallocf, (lua_State * L, void **ud))                    \
    X(void, lua_setallocf, (lua_State * L, lua_Alloc f, void *ud))

#include "_lua54.h"

LUA_API_BINDING(skylet_codeshare)

#define lua_version (api.p_lua_version)
#define lua_type (api.p_lua_type)
#define lua_iscfunction (api.p_lua_iscfunction)
#define lua_toboolean (api.p_lua_toboolean)
#define lua_topointer (api.p_lua_topointer)
#define lua_pushinteger (api.p_lua_pushinteger)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_getallocf (api.p_lua_getallocf)
#define lua_setallocf (api.p_lua_setallocf)

/* ---- Lua 5.4's layouts (lobject.h), the fields this file touches ---- */

typedef uint32_t Instruction;
typedef struct AbsLineInfo {
    int pc;
    int line;
} AbsLineInfo;

typedef struct Proto {
    void *next; /* CommonHeader: next, tt, marked */
    uint8_t tt;
    uint8_t marked;
    uint8_t numparams;
    uint8_t flag; /* is_vararg before 5.4.7 */
    uint8_t maxstacksize;
    int sizeupvalues;
    int sizek;
    int sizecode;
    int sizelineinfo;
    int sizep;
    int sizelocvars;
    int sizeabslineinfo;
    int linedefined;
    int lastlinedefined;
    void *k;
    Instruction *code;
    struct Proto **p;
    void *upvalues;
    int8_t *lineinfo;
    AbsLineInfo *abslineinfo;
    void *locvars;
    void *source;
    void *gclist;
} Proto;

typedef struct LClosure {
    void *next; /* ClosureHeader: CommonHeader, nupvalues, gclist */
    uint8_t tt;
    uint8_t marked;
    uint8_t nupvalues;
    void *gclist;
    Proto *p;
} LClosure;

/* ---- the arena ---- */

/* Address space reserved once; pages are committed only as code fills it. */
#define ARENA_BYTES ((size_t)256 << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena;       /* NULL until the first VM opens this, or if it failed */
static int arena_failed;
static size_t arena_used; /* bytes appended */
static size_t page_size;

static int in_arena(const void *p) {
    char *a = __atomic_load_n(&arena, __ATOMIC_ACQUIRE);
    return a != NULL && (uintptr_t)p - (uintptr_t)a < ARENA_BYTES;
}

/* The VMs' allocator: lupa's, except that arena blocks are never freed
 * (nor resized, which Lua never does to these arrays; if it did, the VM
 * would get a copy of its own). lupa has more than one allocator (with and
 * without a memory limit), and the wrapper keeps lupa's userdata as it is,
 * so there is one wrapper per allocator it wraps: wrapper i forwards to
 * wrapped[i]. */
#define ALLOCATORS 4
static lua_Alloc wrapped[ALLOCATORS];

static void *forward(int i, void *ud, void *ptr, size_t osize, size_t nsize) {
    /* Set once, before any VM had wrapper i (under the lock, elsewhere). */
    lua_Alloc inner = __atomic_load_n(&wrapped[i], __ATOMIC_ACQUIRE);
    if (ptr == NULL || !in_arena(ptr))
        return inner(ud, ptr, osize, nsize);
    if (nsize == 0)
        return NULL;
    void *copy = inner(ud, NULL, 0, nsize);
    if (copy != NULL)
        memcpy(copy, ptr, osize < nsize ? osize : nsize);
    return copy;
}

#define WRAPPER(i)                                                            \
    static void *share_alloc_##i(void *ud, void *ptr, size_t osize, size_t nsize) { \
        return forward(i, ud, ptr, osize, nsize);                             \
    }
WRAPPER(0)
WRAPPER(1)
WRAPPER(2)
WRAPPER(3)
static const lua_Alloc wrappers[ALLOCATORS] = {share_alloc_0, share_alloc_1, share_alloc_2,
                                               share_alloc_3};

/* The index of `f` among the wrappers, or -1. */
static int wrapper_index(lua_Alloc f) {
    for (int i = 0; i < ALLOCATORS; i++)
        if (wrappers[i] == f)
            return i;
    return -1;
}

static int arena_open(void) {
    if (arena != NULL || arena_failed)
        return arena != NULL;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    void *a = mmap(NULL, ARENA_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (a == MAP_FAILED) {
        arena_failed = 1;
        return 0;
    }
    __atomic_store_n(&arena, (char *)a, __ATOMIC_RELEASE);
    return 1;
}

/* ---- the index of shared blocks: content hash -> offset (open addressing) ---- */

typedef struct Entry {
    uint64_t hash; /* 0: empty */
    uint32_t size;
    uint32_t offset;
} Entry;

static Entry *table;
static size_t table_cap; /* a power of two */
static size_t table_used;

static uint64_t hash_bytes(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h == 0 ? 1 : h;
}

static int table_grow(void) {
    size_t cap = table_cap ? table_cap * 2 : 1024;
    Entry *grown = calloc(cap, sizeof(Entry));
    if (grown == NULL)
        return 0;
    for (size_t i = 0; i < table_cap; i++) {
        if (table[i].hash == 0)
            continue;
        size_t j = table[i].hash & (cap - 1);
        while (grown[j].hash != 0)
            j = (j + 1) & (cap - 1);
        grown[j] = table[i];
    }
    free(table);
    table = grown;
    table_cap = cap;
    return 1;
}

/* Copies `size` bytes to the arena's end (8-aligned); NULL when it is full. */
static void *arena_append(const void *data, size_t size) {
    size_t start = (arena_used + 7) & ~(size_t)7;
    if (size > ARENA_BYTES - start)
        return NULL;
    /* Only the pages written to are made writable, and only meanwhile. */
    size_t first = start & ~(page_size - 1);
    size_t end = (start + size + page_size - 1) & ~(page_size - 1);
    if (mprotect(arena + first, end - first, PROT_READ | PROT_WRITE) != 0)
        return NULL;
    memcpy(arena + start, data, size);
    mprotect(arena + first, end - first, PROT_READ);
    arena_used = start + size;
    return arena + start;
}

/* The shared block equal to `data`, made if need be; NULL if none can be. */
static void *share_block(const void *data, size_t size) {
    if (size == 0 || size > UINT32_MAX || in_arena(data))
        return NULL;
    if (table_used * 2 >= table_cap && !table_grow())
        return NULL;
    uint64_t h = hash_bytes(data, size);
    size_t j = h & (table_cap - 1);
    for (; table[j].hash != 0; j = (j + 1) & (table_cap - 1)) {
        Entry *e = &table[j];
        if (e->hash == h && e->size == size && memcmp(arena + e->offset, data, size) == 0)
            return arena + e->offset;
    }
    void *block = arena_append(data, size);
    if (block == NULL)
        return NULL;
    table[j] = (Entry){h, (uint32_t)size, (uint32_t)((char *)block - arena)};
    table_used++;
    return block;
}

/* Points one array of a prototype at its shared copy, freeing the VM's own
 * through lupa's allocator; returns the bytes the VM no longer holds. */
static size_t swap(lua_Alloc free_with, void *ud, void **field, size_t size) {
    void *own = *field;
    if (own == NULL)
        return 0;
    void *shared = share_block(own, size);
    if (shared == NULL)
        return 0;
    *field = shared;
    free_with(ud, own, size, 0);
    return size;
}

/* `p` and the prototypes nested in it (only those if `nested_only`). */
static size_t share_proto(lua_Alloc f, void *ud, Proto *p, int nested_only, int depth) {
    if (depth > 250) /* deeper than Lua's parser nests functions */
        return 0;
    size_t saved = 0;
    if (!nested_only) {
        saved += swap(f, ud, (void **)&p->code, (size_t)p->sizecode * sizeof(Instruction));
        saved += swap(f, ud, (void **)&p->lineinfo, (size_t)p->sizelineinfo);
        saved += swap(f, ud, (void **)&p->abslineinfo,
                      (size_t)p->sizeabslineinfo * sizeof(AbsLineInfo));
    }
    for (int i = 0; i < p->sizep; i++)
        saved += share_proto(f, ud, p->p[i], 0, depth + 1);
    return saved;
}

/* share(f [, nested_only]): f's prototypes use the shared arrays; returns
 * the bytes freed. A function that is running must not be shared (its frame
 * points into its own instructions): nested_only leaves f's own arrays and
 * shares those of the functions defined in it. */
static int l_share(lua_State *L) {
    void *ud = NULL;
    int i = wrapper_index(lua_getallocf(L, &ud));
    if (lua_type(L, 1) != LUA_TFUNCTION || lua_iscfunction(L, 1) || i < 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    const LClosure *f = lua_topointer(L, 1);
    pthread_mutex_lock(&lock);
    size_t saved = share_proto(wrapped[i], ud, f->p, lua_toboolean(L, 2), 0);
    pthread_mutex_unlock(&lock);
    lua_pushinteger(L, (lua_Integer)saved);
    return 1;
}

/* Opens in a fresh VM: wraps its allocator and returns share, or nothing
 * (no arena, or more distinct allocators than there are wrappers). */
EXPORT int luaopen_skylet_codeshare(lua_State *L) {
    if (!api_bound || lua_version(L) != 504)
        return 0;
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    pthread_mutex_lock(&lock);
    int ok = arena_open();
    if (ok && wrapper_index(f) < 0) {
        int i = 0;
        while (i < ALLOCATORS && wrapped[i] != NULL && wrapped[i] != f)
            i++;
        ok = i < ALLOCATORS;
        if (ok) {
            __atomic_store_n(&wrapped[i], f, __ATOMIC_RELEASE);
            lua_setallocf(L, wrappers[i], ud);
        }
    }
    pthread_mutex_unlock(&lock);
    if (!ok)
        return 0;
    lua_pushcclosure(L, l_share, 0);
    return 1;
}

/* Bytes of code the arena holds, and the distinct blocks (for stats and tests). */
EXPORT void skylet_codeshare_stats(size_t *bytes, size_t *blocks) {
    pthread_mutex_lock(&lock);
    *bytes = arena_used;
    *blocks = table_used;
    pthread_mutex_unlock(&lock);
}

/* Type tags (lobject.h): a Lua closure, a prototype. */
#define TAG_LUA_CLOSURE 6
#define TAG_PROTO 10

/* The fields of f's prototype, for the layout check: both type tags right,
 * numparams, linedefined, lastlinedefined, sizep, sizecode == sizelineinfo. */
static int l_layout(lua_State *L) {
    if (lua_type(L, 1) != LUA_TFUNCTION || lua_iscfunction(L, 1))
        return 0;
    const LClosure *f = lua_topointer(L, 1);
    if (f->tt != TAG_LUA_CLOSURE || f->p == NULL || f->p->tt != TAG_PROTO)
        return 0;
    const Proto *p = f->p;
    lua_pushinteger(L, p->numparams);
    lua_pushinteger(L, p->linedefined);
    lua_pushinteger(L, p->lastlinedefined);
    lua_pushinteger(L, p->sizep);
    lua_pushinteger(L, p->sizecode == p->sizelineinfo);
    return 5;
}

EXPORT int luaopen_skylet_codeshare_layout(lua_State *L) {
    if (!api_bound || lua_version(L) != 504)
        return 0;
    lua_pushcclosure(L, l_layout, 0);
    return 1;
}
