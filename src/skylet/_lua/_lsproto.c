/*
 * skylet.csproto: the C twin of lualib/skylet/sprotocore.lua (sproto.core),
 * loaded into every service VM when available. Same functions, same bytes,
 * same error messages; tests/test_sproto_*.py run on both.
 *
 * The wire is sproto's published format (all integers little-endian):
 *   message = u16 fn, fn u16 slots, then the data part;
 *   slot odd n: skip (n - 1) / 2 + 1 tags; slot 0: the next tag's value is
 *   the next data block (u32 size, bytes); slot even n: the value n / 2 - 1.
 *
 * A schema is one full userdata (header, types, fields, protocols, names);
 * a type handle is a small userdata that keeps its schema alive, so no
 * pointer a service holds can dangle.
 *
 * Lua's C API comes from lupa's lupa.lua54 extension, through the pointers
 * skylet/_lua/_luabind.py fills in (skylet_csproto_bind); see _lua54.h.
 */
#include <stdint.h>
#include <stdio.h>

#define LUA_API_USED(X)                                                        \
    X(lua_Number, lua_version, (lua_State * L))                                \
    X(int, lua_gettop, (lua_State * L))                                        \
    X(void, lua_settop, (lua_State * L, int idx))                              \
    X(void, lua_pushvalue, (lua_State * L, int idx))                           \
    X(void, lua_copy, (lua_State * L, int from, int to))                       \
    X(void, luaL_checkstack, (lua_State * L, int sz, const char *msg))         \
    X(int, lua_type, (lua_State * L, int idx))                                 \
    X(const char *, lua_typename, (lua_State * L, int tp))                     \
    X(lua_Integer, lua_tointegerx, (lua_State * L, int idx, int *isnum))       \
    X(lua_Number, lua_tonumberx, (lua_State * L, int idx, int *isnum))         \
    X(int, lua_toboolean, (lua_State * L, int idx))                            \
    X(const char *, lua_tolstring, (lua_State * L, int idx, size_t *len))      \
    X(void *, lua_touserdata, (lua_State * L, int idx))                        \
    X(void, lua_pushnil, (lua_State * L))                                      \
    X(void, lua_pushnumber, (lua_State * L, lua_Number n))                     \
    X(void, lua_pushinteger, (lua_State * L, lua_Integer n))                   \
    X(const char *, lua_pushlstring, (lua_State * L, const char *s, size_t len)) \
    X(const char *, lua_pushstring, (lua_State * L, const char *s))            \
    X(void, lua_pushboolean, (lua_State * L, int b))                           \
    X(void, lua_pushlightuserdata, (lua_State * L, void *p))                   \
    X(void, lua_pushcclosure, (lua_State * L, lua_CFunction fn, int n))        \
    X(void, lua_createtable, (lua_State * L, int narr, int nrec))              \
    X(void *, lua_newuserdatauv, (lua_State * L, size_t sz, int nuvalue))      \
    X(int, lua_setiuservalue, (lua_State * L, int idx, int n))                 \
    X(int, lua_getfield, (lua_State * L, int idx, const char *k))              \
    X(void, lua_setfield, (lua_State * L, int idx, const char *k))             \
    X(int, lua_geti, (lua_State * L, int idx, lua_Integer n))                  \
    X(void, lua_seti, (lua_State * L, int idx, lua_Integer n))                 \
    X(void, lua_settable, (lua_State * L, int idx))                            \
    X(int, lua_next, (lua_State * L, int idx))                                 \
    X(void, lua_callk, (lua_State * L, int nargs, int nresults, void *ctx, void *k)) \
    X(int, lua_error, (lua_State * L))                                         \
    X(const char *, luaL_checklstring, (lua_State * L, int arg, size_t *l))     \
    X(void *, luaL_checkudata, (lua_State * L, int ud, const char *tname))     \
    X(int, luaL_newmetatable, (lua_State * L, const char *tname))              \
    X(void, luaL_setmetatable, (lua_State * L, const char *tname))             \
    X(int, luaL_getmetafield, (lua_State * L, int obj, const char *e))

#include "_lua54.h"

LUA_API_BINDING(skylet_csproto)

#define lua_version (api.p_lua_version)
#define lua_gettop (api.p_lua_gettop)
#define lua_settop (api.p_lua_settop)
#define lua_pushvalue (api.p_lua_pushvalue)
#define lua_copy (api.p_lua_copy)
#define luaL_checkstack (api.p_luaL_checkstack)
#define lua_type (api.p_lua_type)
#define lua_typename (api.p_lua_typename)
#define lua_tointegerx (api.p_lua_tointegerx)
#define lua_tonumberx (api.p_lua_tonumberx)
#define lua_toboolean (api.p_lua_toboolean)
#define lua_tolstring (api.p_lua_tolstring)
#define lua_touserdata (api.p_lua_touserdata)
#define lua_pushnil (api.p_lua_pushnil)
#define lua_pushnumber (api.p_lua_pushnumber)
#define lua_pushinteger (api.p_lua_pushinteger)
#define lua_pushlstring (api.p_lua_pushlstring)
#define lua_pushstring (api.p_lua_pushstring)
#define lua_pushboolean (api.p_lua_pushboolean)
#define lua_pushlightuserdata (api.p_lua_pushlightuserdata)
#define lua_pushcclosure (api.p_lua_pushcclosure)
#define lua_createtable (api.p_lua_createtable)
#define lua_newuserdatauv (api.p_lua_newuserdatauv)
#define lua_setiuservalue (api.p_lua_setiuservalue)
#define lua_getfield (api.p_lua_getfield)
#define lua_setfield (api.p_lua_setfield)
#define lua_geti (api.p_lua_geti)
#define lua_seti (api.p_lua_seti)
#define lua_settable (api.p_lua_settable)
#define lua_next (api.p_lua_next)
#define lua_callk (api.p_lua_callk)
#define lua_error (api.p_lua_error)
#define luaL_checklstring (api.p_luaL_checklstring)
#define luaL_checkudata (api.p_luaL_checkudata)
#define luaL_newmetatable (api.p_luaL_newmetatable)
#define luaL_setmetatable (api.p_luaL_setmetatable)
#define luaL_getmetafield (api.p_luaL_getmetafield)

