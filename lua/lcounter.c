/*
 * lcounter.c -- "ember.Counter": how many times each distinct Lua value was
 * seen, counted in C.
 *
 * The map side of count_by_value (exec.lua) feeds every element of a
 * partition here.  Counting in a Lua table costs an interpreted call, a
 * group-key computation and a table update per element; here it is one C
 * call per element, or one per array (add_all: a flat_map's result).
 *
 * Values are grouped as exec.lua's gkey groups them, that is as Lua's ==
 * would, with NaN as one value and tables by content:
 *   - strings by their bytes (up to 8 bytes kept in the slot itself);
 *   - numbers by value, an integer and a float of the same value being one
 *     value (the first seen is the one reported); all NaNs one value;
 *   - booleans;
 *   - anything else (tables, ember.null) by its canonical key bytes
 *     (serialize.c's ser_key), the first value seen kept in the userdata's
 *     user value so it can be handed back.
 *
 * One open-addressing table (linear probing, at most 3/4 full) of 32-byte
 * slots holding the key, its hash tag and its count, so a value already
 * there costs one cache line; keys longer than 8 bytes live in one byte
 * arena.  Memory is plain malloc; the owner asks c:bytes() and flushes
 * (w:add_counts) when execution memory is refused.  Thread rules: a
 * counter belongs to the lua_State that made it.
 */
#include "lcounter.h"

#include "serialize.h"
#include "util/err.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { K_EMPTY, K_STR, K_INT, K_FLT, K_NAN, K_BOOL, K_OTHER };

/* One slot of the table: 32 bytes, so that finding a value that is there
 * touches one cache line (strings of up to 8 bytes are compared in the
 * slot itself). */
typedef struct centry {
    int64_t count;
    union {
        int64_t i;
        double d;
        uint64_t off; /* into the arena, when len > 8 */
        uint64_t w;   /* len <= 8: the bytes, zero-padded */
    } v;
    uint32_t tag;     /* high bits of the hash */
    uint32_t len;     /* K_STR, K_OTHER: key bytes */
    uint32_t ref;     /* K_OTHER: index in the user value table */
    uint8_t kind;     /* K_EMPTY: a free slot */
    uint8_t as_float; /* K_INT first seen as a float */
} centry;

struct lcounter {
    centry *tab;
    size_t n;    /* values held */
    size_t mask; /* capacity - 1; 0 when not allocated */
    char *arena;
    size_t alen, acap;
    uint32_t others; /* values kept in the user value table */
    int closed;
    char what[32]; /* the operation, for messages */
};

/* ------------------------------------------------------------ hashing */

/* bytes longer than 8; shorter ones hash as their padded word */
static uint64_t hash_long(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    return ser_mix64(h);
}

static uint64_t hash_short(uint64_t w, size_t n, uint64_t seed)
{
    return ser_mix64((w ^ seed) * 0x9e3779b97f4a7c15ull + n);
}

#define SEED_STR 0x5354u
#define SEED_OTHER 0x4f5448u

/* A key of up to 8 bytes as one word, without a call or a loop: two
 * overlapping loads.  For a given length the word determines the bytes
 * (pack_short and unpack_short are inverses), which is all equality needs:
 * the length is compared too. */
static uint64_t pack_short(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    uint32_t a, b;
    uint64_t w;
    if (n >= 4) {
        if (n == 8) {
            memcpy(&w, p, 8);
            return w;
        }
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return a | (uint64_t)b << 32;
    }
    if (n == 0)
        return 0;
    return u[0] | (uint64_t)u[n / 2] << 8 | (uint64_t)u[n - 1] << 16;
}

static void unpack_short(uint64_t w, size_t n, char *out)
{
    if (n == 8) {
        memcpy(out, &w, 8);
    } else if (n >= 4) {
        uint32_t a = (uint32_t)w, b = (uint32_t)(w >> 32);
        memcpy(out + n - 4, &b, 4);
        memcpy(out, &a, 4);
    } else if (n > 0) {
        out[n - 1] = (char)(w >> 16);
        out[n / 2] = (char)(w >> 8);
        out[0] = (char)w;
    }
}

/* ------------------------------------------------------------- storage */

size_t lcounter_bytes(const lcounter *c)
{
    return (c->mask ? (c->mask + 1) * sizeof(centry) : 0) + c->acap;
}

size_t lcounter_size(const lcounter *c)
{
    return c->n;
}

static void free_all(lcounter *c)
{
    free(c->tab);
    free(c->arena);
    c->tab = NULL;
    c->arena = NULL;
    c->n = c->mask = c->alen = c->acap = 0;
    c->others = 0;
}

