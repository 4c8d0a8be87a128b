/*
 * lsplit.c -- ember.strsplit: a string split into an array of fields, in C.
 *
 * Lua has no split; job scripts otherwise loop over string.gmatch, which
 * matches patterns a character at a time and costs a call per field.  This
 * does what Python's str.split does, so a PySpark user's
 * `flatMap(lambda l: l.split())` becomes `flat_map(ember.strsplit)`:
 *
 *   ember.strsplit(s)           fields separated by runs of whitespace
 *                               (space, \t, \n, \v, \f, \r); none empty;
 *                               "" and "  " give {}
 *   ember.strsplit(s, sep)      fields separated by the plain string sep
 *                               (not a pattern); empty fields kept: "a,,b"
 *                               gives {"a", "", "b"}, "" gives {""}
 *   ember.strsplit(s, sep, max) at most max splits (max + 1 fields), the
 *                               rest of s in the last field; sep may be nil
 *                               for whitespace; a negative max: no limit
 *
 * (ember.split is the DataFrame column function, as in Spark.)
 * Registered in the driver's ember module (lua_ember.c) and in every task
 * state's (task_runtime.c); a function passed to a transformation can use it
 * either way, and `ember.strsplit` itself ships by name (serialize.c).  Pure:
 * no state, any thread.
 */
#include "lsplit.h"

#include <lauxlib.h>
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void add_field(lua_State *L, lua_Integer *n, const char *p, size_t len)
{
    lua_pushlstring(L, p, len);
    lua_rawseti(L, -2, ++*n);
}

static int split_space(lua_State *L, const char *s, size_t len, lua_Integer max)
{
    const char *p = s, *e = s + len;
    lua_Integer n = 0;
    /* about 7 bytes a word in text: room for most lines at once */
    lua_createtable(L, (int)(len / 6 < 65536 ? len / 6 + 2 : 65536), 0);
    for (;;) {
        const char *f;
        while (p < e && is_space((unsigned char)*p))
            p++;
        if (p == e)
            break;
        if (max >= 0 && n == max) {
            /* the rest, trailing whitespace stripped (as Python does) */
            while (e > p && is_space((unsigned char)e[-1]))
                e--;
            add_field(L, &n, p, (size_t)(e - p));
            break;
        }
        f = p;
        while (p < e && !is_space((unsigned char)*p))
            p++;
        add_field(L, &n, f, (size_t)(p - f));
    }
    return 1;
}

static int split_sep(lua_State *L, const char *s, size_t len, const char *sep,
                     size_t seplen, lua_Integer max)
{
    const char *p = s, *e = s + len;
    lua_Integer n = 0;
    lua_createtable(L, 8, 0);
    for (;;) {
        const char *hit = NULL;
        if ((max < 0 || n < max) && (size_t)(e - p) >= seplen)
            hit = seplen == 1 ? memchr(p, sep[0], (size_t)(e - p))
                              : memmem(p, (size_t)(e - p), sep, seplen);
        if (!hit) {
            add_field(L, &n, p, (size_t)(e - p));
            break;
        }
        add_field(L, &n, p, (size_t)(hit - p));
        p = hit + seplen;
    }
    return 1;
}

int lsplit_strsplit(lua_State *L)
{
    size_t len, seplen = 0;
    const char *s, *sep = NULL;
    lua_Integer max = -1;
    if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
        return luaL_error(L, "ember.strsplit expects a string, got %s",
                          luaL_typename(L, 1));
    s = lua_tolstring(L, 1, &len);
    if (!lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) != LUA_TSTRING)
            return luaL_error(L,
                              "ember.strsplit: the separator must be a string "
                              "or nil, got %s",
                              luaL_typename(L, 2));
        sep = lua_tolstring(L, 2, &seplen);
        if (seplen == 0)
            return luaL_error(L, "ember.strsplit: empty separator");
    }
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_isinteger(L, 3))
            return luaL_error(L,
                              "ember.strsplit: max must be an integer, got %s",
                              luaL_typename(L, 3));
        max = lua_tointeger(L, 3);
        if (max < 0)
            max = -1;
    }
    if (sep)
        return split_sep(L, s, len, sep, seplen, max);
    return split_space(L, s, len, max);
}