#define lua_pop(L, n) lua_settop(L, -(n)-1)
#define lua_call(L, n, r) lua_callk(L, (n), (r), NULL, NULL)

enum { T_INTEGER, T_BOOLEAN, T_STRING, T_DOUBLE, T_STRUCT };
#define DEEPLEVEL 64
#define SCHEMA_MT "skylet.sproto"
#define TYPE_MT "skylet.sproto.type"

struct stype;

struct field {
    const char *name;
    int tag, kind, array, key, map, sub;
    int64_t decimal; /* 10^precision of integer(N), else 0 */
    struct stype *st;
    const char *keyname, *kname, *vname;
};

struct stype {
    const char *name;
    int n, maxn; /* fields; header slots at most (fields + gaps) */
    struct field *f;
};

struct proto {
    const char *name;
    int tag, confirm;
    struct stype *request, *response;
};

struct schema {
    int ntypes, nprotos;
    struct stype *types;
    struct proto *protos;
};

/* ---- shared ---- */

static int fail(lua_State *L, const char *msg) {
    lua_pushstring(L, msg); /* no position prefix, as error(msg, 0) */
    return lua_error(L);
}

static uint32_t u16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const uint8_t *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t u64(const uint8_t *p) { return u32(p) | (uint64_t)u32(p + 4) << 32; }

/* ---- reading a schema bundle ---- */

/* Walks the fields of the message at p (sz bytes). */
typedef struct {
    const uint8_t *slots, *data, *end;
    int fn, i, tag;
} Walk;

static int walk_init(Walk *w, const uint8_t *p, size_t sz) {
    if (sz < 2)
        return -1;
    w->fn = (int)u16(p);
    if (sz < 2 + 2 * (size_t)w->fn)
        return -1;
    w->slots = p + 2;
    w->data = p + 2 + 2 * w->fn;
    w->end = p + sz;
    w->i = 0;
    w->tag = -1;
    return 0;
}

/* 1 and the next present field (value -1: a data block at *dp of *dsz bytes),
 * 0 at the end, -1 if truncated. */
static int walk_next(Walk *w, int *tag, int *value, const uint8_t **dp, uint32_t *dsz) {
    while (w->i < w->fn) {
        uint32_t v = u16(w->slots + 2 * w->i++);
        w->tag++;
        if (v & 1) {
            w->tag += v / 2;
            continue;
        }
        *tag = w->tag;
        if (v == 0) {
            if (w->end - w->data < 4)
                return -1;
            uint32_t sz = u32(w->data);
            if ((size_t)(w->end - w->data - 4) < sz)
                return -1;
            *dp = w->data + 4;
            *dsz = sz;
            w->data += 4 + sz;
            *value = -1;
        } else {
            *value = (int)(v / 2 - 1);
        }
        return 1;
    }
    return 0;
}

/* Next element of an array block: 1, 0 at the end, -1 if truncated. */
static int next_element(const uint8_t **p, const uint8_t *end, const uint8_t **ep, uint32_t *esz) {
    if (*p >= end)
        return 0;
    if (end - *p < 4)
        return -1;
    uint32_t sz = u32(*p);
    if ((size_t)(end - *p - 4) < sz)
        return -1;
    *ep = *p + 4;
    *esz = sz;
    *p += 4 + sz;
    return 1;
}

/* Two passes over the bundle: the first counts (fill == 0), the second fills. */
typedef struct {
    int fill;
    int ntypes, nfields, nprotos;
    size_t namebytes;
    struct schema *s;
    struct field *nextfield;
    char *names;
    const char *err;
} Builder;

#define BAD(b, why) ((b)->err = (why), -1)

static const char *copy_name(Builder *b, const uint8_t *p, uint32_t n) {
    if (!b->fill) {
        b->namebytes += (size_t)n + 1;
        return "";
    }
    char *s = b->names;
    memcpy(s, p, n);
    s[n] = 0;
    b->names += (size_t)n + 1;
    return s;
}

static int read_field(Builder *b, const uint8_t *p, uint32_t sz, struct field *f) {
    Walk w;
    int tag, v;
    const uint8_t *dp;
    uint32_t dsz;
    memset(f, 0, sizeof *f);
    f->name = NULL;
    f->tag = f->kind = f->key = f->sub = -1;
    if (walk_init(&w, p, sz))
        return BAD(b, "truncated");
    int r;
    while ((r = walk_next(&w, &tag, &v, &dp, &dsz)) > 0) {
        if (tag == 0) {
            if (v >= 0)
                return BAD(b, "field name is not a string");
            f->name = copy_name(b, dp, dsz);
            continue;
        }
        if (v < 0)
            return BAD(b, "field attribute is not a number");
        switch (tag) {
        case 1:
            if (v >= T_STRUCT)
                return BAD(b, "bad builtin type");
            f->kind = v;
            break;
        case 2:
            if (f->kind == T_INTEGER) {
                if (v > 18)
                    return BAD(b, "decimal precision too large");
                f->decimal = 1;
                for (int i = 0; i < v; i++)
                    f->decimal *= 10;
            } else if (f->kind == T_STRING) {
                /* 1: binary; a string either way */
            } else {
                if (f->kind >= 0)
                    return BAD(b, "field type given twice");
                if (v >= b->ntypes)
                    return BAD(b, "bad type index");
                f->kind = T_STRUCT;
                f->sub = v;
            }
            break;
        case 3:
            f->tag = v;
            break;
        case 4:
            f->array = v != 0;
            break;
        case 5:
            f->key = v;
            break;
        case 6:
            f->map = v != 0;
            break;
        default:
            return BAD(b, "unknown field attribute");
        }
    }
    if (r < 0)
        return BAD(b, "truncated");
    if (f->tag < 0 || f->kind < 0 || !f->name)
        return BAD(b, "incomplete field");
    return 0;
}

