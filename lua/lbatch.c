/*
 * lbatch.c -- the "ember.Batch" userdata: a handle owning one columnar
 * batch.  Methods: b:num_rows(), b:num_columns(), b:names(), b:types(),
 * b:rows([out]) (append one table per row, keyed by column name; NULL is
 * ember.null, dates and timestamps are ISO strings).
 */
#include "lbatch.h"

#include "data/batch.h"
#include "ser_null.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

typedef struct lbatch {
    ember_batch *b;
    int owned; /* 0: borrowed from an operator for the duration of a call */
} lbatch;

static int b_gc(lua_State *L)
{
    lbatch *u = luaL_checkudata(L, 1, LBATCH_MT);
    if (u->owned)
        batch_destroy(&u->b);
    u->b = NULL;
    return 0;
}

void lbatch_push(lua_State *L, ember_batch *b)
{
    lbatch *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->b = b;
    u->owned = 1;
    luaL_setmetatable(L, LBATCH_MT);
}

void *lbatch_push_borrowed(lua_State *L, const ember_batch *b)
{
    lbatch *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->b = (ember_batch *)b; /* never modified or freed while borrowed */
    u->owned = 0;
    luaL_setmetatable(L, LBATCH_MT);
    return u;
}

void lbatch_unborrow(void *handle)
{
    lbatch *u = handle;
    if (!u->owned)
        u->b = NULL;
}

int lbatch_keep(lua_State *L, int idx)
{
    lbatch *u = luaL_testudata(L, idx, LBATCH_MT);
    if (u && !u->owned && u->b) {
        ember_batch *c = batch_clone(u->b);
        if (!c)
            return luaL_error(L, "out of memory copying a batch");
        u->b = c;
        u->owned = 1;
    }
    return 0;
}

ember_batch *lbatch_test(lua_State *L, int idx)
{
    lbatch *u = luaL_testudata(L, idx, LBATCH_MT);
    return u ? u->b : NULL;
}

ember_batch *lbatch_check(lua_State *L, int idx)
{
    lbatch *u = luaL_checkudata(L, idx, LBATCH_MT);
    if (!u->b)
        luaL_argerror(L, idx,
                      "batch used after the operator that lent it moved on "
                      "(keep it with rt.keep)");
    return u->b;
}

static const char *type_name(ember_type t)
{
    switch (t) {
    case EMBER_TYPE_BOOL:
        return "boolean";
    case EMBER_TYPE_INT32:
        return "int";
    case EMBER_TYPE_INT64:
        return "bigint";
    case EMBER_TYPE_DOUBLE:
        return "double";
    case EMBER_TYPE_STRING:
        return "string";
    case EMBER_TYPE_BINARY:
        return "binary";
    case EMBER_TYPE_DATE32:
        return "date";
    case EMBER_TYPE_TIMESTAMP:
        return "timestamp";
    case EMBER_TYPE_LUAVALUE:
        return "luavalue";
    default:
        return "null";
    }
}

static int b_num_rows(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)batch_num_rows(lbatch_check(L, 1)));
    return 1;
}

static int b_num_columns(lua_State *L)
{
    lua_pushinteger(L, batch_num_columns(lbatch_check(L, 1)));
    return 1;
}

