/*
 * lsort.c -- rt.sort_pairs: the reduce side of sort_by_key, in C.
 *
 * table.sort with a Lua comparator costs an interpreted call per
 * comparison, which dominates a large sort.  When every key of the range
 * is a string, or every key a number and none NaN (the usual case), the
 * order is Lua's own < (strings by bytes: ember runs in the C locale, where
 * Lua's strcoll-based comparison is a byte comparison), so the pairs can be
 * sorted here with qsort on (key, position) entries.  Mixed keys are left to
 * the caller (keyorder.lua's order, in Lua).
 *
 * Thread rules: none; the entries live in a userdata of the calling state
 * (a Lua error cannot leak them).
 */
#include "lsort.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sentry {
    const char *s; /* string key, kept alive by its pair in the array */
    size_t len;
    double d; /* number key */
    lua_Integer i;
    int isint;
    lua_Integer pos; /* 1-based index in the input array */
} sentry;

static int cmp_str(const void *pa, const void *pb)
{
    const sentry *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp(a->s, b->s, n) : 0;
    if (r)
        return r;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int cmp_num(const void *pa, const void *pb)
{
    const sentry *a = pa, *b = pb;
    if (a->isint && b->isint) {
        if (a->i != b->i)
            return a->i < b->i ? -1 : 1;
    } else {
        /* mixed integer/float: compare as Lua does, exactly enough for
         * keys within 2^53; beyond that both are converted to double */
        double x = a->isint ? (double)a->i : a->d;
        double y = b->isint ? (double)b->i : b->d;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

int lsort_pairs(lua_State *L)
{
    lua_Integer n;
    int kind = LUA_TNONE, asc;
    sentry *e;
    luaL_checktype(L, 1, LUA_TTABLE);
    asc = lua_toboolean(L, 2);
    n = (lua_Integer)lua_rawlen(L, 1);
    if (n < 2) {
        lua_pushvalue(L, 1);
        return 1;
    }
    if ((size_t)n > SIZE_MAX / sizeof *e)
        return luaL_error(L, "sort: too many pairs");
    e = lua_newuserdatauv(L, (size_t)n * sizeof *e, 0); /* index 3 */
    for (lua_Integer k = 1; k <= n; k++) {
        int t;
        sentry *x = &e[k - 1];
        if (lua_rawgeti(L, 1, k) != LUA_TTABLE) {
            lua_pushnil(L); /* not pairs: the caller's general path */
            return 1;
        }
        t = lua_rawgeti(L, -1, 1);
        if (kind == LUA_TNONE)
            kind = t;
        if (t != kind || (t != LUA_TSTRING && t != LUA_TNUMBER)) {
            lua_pushnil(L);
            return 1;
        }
        x->pos = k;
        if (t == LUA_TSTRING) {
            x->s = lua_tolstring(L, -1, &x->len);
        } else if (lua_isinteger(L, -1)) {
            x->isint = 1;
            x->i = lua_tointeger(L, -1);
        } else {
            x->isint = 0;
            x->d = lua_tonumber(L, -1);
            if (x->d != x->d) { /* NaN: keyorder's rule, in Lua */
                lua_pushnil(L);
                return 1;
            }
        }
        lua_pop(L, 2);
    }
    qsort(e, (size_t)n, sizeof *e, kind == LUA_TSTRING ? cmp_str : cmp_num);
    lua_createtable(L, (int)(n < INT32_MAX ? n : INT32_MAX), 0);
    for (lua_Integer k = 0; k < n; k++) {
        lua_Integer from = asc ? e[k].pos : e[n - 1 - k].pos;
        lua_rawgeti(L, 1, from);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}