static int read_type(Builder *b, const uint8_t *p, uint32_t sz, struct stype *t) {
    Walk w;
    int tag, v, r;
    const uint8_t *dp, *fields = NULL;
    uint32_t dsz, fsz = 0;
    t->name = NULL;
    t->n = 0;
    t->f = b->fill ? b->nextfield : NULL;
    if (walk_init(&w, p, sz))
        return BAD(b, "truncated");
    while ((r = walk_next(&w, &tag, &v, &dp, &dsz)) > 0) {
        if (v >= 0)
            return BAD(b, "type attribute is not a block");
        if (tag == 0)
            t->name = copy_name(b, dp, dsz);
        else if (tag == 1)
            fields = dp, fsz = dsz;
        else
            return BAD(b, "unknown type attribute");
    }
    if (r < 0)
        return BAD(b, "truncated");
    if (!t->name)
        return BAD(b, "type without a name");
    if (fields) {
        const uint8_t *ep, *at = fields, *end = fields + fsz;
        uint32_t esz;
        int last = -1;
        while ((r = next_element(&at, end, &ep, &esz)) > 0) {
            struct field tmp, *f = b->fill ? &t->f[t->n] : &tmp;
            if (read_field(b, ep, esz, f))
                return -1;
            if (f->tag <= last)
                return BAD(b, "field tags out of order");
            t->maxn += f->tag > last + 1 ? 2 : 1;
            last = f->tag;
            t->n++;
        }
        if (r < 0)
            return BAD(b, "truncated array");
    }
    b->nfields += t->n;
    if (b->fill)
        b->nextfield += t->n;
    return 0;
}

static int read_protocol(Builder *b, const uint8_t *p, uint32_t sz, struct proto *pr) {
    Walk w;
    int tag, v, r;
    const uint8_t *dp;
    uint32_t dsz;
    memset(pr, 0, sizeof *pr);
    pr->tag = -1;
    if (walk_init(&w, p, sz))
        return BAD(b, "truncated");
    while ((r = walk_next(&w, &tag, &v, &dp, &dsz)) > 0) {
        if (tag == 0) {
            if (v >= 0)
                return BAD(b, "protocol name is not a string");
            pr->name = copy_name(b, dp, dsz);
            continue;
        }
        if (v < 0)
            return BAD(b, "protocol attribute is not a number");
        if (tag == 1) {
            pr->tag = v;
        } else if (tag == 2 || tag == 3) {
            if (v >= b->ntypes)
                return BAD(b, "bad type index");
            struct stype *t = b->fill ? &b->s->types[v] : NULL;
            if (tag == 2)
                pr->request = t;
            else
                pr->response = t;
        } else if (tag == 4) {
            pr->confirm = v != 0;
        } else {
            return BAD(b, "unknown protocol attribute");
        }
    }
    if (r < 0)
        return BAD(b, "truncated");
    if (!pr->name || pr->tag < 0)
        return BAD(b, "incomplete protocol");
    return 0;
}

static int read_bundle(Builder *b, const uint8_t *p, size_t sz) {
    Walk w;
    int tag, v, r;
    const uint8_t *dp, *blocks[2] = {NULL, NULL};
    uint32_t dsz, sizes[2] = {0, 0};
    if (walk_init(&w, p, sz))
        return BAD(b, "truncated");
    while ((r = walk_next(&w, &tag, &v, &dp, &dsz)) > 0) {
        if (v >= 0 || tag > 1)
            return BAD(b, "not a schema group");
        blocks[tag] = dp, sizes[tag] = dsz;
    }
    if (r < 0)
        return BAD(b, "truncated");
    for (int part = 0; part < 2; part++) {
        if (!blocks[part])
            continue;
        const uint8_t *ep, *at = blocks[part], *end = blocks[part] + sizes[part];
        uint32_t esz;
        int n = 0;
        if (part == 0 && !b->fill) {
            /* count the types first: fields refer to them by index */
            while ((r = next_element(&at, end, &ep, &esz)) > 0)
                b->ntypes++;
            if (r < 0)
                return BAD(b, "truncated array");
            at = blocks[part];
        }
        while ((r = next_element(&at, end, &ep, &esz)) > 0) {
            if (part == 0) {
                struct stype tmp, *t = b->fill ? &b->s->types[n] : &tmp;
                memset(t, 0, sizeof *t);
                if (read_type(b, ep, esz, t))
                    return -1;
            } else {
                struct proto tmp, *pr = b->fill ? &b->s->protos[n] : &tmp;
                if (read_protocol(b, ep, esz, pr))
                    return -1;
                if (!b->fill)
                    b->nprotos++;
            }
            n++;
        }
        if (r < 0)
            return BAD(b, "truncated array");
    }
    return 0;
}