static int b_names(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    int n = batch_num_columns(b);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, batch_column_name(b, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int b_types(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    int n = batch_num_columns(b);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        ember_column c;
        batch_column(b, i, &c);
        lua_pushstring(L, type_name(c.type));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* days since 1970-01-01 -> y, m, d (proleptic Gregorian) */
static void civil(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void push_date(lua_State *L, int64_t days)
{
    int y, m, d;
    char s[32];
    civil(days, &y, &m, &d);
    snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, d);
    lua_pushstring(L, s);
}

static void push_ts(lua_State *L, int64_t us)
{
    int64_t days = us >= 0 ? us / 86400000000LL
                           : -((-us + 86400000000LL - 1) / 86400000000LL);
    int64_t rest = us - days * 86400000000LL;
    int y, m, d, n;
    char s[64];
    civil(days, &y, &m, &d);
    n = snprintf(s, sizeof s, "%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
                 (int)(rest / 3600000000LL), (int)(rest / 60000000 % 60),
                 (int)(rest / 1000000 % 60));
    if (rest % 1000000) {
        int frac = (int)(rest % 1000000), w = 6;
        while (frac % 10 == 0) {
            frac /= 10;
            w--;
        }
        snprintf(s + n, sizeof s - (size_t)n, ".%0*d", w, frac);
    }
    lua_pushstring(L, s);
}

/* push cell (col c, row i); raw: dates and timestamps as integers */
static void push_cell_raw(lua_State *L, const ember_column *c, int64_t i,
                          int raw);
static void push_cell(lua_State *L, const ember_column *c, int64_t i)
{
    push_cell_raw(L, c, i, 0);
}

static void push_cell_raw(lua_State *L, const ember_column *c, int64_t i,
                          int raw)
{
    if (c->type == EMBER_TYPE_NULL ||
        (c->validity && !((c->validity[i / 8] >> (i % 8)) & 1))) {
        ser_push_null(L);
        return;
    }
    switch (c->type) {
    case EMBER_TYPE_BOOL:
        lua_pushboolean(L, ((const uint8_t *)c->data)[i] != 0);
        break;
    case EMBER_TYPE_INT32:
        lua_pushinteger(L, ((const int32_t *)c->data)[i]);
        break;
    case EMBER_TYPE_INT64:
        lua_pushinteger(L, ((const int64_t *)c->data)[i]);
        break;
    case EMBER_TYPE_DOUBLE:
        lua_pushnumber(L, ((const double *)c->data)[i]);
        break;
    case EMBER_TYPE_DATE32:
        if (raw)
            lua_pushinteger(L, ((const int32_t *)c->data)[i]);
        else
            push_date(L, ((const int32_t *)c->data)[i]);
        break;
    case EMBER_TYPE_TIMESTAMP:
        if (raw)
            lua_pushinteger(L, ((const int64_t *)c->data)[i]);
        else
            push_ts(L, ((const int64_t *)c->data)[i]);
        break;
    default:
        lua_pushlstring(L, (const char *)c->data + c->offsets[i],
                        (size_t)(c->offsets[i + 1] - c->offsets[i]));
    }
}

/* b:rows([out]) -> out with one table per row appended */
static int b_rows(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    int nc = batch_num_columns(b);
    int64_t nr = batch_num_rows(b);
    lua_Integer base;
    if (lua_isnoneornil(L, 2))
        lua_createtable(L, (int)nr, 0);
    else
        luaL_checktype(L, 2, LUA_TTABLE), lua_pushvalue(L, 2);
    base = (lua_Integer)luaL_len(L, -1);
    luaL_checkstack(L, nc + 8, "too many columns");
    for (int64_t i = 0; i < nr; i++) {
        lua_createtable(L, 0, nc);
        for (int k = 0; k < nc; k++) {
            ember_column c;
            batch_column(b, k, &c);
            push_cell(L, &c, i);
            lua_setfield(L, -2, batch_column_name(b, k));
        }
        lua_rawseti(L, -2, base + i + 1);
    }
    return 1;
}

/* b:cells([out [, raw]]) -> out with one array per row appended (values
 * by column position, NULL as ember.null): for show() and duplicate column
 * names; raw: dates and timestamps as integers */
static int b_cells(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    int raw = lua_toboolean(L, 3);
    int nc = batch_num_columns(b);
    int64_t nr = batch_num_rows(b);
    lua_Integer base;
    if (lua_isnoneornil(L, 2))
        lua_createtable(L, (int)nr, 0);
    else
        luaL_checktype(L, 2, LUA_TTABLE), lua_pushvalue(L, 2);
    base = (lua_Integer)luaL_len(L, -1);
    for (int64_t i = 0; i < nr; i++) {
        lua_createtable(L, nc, 0);
        for (int k = 0; k < nc; k++) {
            ember_column c;
            batch_column(b, k, &c);
            push_cell_raw(L, &c, i, raw);
            lua_rawseti(L, -2, k + 1);
        }
        lua_rawseti(L, -2, base + i + 1);
    }
    return 1;
}

/* b:sample(k, seed) -> a batch of at most k rows of b chosen uniformly
 * (in their original order) */
static int b_sample(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    uint64_t x =
        (uint64_t)luaL_optinteger(L, 3, 42) * 0x9e3779b97f4a7c15ULL + 1;
    int64_t n = batch_num_rows(b);
    int32_t *sel;
    ember_batch *c;
    if (k < 0)
        k = 0;
    if (k > n)
        k = n;
    sel = lua_newuserdatauv(L, (size_t)(k + 1) * sizeof *sel, 0);
    /* Floyd's selection of k distinct indices, then sort them */
    for (int64_t i = 0; i < k; i++)
        sel[i] = (int32_t)i;
    for (int64_t i = k; i < n; i++) {
        int64_t j;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        j = (int64_t)(x % (uint64_t)(i + 1));
        if (j < k)
            sel[j] = (int32_t)i;
    }
    for (int64_t i = 1; i < k; i++) { /* insertion sort: k is small */
        int32_t v = sel[i];
        int64_t j = i - 1;
        while (j >= 0 && sel[j] > v) {
            sel[j + 1] = sel[j];
            j--;
        }
        sel[j + 1] = v;
    }
    c = batch_gather(b, batch_num_columns(b), sel, k);
    if (!c)
        return luaL_error(L, "out of memory sampling a batch");
    lbatch_push(L, c);
    return 1;
}

static int b_tostring(lua_State *L)
{
    ember_batch *b = lbatch_check(L, 1);
    lua_pushfstring(L, "ember.Batch(%d rows, %d columns)",
                    (int)batch_num_rows(b), batch_num_columns(b));
    return 1;
}

static const luaL_Reg methods[] = {
    {"num_rows", b_num_rows}, {"num_columns", b_num_columns},
    {"names", b_names},       {"types", b_types},
    {"rows", b_rows},         {"cells", b_cells},
    {"sample", b_sample},     {NULL, NULL},
};

void lbatch_open(lua_State *L)
{
    if (luaL_newmetatable(L, LBATCH_MT)) {
        lua_pushcfunction(L, b_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, b_tostring);
        lua_setfield(L, -2, "__tostring");
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