static uint64_t hash_scalar(int kind, int64_t i, double d)
{
    uint64_t u;
    switch (kind) {
    case K_INT:
        return ser_mix64((uint64_t)i ^ 0x494e54u);
    case K_FLT:
        memcpy(&u, &d, 8);
        return ser_mix64(u ^ 0x464c54u);
    case K_NAN:
        return ser_mix64(0x4e414eu);
    default: /* K_BOOL */
        return ser_mix64(0x424f4f4cu + (uint64_t)i);
    }
}

static uint64_t hash_of(const lcounter *c, const centry *e)
{
    switch (e->kind) {
    case K_STR:
    case K_OTHER: {
        uint64_t seed = e->kind == K_STR ? SEED_STR : SEED_OTHER;
        return e->len <= 8 ? hash_short(e->v.w, e->len, seed)
                           : hash_long(c->arena + e->v.off, e->len, seed);
    }
    default:
        return hash_scalar(e->kind, e->v.i, e->kind == K_FLT ? e->v.d : 0);
    }
}

static int grow_table(lcounter *c)
{
    size_t ncap = c->mask ? (c->mask + 1) * 2 : 1024;
    centry *nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return -1;
    for (size_t j = 0; c->mask && j <= c->mask; j++) {
        const centry *e = &c->tab[j];
        size_t i;
        if (e->kind == K_EMPTY)
            continue;
        for (i = (size_t)hash_of(c, e) & (ncap - 1); nt[i].kind != K_EMPTY;
             i = (i + 1) & (ncap - 1))
            ;
        nt[i] = *e;
    }
    free(c->tab);
    c->tab = nt;
    c->mask = ncap - 1;
    return 0;
}

static int arena_put(lcounter *c, const char *p, size_t n, uint64_t *off)
{
    if (c->alen + n > c->acap) {
        size_t na = c->acap ? c->acap * 2 : 4096;
        char *a;
        while (na < c->alen + n)
            na *= 2;
        if (!(a = realloc(c->arena, na)))
            return -1;
        c->arena = a;
        c->acap = na;
    }
    memcpy(c->arena + c->alen, p, n);
    *off = c->alen;
    c->alen += n;
    return 0;
}

/* -------------------------------------------------------------- lookup */

/* The key of one value: kind, hash, and what identifies it. */
typedef struct ckey {
    int kind;
    int as_float;
    uint64_t hash;
    const char *p; /* K_STR, K_OTHER */
    size_t len;
    uint64_t w; /* K_STR, K_OTHER of len <= 8: the padded bytes */
    int64_t i;
    double d;
} ckey;

static int same(const lcounter *c, const centry *e, const ckey *k)
{
    if (e->kind != k->kind)
        return 0;
    switch (k->kind) {
    case K_STR:
    case K_OTHER:
        if (e->len != k->len)
            return 0;
        if (k->len <= 8)
            return e->v.w == k->w;
        return !memcmp(c->arena + e->v.off, k->p, k->len);
    case K_INT:
    case K_BOOL:
        return e->v.i == k->i;
    case K_FLT:
        return e->v.d == k->d;
    default: /* K_NAN */
        return 1;
    }
}

/* Add n to the count of key k.  The value itself is at stack index vidx
 * (absolute), the counter's userdata at cidx, needed for K_OTHER.  Returns
 * 0, or -1 out of memory. */
static int bump(lua_State *L, lcounter *c, int cidx, int vidx, const ckey *k,
                int64_t n)
{
    uint32_t tag = (uint32_t)(k->hash >> 32);
    size_t i;
    centry *e;
    if (c->mask && k->kind == K_STR && k->len <= 8) {
        /* the common case, words: everything compared in the slot */
        for (i = (size_t)k->hash & c->mask; c->tab[i].kind != K_EMPTY;
             i = (i + 1) & c->mask) {
            e = &c->tab[i];
            if (e->v.w == k->w && e->tag == tag && e->len == k->len &&
                e->kind == K_STR) {
                e->count += n;
                return 0;
            }
        }
    } else if (c->mask) {
        for (i = (size_t)k->hash & c->mask; c->tab[i].kind != K_EMPTY;
             i = (i + 1) & c->mask) {
            e = &c->tab[i];
            if (e->tag == tag && same(c, e, k)) {
                e->count += n;
                return 0;
            }
        }
    }
    /* a new value: at most 3/4 full */
    if (!c->mask || (c->n + 1) * 4 > (c->mask + 1) * 3) {
        if (grow_table(c))
            return -1;
    }
    if (k->kind == K_OTHER && c->others == UINT32_MAX)
        return -1;
    for (i = (size_t)k->hash & c->mask; c->tab[i].kind != K_EMPTY;
         i = (i + 1) & c->mask)
        ;
    e = &c->tab[i];
    memset(e, 0, sizeof *e);
    switch (k->kind) {
    case K_STR:
    case K_OTHER:
        if (k->len > UINT32_MAX)
            return -1;
        if (k->len <= 8)
            e->v.w = k->w;
        else if (arena_put(c, k->p, k->len, &e->v.off))
            return -1;
        e->len = (uint32_t)k->len;
        break;
    case K_FLT:
        e->v.d = k->d;
        break;
    default:
        e->v.i = k->i;
        break;
    }
    if (k->kind == K_OTHER) {
        /* keep the first value seen, to hand it back */
        lua_getiuservalue(L, cidx, 1);
        lua_pushvalue(L, vidx);
        lua_rawseti(L, -2, (lua_Integer)c->others + 1);
        lua_pop(L, 1);
        e->ref = c->others++;
    }
    e->count = n;
    e->tag = tag;
    e->as_float = (uint8_t)k->as_float;
    e->kind = (uint8_t)k->kind; /* last: the slot is now taken */
    c->n++;
    return 0;
}