static struct field *field_by_tag(struct stype *t, int tag) {
    int lo = 0, hi = t->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int ft = t->f[mid].tag;
        if (ft == tag)
            return &t->f[mid];
        if (tag > ft)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int link_types(Builder *b) {
    struct schema *s = b->s;
    for (int i = 0; i < s->ntypes; i++) {
        struct stype *t = &s->types[i];
        for (int j = 0; j < t->n; j++) {
            struct field *f = &t->f[j];
            f->st = f->kind == T_STRUCT ? &s->types[f->sub] : NULL;
            if (f->key < 0)
                continue;
            struct field *kf = f->st ? field_by_tag(f->st, f->key) : NULL;
            if (!kf)
                return BAD(b, "bad key");
            f->keyname = kf->name;
            if (f->map) {
                if (f->st->n < 2)
                    return BAD(b, "map of less than two fields");
                f->kname = f->st->f[0].name;
                f->vname = f->st->f[1].name;
            }
        }
    }
    return 0;
}

/* newproto(bin) -> schema, or nil and why */
static int l_newproto(lua_State *L) {
    size_t sz;
    const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &sz);
    Builder b;
    char why[96];
    memset(&b, 0, sizeof b);
    if (read_bundle(&b, p, sz) == 0) {
        size_t total = sizeof(struct schema) + sizeof(struct stype) * (size_t)b.ntypes +
                       sizeof(struct field) * (size_t)b.nfields +
                       sizeof(struct proto) * (size_t)b.nprotos + b.namebytes;
        struct schema *s = lua_newuserdatauv(L, total, 0);
        memset(s, 0, total);
        luaL_setmetatable(L, SCHEMA_MT);
        s->ntypes = b.ntypes;
        s->nprotos = b.nprotos;
        s->types = (struct stype *)(s + 1);
        b.nextfield = (struct field *)(s->types + b.ntypes);
        s->protos = (struct proto *)(b.nextfield + b.nfields);
        b.names = (char *)(s->protos + b.nprotos);
        b.fill = 1;
        b.s = s;
        b.nfields = 0;
        if (read_bundle(&b, p, sz) == 0 && link_types(&b) == 0)
            return 1;
    }
    lua_pushnil(L);
    snprintf(why, sizeof why, "invalid sproto schema bundle: %s", b.err);
    lua_pushstring(L, why);
    return 2;
}

static int l_deleteproto(lua_State *L) {
    (void)L;
    return 0;
}

static void push_type(lua_State *L, int schema, struct stype *t) {
    struct stype **h = lua_newuserdatauv(L, sizeof *h, 1);
    *h = t;
    lua_pushvalue(L, schema);
    lua_setiuservalue(L, -2, 1); /* the type keeps its schema alive */
    luaL_setmetatable(L, TYPE_MT);
}

static int l_querytype(lua_State *L) {
    struct schema *s = luaL_checkudata(L, 1, SCHEMA_MT);
    const char *name = luaL_checklstring(L, 2, NULL);
    for (int i = 0; i < s->ntypes; i++) {
        if (strcmp(s->types[i].name, name) == 0) {
            push_type(L, 1, &s->types[i]);
            return 1;
        }
    }
    return 0;
}

/* protocol(sp, name | tag) -> tag | name, request, response (CONFIRM: response nil) */
static int l_protocol(lua_State *L) {
    struct schema *s = luaL_checkudata(L, 1, SCHEMA_MT);
    struct proto *p = NULL;
    int t = lua_type(L, 2);
    if (t == LUA_TNUMBER) {
        int isint;
        lua_Integer tag = lua_tointegerx(L, 2, &isint);
        for (int i = 0; i < s->nprotos && isint && !p; i++)
            if (s->protos[i].tag == tag)
                p = &s->protos[i];
        if (!p)
            return 0;
        lua_pushstring(L, p->name);
    } else {
        if (t != LUA_TSTRING)
            return fail(L, "bad argument #2 to 'protocol' (Should be number or string)");
        const char *name = lua_tolstring(L, 2, NULL);
        for (int i = 0; i < s->nprotos && !p; i++)
            if (strcmp(s->protos[i].name, name) == 0)
                p = &s->protos[i];
        if (!p)
            return 0;
        lua_pushinteger(L, p->tag);
    }
    if (p->request)
        push_type(L, 1, p->request);
    else
        lua_pushnil(L);
    if (p->response)
        push_type(L, 1, p->response);
    else if (p->confirm)
        lua_pushlightuserdata(L, NULL);
    else
        lua_pushnil(L);
    return 3;
}

/* ---- output buffer (shared by encode, pack and unpack) ---- */

#define INITIAL_BUFFER 1024

typedef struct {
    lua_State *L;
    unsigned char *buf;
    size_t len, cap;
    int slot; /* stack slot anchoring the heap buffer once it outgrows local */
    unsigned char local[INITIAL_BUFFER];
} Buf;

static void buf_init(Buf *b, lua_State *L) {
    b->L = L;
    b->buf = b->local;
    b->len = 0;
    b->cap = sizeof b->local;
    lua_pushnil(L);
    b->slot = lua_gettop(L);
}

static void grow(Buf *b, size_t need) {
    size_t cap = b->cap * 2;
    if (cap - b->len < need) {
        if (need > ((size_t)1 << 31))
            fail(b->L, "sproto: message too large");
        cap = b->len + need;
    }
    unsigned char *bigger = lua_newuserdatauv(b->L, cap, 0);
    memcpy(bigger, b->buf, b->len);
    lua_copy(b->L, -1, b->slot);
    lua_pop(b->L, 1);
    b->buf = bigger;
    b->cap = cap;
}

static inline size_t reserve(Buf *b, size_t n) {
    if (b->cap - b->len < n)
        grow(b, n);
    size_t at = b->len;
    b->len += n;
    return at;
}

static void put_u16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v) {
    put_u16(p, v & 0xffff);
    put_u16(p + 2, v >> 16);
}

static void put_u64(unsigned char *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static void put_bytes(Buf *b, const void *s, size_t n) {
    size_t at = reserve(b, n);
    memcpy(b->buf + at, s, n);
}

/* ---- encoding ---- */

static int encode_error(lua_State *L, struct stype *st, struct field *f, int index,
                        const char *what, int idx) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s.%s[%d] is not %s (Is a %s)", st->name, f->name, index, what,
             lua_typename(L, lua_type(L, idx)));
    return fail(L, msg);
}

/* The value at idx as sproto's C binding reads an integer field. */
static int64_t to_integer(lua_State *L, int idx, struct stype *st, struct field *f, int index) {
    int ok;
    if (f->decimal) {
        double x = lua_tonumberx(L, idx, &ok) * (double)f->decimal;
        /* round half away from zero, in range of int64 */
        if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s.%s[%d] is out of range", st->name, f->name, index);
            fail(L, msg);
        }
        int64_t r = (int64_t)x; /* truncates toward zero */
        double frac = x - (double)r;
        if (frac >= 0.5)
            r++;
        else if (frac <= -0.5)
            r--;
        return r;
    }
    int64_t v = lua_tointegerx(L, idx, &ok);
    if (!ok)
        encode_error(L, st, f, index, "an integer", idx);
    return v;
}

static void encode_struct(Buf *b, struct stype *st, int idx, int depth);

static void check_struct_value(lua_State *L, struct stype *st, struct field *f, int index, int idx) {
    int t = lua_type(L, idx);
    if (t != LUA_TTABLE && t != LUA_TUSERDATA)
        encode_error(L, st, f, index, "a table", idx);
}

/* One string or struct element (value on top), with its size prefix. */
static void encode_element(Buf *b, struct stype *st, struct field *f, int index, int depth) {
    lua_State *L = b->L;
    int top = lua_gettop(L);
    if (f->kind == T_STRING) {
        size_t n;
        if (lua_type(L, top) != LUA_TSTRING)
            encode_error(L, st, f, index, "a string", top);
        const char *s = lua_tolstring(L, top, &n);
        size_t at = reserve(b, 4 + n);
        put_u32(b->buf + at, (uint32_t)n);
        memcpy(b->buf + at + 4, s, n);
        return;
    }
    check_struct_value(L, st, f, index, top);
    size_t at = reserve(b, 4);
    encode_struct(b, f->st, top, depth + 1);
    put_u32(b->buf + at, (uint32_t)(b->len - at - 4));
}

/* The n-th entry of a keyed array: key at -2, value at -1. A map's entry is
 * encoded as { [kname] = key, [vname] = value }. */
static void encode_keyed(Buf *b, struct stype *st, struct field *f, int n, int depth) {
    lua_State *L = b->L;
    if (f->map) {
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, f->kname);
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, f->vname);
        encode_element(b, st, f, n, depth);
        lua_pop(L, 1);
    } else {
        encode_element(b, st, f, n, depth);
    }
}