static void key_bytes_of(ckey *k, const char *p, size_t n, uint64_t seed)
{
    k->p = p;
    k->len = n;
    if (n <= 8) {
        k->w = pack_short(p, n);
        k->hash = hash_short(k->w, n, seed);
    } else {
        k->hash = hash_long(p, n, seed);
    }
}

/* Raise msg as it is: no position, the user's own code is not here. */
static int cerror(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

/* Count the value at vidx n times.  Raises on nil, on a value that cannot
 * be a key, and when out of memory. */
static void count_value(lua_State *L, lcounter *c, int cidx, int vidx,
                        int64_t n)
{
    ckey k;
    memset(&k, 0, sizeof k);
    switch (lua_type(L, vidx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *p = lua_tolstring(L, vidx, &len);
        k.kind = K_STR;
        key_bytes_of(&k, p, len, SEED_STR);
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, vidx)) {
            k.kind = K_INT;
            k.i = lua_tointeger(L, vidx);
        } else {
            double d = lua_tonumber(L, vidx);
            if (isnan(d)) {
                k.kind = K_NAN;
            } else if (d >= -9223372036854775808.0 &&
                       d < 9223372036854775808.0 && d == floor(d)) {
                /* equal to an integer: the same value as that integer */
                k.kind = K_INT;
                k.i = (int64_t)d;
                k.as_float = 1;
            } else {
                k.kind = K_FLT;
                k.d = d;
            }
        }
        k.hash = hash_scalar(k.kind, k.i, k.d);
        break;
    case LUA_TBOOLEAN:
        k.kind = K_BOOL;
        k.i = lua_toboolean(L, vidx);
        k.hash = hash_scalar(k.kind, k.i, 0);
        break;
    case LUA_TNIL:
    case LUA_TNONE:
        cerror(L, "%s: a nil value", c->what);
        return;
    default: {
        ember_error err = {0, ""};
        if (ser_key(L, vidx, &err)) {
            cerror(L, "%s: %s", c->what, err.msg);
            return;
        }
        size_t len;
        const char *p = lua_tolstring(L, -1, &len);
        k.kind = K_OTHER;
        key_bytes_of(&k, p, len, SEED_OTHER);
        if (bump(L, c, cidx, vidx, &k, n)) {
            cerror(L, "%s: out of memory", c->what);
            return;
        }
        lua_pop(L, 1); /* the key bytes */
        return;
    }
    }
    if (bump(L, c, cidx, vidx, &k, n))
        cerror(L, "%s: out of memory", c->what);
}

/* ----------------------------------------------------------- Lua side */

lcounter *lcounter_check(lua_State *L, int idx)
{
    lcounter *c = luaL_checkudata(L, idx, LCOUNTER_MT);
    if (c->closed)
        luaL_error(L, "ember.Counter is closed");
    return c;
}

int lcounter_new(lua_State *L)
{
    const char *what = luaL_optstring(L, 1, "count_by_value");
    lcounter *c = lua_newuserdatauv(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    snprintf(c->what, sizeof c->what, "%s", what);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, LCOUNTER_MT);
    return 1;
}

size_t lcounter_slots(const lcounter *c)
{
    return c->mask ? c->mask + 1 : 0;
}