static void encode_array(Buf *b, struct stype *st, struct field *f, int idx, int depth) {
    lua_State *L = b->L;
    luaL_checkstack(L, 8, NULL);
    if (lua_type(L, idx) != LUA_TTABLE) {
        if (luaL_getmetafield(L, idx, "__pairs") == LUA_TNIL) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "%s.%s(%d) should be a table or an userdata with metamethods (Is a %s)",
                     st->name, f->name, 1, lua_typename(L, lua_type(L, idx)));
            fail(L, msg);
        }
        lua_pop(L, 1);
    }
    size_t at = reserve(b, 4);
    int kind = f->kind;
    if (kind == T_INTEGER || kind == T_DOUBLE) {
        /* first pass: how many, and whether any needs 64 bits */
        int n = 0, wide = kind == T_DOUBLE;
        for (;;) {
            if (lua_geti(L, idx, n + 1) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            n++;
            if (kind == T_INTEGER) {
                int64_t v = to_integer(L, -1, st, f, n);
                if (v < INT32_MIN || v > INT32_MAX)
                    wide = 1;
            }
            lua_pop(L, 1);
        }
        if (n > 0) {
            int width = wide ? 8 : 4;
            size_t p = reserve(b, 1 + (size_t)n * width);
            b->buf[p++] = (unsigned char)width;
            for (int i = 1; i <= n; i++, p += width) {
                lua_geti(L, idx, i);
                if (kind == T_DOUBLE) {
                    double d = lua_tonumberx(L, -1, NULL);
                    uint64_t bits;
                    memcpy(&bits, &d, 8);
                    put_u64(b->buf + p, bits);
                } else {
                    int64_t v = to_integer(L, -1, st, f, i);
                    if (wide)
                        put_u64(b->buf + p, (uint64_t)v);
                    else
                        put_u32(b->buf + p, (uint32_t)v);
                }
                lua_pop(L, 1);
            }
        }
    } else if (kind == T_BOOLEAN) {
        for (int i = 1;; i++) {
            int t = lua_geti(L, idx, i);
            if (t == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            if (t != LUA_TBOOLEAN)
                encode_error(L, st, f, i, "a boolean", -1);
            b->buf[reserve(b, 1)] = (unsigned char)lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    } else if (f->key >= 0) {
        /* a keyed array is a Lua map: the values, in pairs order */
        int n = 0;
        if (luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL) {
            lua_pushvalue(L, idx);
            lua_call(L, 1, 3);
            int it = lua_gettop(L) - 2; /* iterator, state, control */
            for (;;) {
                lua_pushvalue(L, it);
                lua_pushvalue(L, it + 1);
                lua_pushvalue(L, it + 2);
                lua_call(L, 2, 2);
                if (lua_type(L, -2) == LUA_TNIL) {
                    lua_pop(L, 2);
                    break;
                }
                lua_copy(L, -2, it + 2);
                encode_keyed(b, st, f, ++n, depth);
                lua_pop(L, 2);
            }
            lua_pop(L, 3);
        } else {
            lua_pushnil(L);
            while (lua_next(L, idx)) {
                encode_keyed(b, st, f, ++n, depth);
                lua_pop(L, 1);
            }
        }
    } else {
        for (int i = 1;; i++) {
            if (lua_geti(L, idx, i) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            encode_element(b, st, f, i, depth);
            lua_pop(L, 1);
        }
    }
    put_u32(b->buf + at, (uint32_t)(b->len - at - 4));
}

static void encode_struct(Buf *b, struct stype *st, int idx, int depth) {
    lua_State *L = b->L;
    if (st->n > 0 && depth >= DEEPLEVEL)
        fail(L, "The table is too deep");
    luaL_checkstack(L, 8, NULL);
    size_t start = b->len;
    size_t hsize = 2 + 2 * (size_t)st->maxn;
    reserve(b, hsize);
    int ns = 0, lasttag = -1;
    for (int i = 0; i < st->n; i++) {
        struct field *f = &st->f[i];
        if (lua_getfield(L, idx, f->name) == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        int top = lua_gettop(L);
        uint32_t slot = 0;
        if (f->array) {
            encode_array(b, st, f, top, depth);
        } else {
            switch (f->kind) {
            case T_INTEGER: {
                int64_t v = to_integer(L, top, st, f, 0);
                if (v >= 0 && v < 0x7fff) {
                    slot = (uint32_t)(v + 1) * 2;
                } else if (v >= INT32_MIN && v <= INT32_MAX) {
                    size_t at = reserve(b, 8);
                    put_u32(b->buf + at, 4);
                    put_u32(b->buf + at + 4, (uint32_t)v);
                } else {
                    size_t at = reserve(b, 12);
                    put_u32(b->buf + at, 8);
                    put_u64(b->buf + at + 4, (uint64_t)v);
                }
                break;
            }
            case T_STRING:
                encode_element(b, st, f, 0, depth);
                break;
            case T_BOOLEAN:
                if (lua_type(L, top) != LUA_TBOOLEAN)
                    encode_error(L, st, f, 0, "a boolean", top);
                slot = lua_toboolean(L, top) ? 4 : 2;
                break;
            case T_DOUBLE: {
                double d = lua_tonumberx(L, top, NULL);
                uint64_t bits;
                memcpy(&bits, &d, 8);
                size_t at = reserve(b, 12);
                put_u32(b->buf + at, 8);
                put_u64(b->buf + at + 4, bits);
                break;
            }
            default:
                encode_element(b, st, f, 0, depth);
            }
        }
        lua_pop(L, 1);
        int gap = f->tag - lasttag - 1;
        if (gap > 0) {
            gap = (gap - 1) * 2 + 1;
            if (gap > 0xffff) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s.%s: tag gap too large", st->name, f->name);
                fail(L, msg);
            }
            put_u16(b->buf + start + 2 + 2 * ns++, (uint32_t)gap);
        }
        put_u16(b->buf + start + 2 + 2 * ns++, slot);
        lasttag = f->tag;
    }
    put_u16(b->buf + start, (uint32_t)ns);
    size_t used = 2 + 2 * (size_t)ns;
    if (used < hsize) {
        memmove(b->buf + start + used, b->buf + start + hsize, b->len - start - hsize);
        b->len -= hsize - used;
    }
}

static int is_confirm(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* encode(st, tbl) -> message */
static int l_encode(lua_State *L) {
    if (is_confirm(L, 1)) {
        if (lua_type(L, 2) > LUA_TNIL) {
            char msg[128];
            snprintf(msg, sizeof msg, "bad argument #2 to 'encode' (nil expected, got %s)",
                     lua_typename(L, lua_type(L, 2)));
            return fail(L, msg);
        }
        lua_pushlstring(L, "", 0);
        return 1;
    }
    struct stype *st = *(struct stype **)luaL_checkudata(L, 1, TYPE_MT);
    int t = lua_type(L, 2);
    if (t != LUA_TTABLE && t != LUA_TUSERDATA) {
        char msg[256];
        snprintf(msg, sizeof msg, "sproto encode %s: expected a table, got %s", st->name,
                 lua_typename(L, t < 0 ? LUA_TNIL : t));
        return fail(L, msg);
    }
    lua_settop(L, 2);
    Buf b;
    buf_init(&b, L);
    encode_struct(&b, st, 2, 0);
    lua_pushlstring(L, (const char *)b.buf, b.len);
    return 1;
}

/* ---- decoding ---- */

static int decode_error(lua_State *L, struct stype *st, const char *why, const char *name) {
    char msg[256];
    snprintf(msg, sizeof msg, "decode error: %s%s%s (%s)", why, name ? " " : "", name ? name : "",
             st->name);
    return fail(L, msg);
}

static size_t decode_struct(lua_State *L, struct stype *st, const uint8_t *p, size_t size,
                            int result, int depth);

static double bits_to_double(uint64_t bits) {
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Decodes the struct element at p into a new table on top of the stack. */
static void decode_element(lua_State *L, struct stype *sub, const uint8_t *p, uint32_t sz,
                           int depth) {
    lua_createtable(L, 0, sub->n);
    if (decode_struct(L, sub, p, sz, lua_gettop(L), depth + 1) != sz)
        decode_error(L, sub, "struct size mismatch", NULL);
}

/* The array of f at p (size bytes), pushed. */
static void decode_array(lua_State *L, struct stype *st, struct field *f, const uint8_t *p,
                         uint32_t size, int depth) {
    luaL_checkstack(L, 8, NULL);
    lua_createtable(L, 0, 0);
    int arr = lua_gettop(L);
    if (size == 0)
        return;
    int kind = f->kind;
    if (kind == T_INTEGER || kind == T_DOUBLE) {
        size--;
        if (size == 0)
            return;
        int width = p[0];
        if (width != 4 && width != 8)
            decode_error(L, st, "bad integer width in", f->name);
        if (size % width)
            decode_error(L, st, "bad array size of", f->name);
        p++;
        for (uint32_t i = 0; i < size / width; i++, p += width) {
            int64_t v = width == 4 ? (int64_t)(int32_t)u32(p) : (int64_t)u64(p);
            if (kind == T_DOUBLE)
                lua_pushnumber(L, bits_to_double((uint64_t)v));
            else if (f->decimal)
                lua_pushnumber(L, (double)v / (double)f->decimal);
            else
                lua_pushinteger(L, v);
            lua_seti(L, arr, (lua_Integer)i + 1);
        }
    } else if (kind == T_BOOLEAN) {
        for (uint32_t i = 0; i < size; i++) {
            lua_pushboolean(L, p[i] != 0);
            lua_seti(L, arr, (lua_Integer)i + 1);
        }
    } else {
        const uint8_t *at = p, *end = p + size, *ep;
        uint32_t esz;
        int r;
        lua_Integer i = 0;
        while ((r = next_element(&at, end, &ep, &esz)) > 0) {
            i++;
            if (kind == T_STRING) {
                lua_pushlstring(L, (const char *)ep, esz);
                lua_seti(L, arr, i);
                continue;
            }
            decode_element(L, f->st, ep, esz, depth);
            int elem = lua_gettop(L);
            char msg[256];
            if (f->kname) {
                if (lua_getfield(L, elem, f->kname) == LUA_TNIL) {
                    snprintf(msg, sizeof msg, "Can't find key field in [%s]", f->name);
                    fail(L, msg);
                }
                if (lua_getfield(L, elem, f->vname) == LUA_TNIL) {
                    snprintf(msg, sizeof msg, "Can't find value field in [%s]", f->name);
                    fail(L, msg);
                }
                lua_settable(L, arr);
            } else if (f->keyname) {
                if (lua_getfield(L, elem, f->keyname) == LUA_TNIL) {
                    snprintf(msg, sizeof msg, "Can't find main index (tag=%d) in [%s]", f->key,
                             f->name);
                    fail(L, msg);
                }
                lua_pushvalue(L, elem);
                lua_settable(L, arr);
            } else {
                lua_pushvalue(L, elem);
                lua_seti(L, arr, i);
            }
            lua_settop(L, arr);
        }
        if (r < 0)
            decode_error(L, st, "truncated array", f->name);
    }
}

static size_t decode_struct(lua_State *L, struct stype *st, const uint8_t *p, size_t size,
                            int result, int depth) {
    if (size < 2)
        decode_error(L, st, "truncated header", NULL);
    uint32_t fn = u16(p);
    if (size < 2 + 2 * (size_t)fn)
        decode_error(L, st, "truncated header", NULL);
    if (fn > 0 && depth >= DEEPLEVEL)
        fail(L, "The table is too deep");
    luaL_checkstack(L, 8, NULL);
    const uint8_t *slots = p + 2, *data = p + 2 + 2 * fn, *end = p + size;
    int tag = -1;
    for (uint32_t i = 0; i < fn; i++) {
        uint32_t slot = u16(slots + 2 * i);
        tag++;
        if (slot & 1) {
            tag += slot / 2;
            continue;
        }
        int value = (int)(slot / 2) - 1;
        const uint8_t *cur = data;
        uint32_t sz = 0;
        if (value < 0) {
            if (end - data < 4)
                decode_error(L, st, "truncated data", NULL);
            sz = u32(data);
            if ((size_t)(end - data - 4) < sz)
                decode_error(L, st, "truncated data", NULL);
            data += 4 + sz;
        }
        struct field *f = field_by_tag(st, tag);
        if (!f)
            continue;
        if (value >= 0) {
            if (f->array || (f->kind != T_INTEGER && f->kind != T_BOOLEAN))
                decode_error(L, st, "bad value of", f->name);
            if (f->kind == T_BOOLEAN)
                lua_pushboolean(L, value != 0);
            else if (f->decimal)
                lua_pushnumber(L, (double)value / (double)f->decimal);
            else
                lua_pushinteger(L, value);
        } else if (f->array) {
            decode_array(L, st, f, cur + 4, sz, depth);
        } else if (f->kind == T_INTEGER || f->kind == T_DOUBLE) {
            int64_t v;
            if (sz == 4)
                v = (int32_t)u32(cur + 4);
            else if (sz == 8)
                v = (int64_t)u64(cur + 4);
            else
                return decode_error(L, st, "bad integer size of", f->name);
            if (f->kind == T_DOUBLE)
                lua_pushnumber(L, bits_to_double((uint64_t)v));
            else if (f->decimal)
                lua_pushnumber(L, (double)v / (double)f->decimal);
            else
                lua_pushinteger(L, v);
        } else if (f->kind == T_STRING) {
            lua_pushlstring(L, (const char *)cur + 4, sz);
        } else if (f->kind == T_STRUCT) {
            decode_element(L, f->st, cur + 4, sz, depth);
        } else {
            return decode_error(L, st, "bad value of", f->name);
        }
        lua_setfield(L, result, f->name);
    }
    return (size_t)(data - p);
}

/* decode(st, blob [, sz] [, result]) -> result, bytes used */
static int l_decode(lua_State *L) {
    if (lua_type(L, 1) <= LUA_TNIL || is_confirm(L, 1))
        return 0;
    struct stype *st = *(struct stype **)luaL_checkudata(L, 1, TYPE_MT);
    if (lua_type(L, 2) != LUA_TSTRING) {
        char msg[128];
        snprintf(msg, sizeof msg, "bad argument #2 to 'decode' (Need a string, got %s)",
                 lua_typename(L, lua_type(L, 2) < 0 ? LUA_TNIL : lua_type(L, 2)));
        return fail(L, msg);
    }
    size_t size;
    const uint8_t *p = (const uint8_t *)lua_tolstring(L, 2, &size);
    int top = lua_gettop(L);
    if (top < 3 || lua_type(L, top) != LUA_TTABLE) {
        lua_createtable(L, 0, st->n);
        top = lua_gettop(L);
    }
    size_t used = decode_struct(L, st, p, size, top, 0);
    lua_settop(L, top);
    lua_pushinteger(L, (lua_Integer)used);
    return 2;
}

/* ---- default values ---- */

static void push_default(lua_State *L, struct field *f, int in_array) {
    switch (f->kind) {
    case T_INTEGER:
        if (f->decimal)
            lua_pushnumber(L, 0.0);
        else
            lua_pushinteger(L, 0);
        break;
    case T_DOUBLE:
        lua_pushnumber(L, 0.0);
        break;
    case T_BOOLEAN:
        lua_pushboolean(L, 0);
        break;
    case T_STRING:
        lua_pushlstring(L, "", 0);
        break;
    default:
        if (in_array) {
            lua_pushstring(L, f->st->name);
        } else {
            lua_createtable(L, 0, 1);
            lua_pushstring(L, f->st->name);
            lua_setfield(L, -2, "__type");
        }
    }
}

static int l_default(lua_State *L) {
    struct stype *st = *(struct stype **)luaL_checkudata(L, 1, TYPE_MT);
    lua_createtable(L, 0, st->n);
    for (int i = 0; i < st->n; i++) {
        struct field *f = &st->f[i];
        if (f->array) {
            lua_createtable(L, 0, 1);
            push_default(L, f, 1);
            lua_setfield(L, -2, "__array");
        } else {
            push_default(L, f, 0);
        }
        lua_setfield(L, -2, f->name);
    }
    return 1;
}

/* ---- 0-packing ---- */

static const char *check_bytes(lua_State *L, const char *fname, size_t *n) {
    if (lua_type(L, 1) != LUA_TSTRING) {
        char msg[128];
        snprintf(msg, sizeof msg, "bad argument #1 to '%s' (Need a string, got %s)", fname,
                 lua_typename(L, lua_type(L, 1) < 0 ? LUA_TNIL : lua_type(L, 1)));
        fail(L, msg);
    }
    return lua_tolstring(L, 1, n);
}

/* A run of n words from s + off as 0xff, n - 1, the words (zero padded past len). */
static void flush_run(Buf *b, const uint8_t *s, size_t len, size_t off, int n) {
    size_t bytes = (size_t)n * 8;
    size_t at = reserve(b, 2 + bytes);
    size_t avail = len - off < bytes ? len - off : bytes;
    b->buf[at] = 0xff;
    b->buf[at + 1] = (unsigned char)(n - 1);
    memcpy(b->buf + at + 2, s + off, avail);
    memset(b->buf + at + 2 + avail, 0, bytes - avail);
}

static int l_pack(lua_State *L) {
    size_t len;
    const uint8_t *s = (const uint8_t *)check_bytes(L, "pack", &len);
    lua_settop(L, 1);
    Buf b;
    buf_init(&b, L);
    size_t run_off = 0;
    int run_n = 0;
    for (size_t off = 0; off < len; off += 8) {
        uint8_t word[8] = {0};
        memcpy(word, s + off, len - off < 8 ? len - off : 8);
        int nz = 0;
        unsigned header = 0;
        for (int i = 0; i < 8; i++)
            if (word[i]) {
                header |= 1u << i;
                nz++;
            }
        if (run_n > 0 && nz >= 6) {
            if (++run_n == 256) {
                flush_run(&b, s, len, run_off, 256);
                run_n = 0;
            }
        } else if (nz == 8) {
            run_off = off;
            run_n = 1;
        } else {
            if (run_n > 0) {
                flush_run(&b, s, len, run_off, run_n);
                run_n = 0;
            }
            size_t at = reserve(&b, 1 + (size_t)nz);
            b.buf[at++] = (unsigned char)header;
            for (int i = 0; i < 8; i++)
                if (word[i])
                    b.buf[at++] = word[i];
        }
    }
    if (run_n > 0)
        flush_run(&b, s, len, run_off, run_n);
    lua_pushlstring(L, (const char *)b.buf, b.len);
    return 1;
}

static int l_unpack(lua_State *L) {
    size_t len;
    const uint8_t *s = (const uint8_t *)check_bytes(L, "unpack", &len);
    lua_settop(L, 1);
    Buf b;
    buf_init(&b, L);
    size_t pos = 0;
    while (pos < len) {
        unsigned header = s[pos++];
        if (header == 0xff) {
            if (pos >= len)
                return fail(L, "Invalid unpack stream");
            size_t n = ((size_t)s[pos] + 1) * 8;
            if (len - pos - 1 < n)
                return fail(L, "Invalid unpack stream");
            put_bytes(&b, s + pos + 1, n);
            pos += 1 + n;
        } else {
            size_t at = reserve(&b, 8);
            for (int i = 0; i < 8; i++) {
                if (header & (1u << i)) {
                    if (pos >= len)
                        return fail(L, "Invalid unpack stream");
                    b.buf[at + i] = s[pos++];
                } else {
                    b.buf[at + i] = 0;
                }
            }
        }
    }
    lua_pushlstring(L, (const char *)b.buf, b.len);
    return 1;
}

/* Opened by the boot chunk through package.loadlib. Returns nothing (so the
 * VM falls back to sprotocore.lua) unless skylet bound the API to this very
 * Lua 5.4. */
EXPORT int luaopen_skylet_csproto(lua_State *L) {
    if (!api_bound || lua_version(L) != 504)
        return 0;
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {
        {"newproto", l_newproto}, {"deleteproto", l_deleteproto}, {"querytype", l_querytype},
        {"protocol", l_protocol}, {"encode", l_encode},           {"decode", l_decode},
        {"default", l_default},   {"pack", l_pack},               {"unpack", l_unpack},
    };
    for (int i = 0; i < 2; i++) {
        luaL_newmetatable(L, i ? TYPE_MT : SCHEMA_MT);
        lua_pushstring(L, "sproto");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) + 1);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushcclosure(L, fns[i].fn, 0);
        lua_setfield(L, -2, fns[i].name);
    }
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "CONFIRM");
    return 1;
}