int lcounter_push(lua_State *L, lcounter *c, int cidx, size_t slot,
                  int64_t *count)
{
    const centry *e = &c->tab[slot];
    switch (e->kind) {
    case K_EMPTY:
        return 0;
    case K_STR:
        if (e->len <= 8) {
            char b[8];
            unpack_short(e->v.w, e->len, b);
            lua_pushlstring(L, b, e->len);
        } else {
            lua_pushlstring(L, c->arena + e->v.off, e->len);
        }
        break;
    case K_INT:
        if (e->as_float)
            lua_pushnumber(L, (lua_Number)e->v.i);
        else
            lua_pushinteger(L, e->v.i);
        break;
    case K_FLT:
        lua_pushnumber(L, e->v.d);
        break;
    case K_NAN:
        lua_pushnumber(L, (lua_Number)NAN);
        break;
    case K_BOOL:
        lua_pushboolean(L, (int)e->v.i);
        break;
    default:
        lua_getiuservalue(L, cidx, 1);
        lua_rawgeti(L, -1, (lua_Integer)e->ref + 1);
        lua_remove(L, -2);
        break;
    }
    *count = e->count;
    return 1;
}

void lcounter_clear(lua_State *L, lcounter *c, int cidx)
{
    free_all(c);
    lua_newtable(L);
    lua_setiuservalue(L, cidx, 1);
}

/* c:add(x) */
static int c_add(lua_State *L)
{
    lcounter *c = lcounter_check(L, 1);
    count_value(L, c, 1, 2, 1);
    return 0;
}

/* c:add_all(array): every element of array[1..#array], as a loop over
 * array[i] would see them (a table with a metatable goes through it).
 * Strings are taken GROUP at a time: their keys are computed and their
 * slots prefetched first, so the table's cache misses overlap. */
#define GROUP 16
static int c_add_all(lua_State *L)
{
    lcounter *c = lcounter_check(L, 1);
    lua_Integer n;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getmetatable(L, 2)) {
        lua_pop(L, 1);
        n = luaL_len(L, 2);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, 2, i);
            count_value(L, c, 1, 3, 1);
            lua_settop(L, 2);
        }
        return 0;
    }
    n = (lua_Integer)lua_rawlen(L, 2);
    for (lua_Integer i0 = 1; i0 <= n; i0 += GROUP) {
        ckey k[GROUP];
        int m = (int)(n - i0 + 1 < GROUP ? n - i0 + 1 : GROUP);
        /* the array keeps its strings alive: their bytes stay put */
        for (int j = 0; j < m; j++) {
            if (lua_rawgeti(L, 2, i0 + j) == LUA_TSTRING) {
                size_t len;
                const char *p = lua_tolstring(L, -1, &len);
                k[j].kind = K_STR;
                key_bytes_of(&k[j], p, len, SEED_STR);
                if (c->mask)
                    __builtin_prefetch(&c->tab[k[j].hash & c->mask]);
            } else {
                k[j].kind = K_EMPTY; /* counted the general way below */
            }
            lua_settop(L, 2);
        }
        for (int j = 0; j < m; j++) {
            if (k[j].kind == K_STR) {
                k[j].as_float = 0;
                if (bump(L, c, 1, 0, &k[j], 1))
                    return cerror(L, "%s: out of memory", c->what);
                continue;
            }
            lua_rawgeti(L, 2, i0 + j);
            count_value(L, c, 1, 3, 1);
            lua_settop(L, 2);
        }
    }
    return 0;
}

/* c:add_n(x, n): count x n more times */
static int c_add_n(lua_State *L)
{
    lcounter *c = lcounter_check(L, 1);
    lua_Integer n = luaL_checkinteger(L, 3);
    count_value(L, c, 1, 2, (int64_t)n);
    return 0;
}

static int c_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lcounter_bytes(lcounter_check(L, 1)));
    return 1;
}

static int c_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lcounter_check(L, 1)->n);
    return 1;
}

/* c:each(fn): fn(value, count) for every value, in no particular order */
static int c_each(lua_State *L)
{
    lcounter *c = lcounter_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    for (size_t i = 0; i < lcounter_slots(c); i++) {
        int64_t n;
        lua_pushvalue(L, 2);
        if (!lcounter_push(L, c, 1, i, &n)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushinteger(L, (lua_Integer)n);
        lua_call(L, 2, 0);
    }
    return 0;
}

static int c_clear(lua_State *L)
{
    lcounter *c = lcounter_check(L, 1);
    lcounter_clear(L, c, 1);
    return 0;
}

/* __gc, __close and close(): idempotent */
static int c_close(lua_State *L)
{
    lcounter *c = luaL_checkudata(L, 1, LCOUNTER_MT);
    free_all(c);
    c->closed = 1;
    return 0;
}

void lcounter_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", c_add},     {"add_all", c_add_all}, {"add_n", c_add_n},
        {"bytes", c_bytes}, {"size", c_size},       {"each", c_each},
        {"clear", c_clear}, {"close", c_close},     {NULL, NULL},
    };
    if (luaL_newmetatable(L, LCOUNTER_MT)) {
        lua_pushcfunction(L, c_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, c_close);
        lua_setfield(L, -2, "__close");
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
