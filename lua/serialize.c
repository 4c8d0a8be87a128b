/*
 * serialize.c -- Lua values and closures on the wire (see serialize.h).
 *
 * Owns the value encoding, its bounds-checked decoder and the canonical key
 * bytes used for grouping (ser_key/ser_hash).  The ember.null sentinel it
 * ships is ser_null.c's; the Batch values it ships are lbatch.c's.
 *
 * Encoder.  A recursive walk with a switch on lua_type, writing straight
 * into the caller's buf (space reserved, no per-value allocation).  A
 * count that precedes what it counts (array length, hash pairs, bytecode
 * length) is written as one placeholder byte and widened in place afterwards
 * when it needs more (rare: only counts >= 128 move bytes), so every table
 * is walked once.  The tables on the current path are kept in a fixed array
 * (cycle check; depth is bounded anyway); functions get numbers in the
 * order they are met so a function met again (recursion through an
 * upvalue) is written as a back-reference, and upvalues shared between
 * closures (lua_upvalueid) are written as references to the first owner.
 * A path of segments (array index, key, upvalue of function) is kept for
 * the error message only; it costs a store per level.  An upvalue holding
 * the ember module (`local ember = require("ember")`) is written as a
 * reference to the decoding side's module (SER_MODULE_KEY), and the C
 * functions of that module by their names, like the standard library's.
 *
 * Decoder.  Every length or count is checked against the bytes that remain
 * before anything is allocated, every value consumes at least its tag byte
 * so loops are bounded by the input, nesting is bounded by SER_MAX_DEPTH,
 * keys that Lua would reject (nil, NaN) are refused before lua_rawset.
 * Decoded functions are kept in a table in a stack slot below the value
 * being built, for back-references and upvalue joins.  Nothing is malloc'd,
 * so a Lua memory error (longjmp) leaks nothing.
 *
 * Keys.  A canonical byte string per value: integral floats become
 * integers, NaNs one NaN, a table is its array part 1..n in order then its
 * other pairs sorted by their canonical bytes.  ser_key pushes those bytes,
 * ser_hash feeds them to FNV-1a-64 (+ a murmur finaliser) without building
 * them, except that a table's non-array pairs are built in a scratch buffer
 * to be sorted.
 *
 * Threads: none; each call uses only its lua_State.
 */
#include "serialize.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/batch.h"
#include "lbatch.h"
#include "ser_null.h"
#include "util/err.h"

/* Tags.  ENV and UPREF appear only in upvalue position. */
enum {
    T_NIL = 0,
    T_FALSE = 1,
    T_TRUE = 2,
    T_INT = 3,
    T_FLT = 4,
    T_STR = 5,
    T_TAB = 6,
    T_NULL = 7,
    T_FUNC = 8,   /* varint len, bytecode, varint nups, upvalues */
    T_FREF = 9,   /* varint function number */
    T_CFUNC = 10, /* varint len, name */
    T_ENV = 11,   /* upvalue: the decoding side's environment */
    T_UPREF =
        12, /* upvalue: varint function number, varint upvalue (1-based) */
    T_BCAST = 13, /* a broadcast variable: varint id */
    T_BATCH = 14, /* a columnar batch: varint len, batch wire form */
    T_MODULE = 15 /* the ember module: the decoding side's */
};

#define BCAST_MT "ember.Broadcast"
#define BCAST_PROXY_KEY "ember.bcast_proxy"

#define CFUNCS_KEY "ember.ser.cfuncs"

/* Standard library tables whose C functions may be shipped by name. */
static const char *const std_libs[] = {"string", "table", "math", "utf8", NULL};

/* ============================================================ utilities */

static size_t varint_enc(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Room for n more bytes, or NULL (the buf is then marked oom). */
static inline uint8_t *room(buf *b, size_t n)
{
    if (b->cap - b->len < n || b->oom) {
        if (buf_reserve(b, n))
            return NULL;
    }
    return b->data + b->len;
}

static inline int put_tag(buf *b, int tag)
{
    uint8_t *p = room(b, 1);
    if (!p)
        return EMBER_ENOMEM;
    *p = (uint8_t)tag;
    b->len++;
    return 0;
}

static inline int put_tag_u(buf *b, int tag, uint64_t v)
{
    uint8_t *p = room(b, 11);
    if (!p)
        return EMBER_ENOMEM;
    *p = (uint8_t)tag;
    b->len += 1 + varint_enc(p + 1, v);
    return 0;
}

static inline int put_tag_f64(buf *b, int tag, double d)
{
    uint64_t u;
    uint8_t *p = room(b, 9);
    if (!p)
        return EMBER_ENOMEM;
    memcpy(&u, &d, 8);
    p[0] = (uint8_t)tag;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(u >> (8 * i));
    b->len += 9;
    return 0;
}

static inline int put_tag_bytes(buf *b, int tag, const void *s, size_t n)
{
    uint8_t *p;
    if (n > SIZE_MAX - 16)
        return EMBER_ENOMEM;
    p = room(b, 11 + n);
    if (!p)
        return EMBER_ENOMEM;
    *p = (uint8_t)tag;
    b->len += 1 + varint_enc(p + 1, n);
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* A count at pos was written as one placeholder byte; store n there,
 * widening the varint in place when n >= 128. */
static int patch_count(buf *b, size_t pos, uint64_t n)
{
    uint8_t tmp[10];
    size_t k = varint_enc(tmp, n);
    if (k > 1) {
        if (buf_reserve(b, k - 1))
            return EMBER_ENOMEM;
        memmove(b->data + pos + k, b->data + pos + 1, b->len - pos - 1);
        b->len += k - 1;
    }
    memcpy(b->data + pos, tmp, k);
    return 0;
}

/* Describe the type of the value at idx for a message ("userdata
 * ember.Socket", "coroutine", "C function"). */
static void describe(lua_State *L, int idx, char *out, size_t n)
{
    switch (lua_type(L, idx)) {
    case LUA_TUSERDATA:
        if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
            if (lua_type(L, -1) == LUA_TSTRING)
                snprintf(out, n, "userdata %s", lua_tostring(L, -1));
            else
                snprintf(out, n, "userdata");
            lua_pop(L, 1);
        } else {
            snprintf(out, n, "userdata");
        }
        break;
    case LUA_TLIGHTUSERDATA:
        snprintf(out, n, "light userdata");
        break;
    case LUA_TTHREAD:
        snprintf(out, n, "coroutine");
        break;
    case LUA_TFUNCTION:
        snprintf(out, n, lua_iscfunction(L, idx) ? "C function" : "function");
        break;
    default:
        snprintf(out, n, "%s", luaL_typename(L, idx));
    }
}

/* Push the standard function called name ("print", "string.format") from
 * the global table; returns 1 if it is a C function (pushed), else 0
 * (nothing pushed). */
static int push_std(lua_State *L, const char *name, size_t len)
{
    const char *dot = memchr(name, '.', len);
    if (dot && dot - name == 5 && !memcmp(name, "ember", 5)) {
        if (lua_getfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY) != LUA_TTABLE) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pushlstring(L, dot + 1, len - 6);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        if (!lua_iscfunction(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        return 1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    if (dot) {
        size_t ll = (size_t)(dot - name);
        int found = 0;
        for (int i = 0; std_libs[i]; i++)
            if (strlen(std_libs[i]) == ll && !memcmp(std_libs[i], name, ll))
                found = 1;
        if (!found) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pushlstring(L, name, ll);
        if (lua_rawget(L, -2) != LUA_TTABLE) {
            lua_pop(L, 2);
            return 0;
        }
        lua_remove(L, -2);
        name = dot + 1;
        len -= ll + 1;
    }
    lua_pushlstring(L, name, len);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (!lua_iscfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static int plain_name(lua_State *L, int idx)
{
    size_t n;
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING)
        return 0;
    s = lua_tolstring(L, idx, &n);
    return n > 0 && n < 64 && !memchr(s, '.', n) && strlen(s) == n;
}

/* Add the C functions of table t to the cache table, named prefix.key. */
static void add_cfuncs(lua_State *L, int cache, int t, const char *prefix)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_iscfunction(L, -1) && plain_name(L, -2)) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, cache) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                if (prefix)
                    lua_pushfstring(L, "%s.%s", prefix, lua_tostring(L, -3));
                else
                    lua_pushvalue(L, -3);
                lua_rawset(L, cache);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}

/* Build registry[CFUNCS_KEY] = {[cfunction] = "lib.name"}. */
static void build_cfuncs(lua_State *L)
{
    int cache, g;
    lua_newtable(L);
    cache = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    g = cache + 1;
    add_cfuncs(L, cache, g, NULL);
    for (int i = 0; std_libs[i]; i++) {
        if (lua_getfield(L, g, std_libs[i]) == LUA_TTABLE) /* raw enough: _G */
            add_cfuncs(L, cache, lua_gettop(L), std_libs[i]);
        lua_pop(L, 1);
    }
    if (lua_getfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY) == LUA_TTABLE)
        add_cfuncs(L, cache, lua_gettop(L), "ember");
    lua_pop(L, 1);
    lua_pop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, CFUNCS_KEY);
}

/* ============================================================== encoder */

enum { SEG_INDEX, SEG_KEY, SEG_ISKEY, SEG_UPVAL };

typedef struct seg {
    int kind;
    int idx;       /* SEG_KEY/ISKEY: stack index of the key; UPVAL: function */
    lua_Integer i; /* SEG_INDEX: array index; SEG_UPVAL: upvalue number */
} seg;

typedef struct upv {
    const void *id;
    uint32_t fn, n;
} upv;

typedef struct enc {
    lua_State *L;
    buf *b;
    ember_error *err;
    const void *genv; /* the global table, once looked up */
    int rebuilt;      /* the C function cache was rebuilt in this call */
    const void **funcs;
    size_t nfuncs, capfuncs;
    upv *upvs;
    size_t nupvs, capupvs;
    int ntabs, depth;
    const void *tabs[SER_MAX_DEPTH + 1];
    seg path[SER_MAX_DEPTH + 1];
} enc;

static int enc_value(enc *e, int idx);

static const void *global_table(enc *e)
{
    if (!e->genv) {
        lua_rawgeti(e->L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        e->genv = lua_topointer(e->L, -1);
        lua_pop(e->L, 1);
    }
    return e->genv;
}

static void func_desc(lua_State *L, int fidx, char *out, size_t n)
{
    lua_Debug ar;
    lua_pushvalue(L, fidx);
    if (!lua_getinfo(L, ">S", &ar)) {
        snprintf(out, n, "function");
        return;
    }
    if (ar.what && !strcmp(ar.what, "main"))
        snprintf(out, n, "main chunk of %s", ar.short_src);
    else
        snprintf(out, n, "function at %s:%d", ar.short_src, ar.linedefined);
}

static int ident(const char *s, size_t n)
{
    if (!n || n > 60 ||
        !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') ||
          (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* Append the rendering of path segments [from, to) to out. */
static void render_path(enc *e, int from, int to, char *out, size_t n)
{
    lua_State *L = e->L;
    size_t len = strlen(out);
    for (int s = from; s < to && len < n - 1; s++) {
        const seg *g = &e->path[s];
        char piece[96];
        piece[0] = '\0';
        if (to - from > 12 && s == from + 4) { /* long: keep both ends */
            snprintf(out + len, n - len, "...");
            len = strlen(out);
            s = to - 7;
            continue;
        }
        if (g->kind == SEG_INDEX) {
            snprintf(piece, sizeof piece, "[%lld]", (long long)g->i);
        } else if (g->kind == SEG_ISKEY) {
            snprintf(piece, sizeof piece, "<key>");
        } else if (g->kind == SEG_KEY) {
            int k = g->idx;
            switch (lua_type(L, k)) {
            case LUA_TSTRING: {
                size_t kl;
                const char *ks = lua_tolstring(L, k, &kl);
                if (ident(ks, kl))
                    snprintf(piece, sizeof piece, "%s%s", len ? "." : "", ks);
                else
                    snprintf(piece, sizeof piece, "[\"%.40s\"]", ks);
                break;
            }
            case LUA_TNUMBER:
                if (lua_isinteger(L, k))
                    snprintf(piece, sizeof piece, "[%lld]",
                             (long long)lua_tointeger(L, k));
                else
                    snprintf(piece, sizeof piece, "[%.14g]",
                             (double)lua_tonumber(L, k));
                break;
            case LUA_TBOOLEAN:
                snprintf(piece, sizeof piece, "[%s]",
                         lua_toboolean(L, k) ? "true" : "false");
                break;
            default:
                snprintf(piece, sizeof piece, "[%s]", luaL_typename(L, k));
            }
        } else {
            continue; /* an upvalue segment before the last one */
        }
        snprintf(out + len, n - len, "%s", piece);
        len = strlen(out);
    }
}

/* Fail on the value at idx (reached through e->path[0..depth)). */
static int enc_fail(enc *e, int code, int idx, const char *what,
                    const char *hint)
{
    lua_State *L = e->L;
    char desc[128], where[512], fdesc[300];
    int u = -1;
    if (!what) {
        describe(L, idx, desc, sizeof desc);
        what = desc;
    }
    for (int s = 0; s < e->depth; s++)
        if (e->path[s].kind == SEG_UPVAL)
            u = s;
    where[0] = '\0';
    if (u < 0) {
        render_path(e, 0, e->depth, where, sizeof where);
        return ember_seterr(e->err, code, "cannot ship a %s%s%s: %s", what,
                            where[0] ? " at " : "", where, hint);
    }
    {
        const seg *g = &e->path[u];
        const char *name = lua_getupvalue(L, g->idx, (int)g->i);
        char uname[80];
        snprintf(uname, sizeof uname, "%s", name ? name : "?");
        if (name)
            lua_pop(L, 1);
        func_desc(L, g->idx, fdesc, sizeof fdesc);
        if (u == e->depth - 1)
            return ember_seterr(e->err, code,
                                "cannot ship upvalue '%s' (%s) of %s: %s",
                                uname, what, fdesc, hint);
        snprintf(where, sizeof where, "upvalue '%s'", uname);
        render_path(e, u + 1, e->depth, where, sizeof where);
        return ember_seterr(e->err, code, "cannot ship a %s at %s of %s: %s",
                            what, where, fdesc, hint);
    }
}

static int enc_oom(enc *e)
{
    return ember_seterr(e->err, EMBER_ENOMEM, "out of memory encoding a value");
}

static int enc_child(enc *e, int kind, int sidx, lua_Integer i, int vidx)
{
    int rc;
    seg *g = &e->path[e->depth++];
    g->kind = kind;
    g->idx = sidx;
    g->i = i;
    rc = enc_value(e, vidx);
    e->depth--;
    return rc;
}

static int enc_enter(enc *e, int idx)
{
    if (e->depth >= SER_MAX_DEPTH)
        return enc_fail(e, EMBER_EINVAL, idx, NULL,
                        "values nested deeper than 200 levels cannot be "
                        "shipped");
    if (!lua_checkstack(e->L, 6))
        return enc_fail(e, EMBER_ENOMEM, idx, NULL, "Lua stack exhausted");
    return 0;
}

static int enc_table(enc *e, int idx)
{
    lua_State *L = e->L;
    const void *p = lua_topointer(L, idx);
    lua_Integer n = 0, nh = 0;
    size_t pos;
    int rc;
    for (int i = 0; i < e->ntabs; i++)
        if (e->tabs[i] == p)
            return enc_fail(e, EMBER_EINVAL, idx, "cyclic table",
                            "tables that contain themselves cannot be "
                            "shipped");
    if (p == global_table(e))
        return enc_fail(e, EMBER_EINVAL, idx, "global table",
                        "globals are not shipped; copy what you need into "
                        "a local");
    if ((rc = enc_enter(e, idx)))
        return rc;
    e->tabs[e->ntabs++] = p;

    if (put_tag(e->b, T_TAB) || put_tag(e->b, 0))
        return enc_oom(e);
    pos = e->b->len - 1;
    for (;;) {
        if (lua_rawgeti(L, idx, n + 1) == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        if ((rc = enc_child(e, SEG_INDEX, 0, n + 1, lua_gettop(L))))
            return rc;
        lua_pop(L, 1);
        n++;
    }
    if (patch_count(e->b, pos, (uint64_t)n) || put_tag(e->b, 0))
        return enc_oom(e);
    pos = e->b->len - 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int k = lua_gettop(L) - 1;
        if (n && lua_isinteger(L, k)) {
            lua_Integer ki = lua_tointeger(L, k);
            if (ki >= 1 && ki <= n) {
                lua_pop(L, 1);
                continue;
            }
        }
        if ((rc = enc_child(e, SEG_ISKEY, k, 0, k)) ||
            (rc = enc_child(e, SEG_KEY, k, 0, k + 1)))
            return rc;
        lua_pop(L, 1);
        nh++;
    }
    if (patch_count(e->b, pos, (uint64_t)nh))
        return enc_oom(e);
    e->ntabs--;
    return 0;
}

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    return buf_put(ud, p, sz) ? 1 : 0;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elt)
{
    void *p;
    size_t nc;
    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : 8;
    p = realloc(*arr, nc * elt);
    if (!p)
        return EMBER_ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

/* 1 if the table at idx is this state's ember module */
static int is_module(lua_State *L, int idx)
{
    int same;
    lua_getfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY);
    same = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return same;
}

static int enc_lfunc(enc *e, int idx)
{
    lua_State *L = e->L;
    const void *p = lua_topointer(L, idx);
    lua_Debug ar;
    uint32_t fid;
    size_t pos;
    int rc;
    for (size_t i = 0; i < e->nfuncs; i++)
        if (e->funcs[i] == p)
            return put_tag_u(e->b, T_FREF, i) ? enc_oom(e) : 0;
    if ((rc = enc_enter(e, idx)))
        return rc;
    if (grow((void **)&e->funcs, &e->capfuncs, e->nfuncs, sizeof *e->funcs))
        return enc_oom(e);
    fid = (uint32_t)e->nfuncs;
    e->funcs[e->nfuncs++] = p;

    if (put_tag(e->b, T_FUNC) || put_tag(e->b, 0))
        return enc_oom(e);
    pos = e->b->len - 1;
    lua_pushvalue(L, idx);
    rc = lua_dump(L, dump_writer, e->b, 0);
    lua_pop(L, 1);
    if (rc || patch_count(e->b, pos, e->b->len - pos - 1))
        return enc_oom(e);

    lua_pushvalue(L, idx);
    lua_getinfo(L, ">u", &ar);
    if (buf_put_varint(e->b, ar.nups))
        return enc_oom(e);
    for (int n = 1; n <= ar.nups; n++) {
        const char *name = lua_getupvalue(L, idx, n);
        int v = lua_gettop(L);
        const void *id;
        size_t j;
        if (!name)
            return enc_fail(e, EMBER_EINVAL, idx, NULL, "missing upvalue");
        if (!strcmp(name, "_ENV") && lua_type(L, v) == LUA_TTABLE &&
            lua_topointer(L, v) == global_table(e)) {
            if (put_tag(e->b, T_ENV))
                return enc_oom(e);
            lua_pop(L, 1);
            continue;
        }
        if (lua_type(L, v) == LUA_TTABLE && is_module(L, v)) {
            if (put_tag(e->b, T_MODULE))
                return enc_oom(e);
            lua_pop(L, 1);
            continue;
        }
        id = lua_upvalueid(L, idx, n);
        for (j = 0; id && j < e->nupvs; j++)
            if (e->upvs[j].id == id)
                break;
        if (id && j < e->nupvs) {
            if (put_tag_u(e->b, T_UPREF, e->upvs[j].fn) ||
                buf_put_varint(e->b, e->upvs[j].n))
                return enc_oom(e);
            lua_pop(L, 1);
            continue;
        }
        if (id) {
            if (grow((void **)&e->upvs, &e->capupvs, e->nupvs, sizeof *e->upvs))
                return enc_oom(e);
            e->upvs[e->nupvs].id = id;
            e->upvs[e->nupvs].fn = fid;
            e->upvs[e->nupvs].n = (uint32_t)n;
            e->nupvs++;
        }
        if ((rc = enc_child(e, SEG_UPVAL, idx, n, v)))
            return rc;
        lua_pop(L, 1);
    }
    return 0;
}

/* Write the name of the standard C function at idx; 1 if it is one. */
static int enc_cfunc(enc *e, int idx)
{
    lua_State *L = e->L;
    for (;;) {
        if (lua_getfield(L, LUA_REGISTRYINDEX, CFUNCS_KEY) == LUA_TTABLE) {
            lua_pushvalue(L, idx);
            if (lua_rawget(L, -2) == LUA_TSTRING) {
                size_t n;
                const char *s = lua_tolstring(L, -1, &n);
                /* still that function under that name? */
                if (push_std(L, s, n)) {
                    int same = lua_rawequal(L, -1, idx);
                    lua_pop(L, 1);
                    if (same) {
                        int rc = put_tag_bytes(e->b, T_CFUNC, s, n);
                        lua_pop(L, 2);
                        return rc ? enc_oom(e) : 0;
                    }
                }
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (e->rebuilt)
            break;
        build_cfuncs(L);
        e->rebuilt = 1;
    }
    return enc_fail(e, EMBER_EINVAL, idx, NULL,
                    "only Lua functions and the C functions of the standard "
                    "library and of ember can be shipped");
}

static int enc_value(enc *e, int idx)
{
    lua_State *L = e->L;
    buf *b = e->b;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return put_tag(b, T_NIL) ? enc_oom(e) : 0;
    case LUA_TBOOLEAN:
        return put_tag(b, lua_toboolean(L, idx) ? T_TRUE : T_FALSE) ? enc_oom(e)
                                                                    : 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return put_tag_u(b, T_INT, zigzag(lua_tointeger(L, idx)))
                       ? enc_oom(e)
                       : 0;
        return put_tag_f64(b, T_FLT, (double)lua_tonumber(L, idx)) ? enc_oom(e)
                                                                   : 0;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return put_tag_bytes(b, T_STR, s, n) ? enc_oom(e) : 0;
    }
    case LUA_TTABLE:
        if (lua_getmetatable(L, idx)) {
            /* a broadcast variable ships as its id, not its value */
            int is_bcast;
            lua_getfield(L, -1, "__name");
            is_bcast = lua_type(L, -1) == LUA_TSTRING &&
                       strcmp(lua_tostring(L, -1), BCAST_MT) == 0;
            lua_pop(L, 2);
            if (is_bcast) {
                lua_Integer id;
                lua_getfield(L, idx, "id");
                id = lua_tointeger(L, -1);
                lua_pop(L, 1);
                return put_tag_u(b, T_BCAST, (uint64_t)id) ? enc_oom(e) : 0;
            }
        }
        return enc_table(e, idx);
    case LUA_TFUNCTION:
        if (lua_iscfunction(L, idx))
            return enc_cfunc(e, idx);
        return enc_lfunc(e, idx);
    case LUA_TUSERDATA: {
        ember_batch *bt;
        if (ser_is_null(L, idx))
            return put_tag(b, T_NULL) ? enc_oom(e) : 0;
        if ((bt = lbatch_test(L, idx)) != NULL) {
            /* length-prefixed: encode into scratch space at the end */
            size_t at;
            if (put_tag(b, T_BATCH))
                return enc_oom(e);
            at = b->len;
            if (batch_encode(bt, b))
                return enc_oom(e);
            {
                size_t n = b->len - at;
                uint8_t hdr[10];
                int hl = 0;
                uint64_t v = n;
                do {
                    hdr[hl++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                    v >>= 7;
                } while (v);
                if (buf_reserve(b, (size_t)hl))
                    return enc_oom(e);
                memmove(b->data + at + hl, b->data + at, n);
                memcpy(b->data + at, hdr, (size_t)hl);
                b->len += (size_t)hl;
            }
            return 0;
        }
        return enc_fail(e, EMBER_EINVAL, idx, NULL,
                        "create it inside the function, or pass plain data");
    }
    case LUA_TTHREAD:
        return enc_fail(e, EMBER_EINVAL, idx, NULL,
                        "create it inside the function");
    default:
        return enc_fail(e, EMBER_EINVAL, idx, NULL,
                        "create it inside the function, or pass plain data");
    }
}

int ser_encode(lua_State *L, int idx, buf *out, ember_error *err)
{
    enc e;
    int top = lua_gettop(L), rc;
    size_t start = out->len;
    if (out->oom)
        return ember_seterr(err, EMBER_ENOMEM, "output buffer out of memory");
    if (!lua_checkstack(L, 8))
        return ember_seterr(err, EMBER_ENOMEM, "Lua stack exhausted");
    e.L = L;
    e.b = out;
    e.err = err;
    e.genv = NULL;
    e.rebuilt = 0;
    e.funcs = NULL;
    e.nfuncs = e.capfuncs = 0;
    e.upvs = NULL;
    e.nupvs = e.capupvs = 0;
    e.ntabs = e.depth = 0;
    rc = enc_value(&e, lua_absindex(L, idx));
    if (!rc && out->oom)
        rc = enc_oom(&e);
    free(e.funcs);
    free(e.upvs);
    lua_settop(L, top);
    if (rc)
        out->len = start;
    return rc;
}

/* ============================================================== decoder */

typedef struct dec {
    lua_State *L;
    rd *r;
    const uint8_t *start;
    ember_error *err;
    int env;  /* absolute index, or 0 for the global table */
    int ftab; /* slot of the table of decoded functions (nil until one) */
    lua_Integer nfuncs;
} dec;

static int dec_value(dec *d, int tag, int depth);

EMBER_PRINTF(2, 3)
static int bad(dec *d, const char *fmt, ...)
{
    char m[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return ember_seterr(d->err, EMBER_ECORRUPT, "corrupt value at byte %zu: %s",
                        (size_t)(d->r->p - d->start), m);
}

static int truncated(dec *d)
{
    return bad(d, "truncated");
}

static int get_tag(dec *d, int *tag)
{
    *tag = rd_u8(d->r);
    return rd_ok(d->r) ? 0 : truncated(d);
}

static int dec_enter(dec *d, int depth)
{
    if (depth >= SER_MAX_DEPTH)
        return bad(d, "nested deeper than %d levels", SER_MAX_DEPTH);
    if (!lua_checkstack(d->L, 6))
        return bad(d, "Lua stack exhausted");
    return 0;
}

/* Read the pair count of a table; 0 or an error. */
static int dec_nhash(dec *d, uint64_t *nh)
{
    *nh = rd_varint(d->r);
    if (!rd_ok(d->r))
        return truncated(d);
    if (*nh > rd_left(d->r) / 2 || *nh > (uint64_t)INT32_MAX)
        return bad(d, "%llu pairs in %zu bytes", (unsigned long long)*nh,
                   rd_left(d->r));
    return 0;
}

/* Short arrays are decoded onto the stack first, so that the table can be
 * created with both parts sized (records with string keys are common). */
#define SHORT_ARRAY 32

static int dec_table(dec *d, int depth)
{
    lua_State *L = d->L;
    uint64_t narr, nh;
    int t, tag, rc;
    if ((rc = dec_enter(d, depth)))
        return rc;
    narr = rd_varint(d->r);
    if (!rd_ok(d->r))
        return truncated(d);
    if (narr > rd_left(d->r) || narr > (uint64_t)INT32_MAX)
        return bad(d, "array of %llu values in %zu bytes",
                   (unsigned long long)narr, rd_left(d->r));
    if (narr <= SHORT_ARRAY) {
        if (!lua_checkstack(L, SHORT_ARRAY + 4))
            return bad(d, "Lua stack exhausted");
        for (uint64_t i = 0; i < narr; i++)
            if ((rc = get_tag(d, &tag)) || (rc = dec_value(d, tag, depth + 1)))
                return rc;
        if ((rc = dec_nhash(d, &nh)))
            return rc;
        lua_createtable(L, (int)narr, (int)nh);
        t = lua_gettop(L) - (int)narr;
        lua_insert(L, t);
        for (int i = (int)narr; i >= 1; i--)
            lua_rawseti(L, t, i);
    } else {
        lua_createtable(L, (int)narr, 0);
        t = lua_gettop(L);
        for (uint64_t i = 1; i <= narr; i++) {
            if ((rc = get_tag(d, &tag)) || (rc = dec_value(d, tag, depth + 1)))
                return rc;
            lua_rawseti(L, t, (lua_Integer)i);
        }
        if ((rc = dec_nhash(d, &nh)))
            return rc;
    }
    for (uint64_t i = 0; i < nh; i++) {
        if ((rc = get_tag(d, &tag)) || (rc = dec_value(d, tag, depth + 1)))
            return rc;
        if (lua_type(L, -1) == LUA_TNIL)
            return bad(d, "nil table key");
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number k = lua_tonumber(L, -1);
            if (k != k)
                return bad(d, "NaN table key");
        }
        if ((rc = get_tag(d, &tag)) || (rc = dec_value(d, tag, depth + 1)))
            return rc;
        lua_rawset(L, t);
    }
    return 0;
}

typedef struct ldstate {
    const char *p;
    size_t n;
} ldstate;

static const char *ld_reader(lua_State *L, void *ud, size_t *size)
{
    ldstate *s = ud;
    (void)L;
    *size = s->n;
    s->n = 0;
    return *size ? s->p : NULL;
}

static int nups_of(lua_State *L, int f)
{
    lua_Debug ar;
    lua_pushvalue(L, f);
    lua_getinfo(L, ">u", &ar);
    return ar.nups;
}

static int dec_func(dec *d, int depth)
{
    lua_State *L = d->L;
    uint64_t len, nups;
    const char *code;
    ldstate ls;
    int f, n, rc, tag;
    if ((rc = dec_enter(d, depth)))
        return rc;
    len = rd_varint(d->r);
    if (!rd_ok(d->r))
        return truncated(d);
    if (len > rd_left(d->r))
        return bad(d, "bytecode of %llu bytes in %zu", (unsigned long long)len,
                   rd_left(d->r));
    code = rd_bytes(d->r, (size_t)len);
    if (len < 5 || memcmp(code, LUA_SIGNATURE, 4) != 0 ||
        (unsigned char)code[4] != 0x54)
        return bad(d, "function body is not Lua 5.4 bytecode");
    ls.p = code;
    ls.n = (size_t)len;
    if (lua_load(L, ld_reader, &ls, "=(ember closure)", "b") != LUA_OK) {
        rc = bad(d, "cannot load function: %s",
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        return rc;
    }
    f = lua_gettop(L);
    if (lua_type(L, d->ftab) != LUA_TTABLE) {
        lua_newtable(L);
        lua_replace(L, d->ftab);
    }
    lua_pushvalue(L, f);
    lua_rawseti(L, d->ftab, ++d->nfuncs);
    n = nups_of(L, f);
    nups = rd_varint(d->r);
    if (!rd_ok(d->r))
        return truncated(d);
    if (nups != (uint64_t)n)
        return bad(d, "function has %d upvalues, encoding says %llu", n,
                   (unsigned long long)nups);
    for (int i = 1; i <= n; i++) {
        if ((rc = get_tag(d, &tag)))
            return rc;
        if (tag == T_ENV) {
            if (d->env)
                lua_pushvalue(L, d->env);
            else
                lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        } else if (tag == T_UPREF) {
            uint64_t fid = rd_varint(d->r), un = rd_varint(d->r);
            if (!rd_ok(d->r))
                return truncated(d);
            if (fid >= (uint64_t)d->nfuncs)
                return bad(d, "reference to undefined function %llu",
                           (unsigned long long)fid);
            lua_rawgeti(L, d->ftab, (lua_Integer)fid + 1);
            if (un < 1 || un > (uint64_t)nups_of(L, lua_gettop(L)))
                return bad(d, "reference to undefined upvalue %llu",
                           (unsigned long long)un);
            lua_upvaluejoin(L, f, i, lua_gettop(L), (int)un);
            lua_pop(L, 1);
            continue;
        } else if ((rc = dec_value(d, tag, depth + 1))) {
            return rc;
        }
        lua_setupvalue(L, f, i);
    }
    return 0;
}

static int dec_value(dec *d, int tag, int depth)
{
    lua_State *L = d->L;
    rd *r = d->r;
    switch (tag) {
    case T_NIL:
        lua_pushnil(L);
        return 0;
    case T_FALSE:
    case T_TRUE:
        lua_pushboolean(L, tag == T_TRUE);
        return 0;
    case T_INT: {
        int64_t v = rd_svarint(r);
        if (!rd_ok(r))
            return truncated(d);
        lua_pushinteger(L, (lua_Integer)v);
        return 0;
    }
    case T_FLT: {
        double v = rd_f64(r);
        if (!rd_ok(r))
            return truncated(d);
        lua_pushnumber(L, (lua_Number)v);
        return 0;
    }
    case T_STR: {
        size_t n;
        const char *s = rd_lstr(r, &n);
        if (!s)
            return truncated(d);
        lua_pushlstring(L, s, n);
        return 0;
    }
    case T_NULL:
        ser_push_null(L);
        return 0;
    case T_BCAST: {
        /* the decoding side makes the handle (executors: a lazy proxy) */
        uint64_t id = rd_varint(r);
        if (!rd_ok(r))
            return truncated(d);
        lua_getfield(L, LUA_REGISTRYINDEX, BCAST_PROXY_KEY);
        if (lua_isfunction(L, -1)) {
            lua_pushinteger(L, (lua_Integer)id);
            lua_call(L, 1, 1);
        } else {
            lua_pop(L, 1);
            lua_createtable(L, 0, 1);
            lua_pushinteger(L, (lua_Integer)id);
            lua_setfield(L, -2, "id");
        }
        return 0;
    }
    case T_BATCH: {
        size_t n;
        ember_batch *bt = NULL;
        ember_error berr = {0, ""};
        const char *p = rd_lstr(r, &n);
        if (!p)
            return truncated(d);
        if (batch_decode(p, n, &bt, &berr))
            return bad(d, "%s", berr.msg);
        lbatch_open(L);
        lbatch_push(L, bt);
        return 0;
    }
    case T_TAB:
        return dec_table(d, depth);
    case T_FUNC:
        return dec_func(d, depth);
    case T_FREF: {
        uint64_t id = rd_varint(r);
        if (!rd_ok(r))
            return truncated(d);
        if (id >= (uint64_t)d->nfuncs)
            return bad(d, "reference to undefined function %llu",
                       (unsigned long long)id);
        lua_rawgeti(L, d->ftab, (lua_Integer)id + 1);
        return 0;
    }
    case T_MODULE:
        if (lua_getfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY) != LUA_TTABLE) {
            lua_pop(L, 1);
            return bad(d, "the ember module is not loaded here");
        }
        return 0;
    case T_CFUNC: {
        size_t n;
        const char *s = rd_lstr(r, &n);
        if (!s)
            return truncated(d);
        if (n > 64 || !push_std(L, s, n))
            return bad(d, "unknown standard function '%.*s'",
                       (int)(n > 64 ? 64 : n), s);
        return 0;
    }
    default:
        return bad(d, "unexpected tag %d", tag);
    }
}

int ser_decode(lua_State *L, rd *r, int env_idx, ember_error *err)
{
    dec d;
    int base = lua_gettop(L), tag, rc, slot;
    d.L = L;
    d.r = r;
    d.start = r->p;
    d.err = err;
    d.env = env_idx ? lua_absindex(L, env_idx) : 0;
    d.nfuncs = 0;
    d.ftab = 0;
    if (!lua_checkstack(L, 8))
        return bad(&d, "Lua stack exhausted");
    if ((rc = get_tag(&d, &tag)))
        return rc;
    slot = tag == T_TAB || tag == T_FUNC;
    if (slot) {
        lua_pushnil(L);
        d.ftab = base + 1;
    }
    rc = dec_value(&d, tag, 0);
    if (rc) {
        lua_settop(L, base);
        return rc;
    }
    if (slot)
        lua_remove(L, base + 1);
    return 0;
}

int ser_decode_buf(lua_State *L, const void *p, size_t n, int env_idx,
                   ember_error *err)
{
    rd r;
    int rc;
    if (env_idx)
        env_idx = lua_absindex(L, env_idx);
    rd_init(&r, p, n);
    if ((rc = ser_decode(L, &r, env_idx, err)))
        return rc;
    if (rd_left(&r)) {
        lua_pop(L, 1);
        return ember_seterr(err, EMBER_ECORRUPT,
                            "corrupt value: %zu trailing bytes", rd_left(&r));
    }
    return 0;
}

/* ================================================================= keys */

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* Canonical bytes go to a buf, or into a running hash when b is NULL. */
typedef struct sink {
    buf *b;
    uint64_t h;
} sink;

static inline void sk_put(sink *s, const void *p, size_t n)
{
    if (s->b) {
        buf_put(s->b, p, n);
    } else {
        const uint8_t *c = p;
        uint64_t h = s->h;
        for (size_t i = 0; i < n; i++)
            h = (h ^ c[i]) * FNV_PRIME;
        s->h = h;
    }
}

static void sk_tag_u(sink *s, int tag, uint64_t v)
{
    uint8_t x[11];
    x[0] = (uint8_t)tag;
    sk_put(s, x, 1 + varint_enc(x + 1, v));
}

uint64_t ser_mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

typedef struct kst {
    lua_State *L;
    ember_error *err;
    int ntabs;
    const void *tabs[SER_MAX_DEPTH];
} kst;

typedef struct unit {
    const uint8_t *p;
    size_t n;
} unit;

typedef struct span {
    size_t off, n;
} span;

static int unit_cmp(const void *a, const void *b)
{
    const unit *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int kval(kst *k, sink *s, int idx);

static int kfail(kst *k, int idx, const char *why)
{
    char desc[128];
    describe(k->L, idx, desc, sizeof desc);
    return ember_seterr(k->err, EMBER_EINVAL, "cannot use a %s as a key%s%s",
                        desc, why ? ": " : "", why ? why : "");
}

static int ktable(kst *k, sink *s, int idx)
{
    lua_State *L = k->L;
    const void *p = lua_topointer(L, idx);
    lua_Integer n = 0, nrest = 0;
    buf ub, ix;
    unit *units;
    int rc = 0;
    for (int i = 0; i < k->ntabs; i++)
        if (k->tabs[i] == p)
            return kfail(k, idx, "it contains itself");
    if (k->ntabs >= SER_MAX_DEPTH)
        return kfail(k, idx, "nested deeper than 200 levels");
    if (!lua_checkstack(L, 6))
        return kfail(k, idx, "Lua stack exhausted");
    k->tabs[k->ntabs++] = p;

    while (lua_rawgeti(L, idx, n + 1) != LUA_TNIL) {
        lua_pop(L, 1);
        n++;
    }
    lua_pop(L, 1);
    sk_tag_u(s, T_TAB, (uint64_t)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if ((rc = kval(k, s, lua_gettop(L))))
            return rc;
        lua_pop(L, 1);
    }

    /* the other pairs, each (key, value) canonical, sorted */
    buf_init(&ub);
    buf_init(&ix);
    {
        sink us = {&ub, 0};
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            int kk = lua_gettop(L) - 1;
            span sp;
            if (n && lua_isinteger(L, kk)) {
                lua_Integer ki = lua_tointeger(L, kk);
                if (ki >= 1 && ki <= n) {
                    lua_pop(L, 1);
                    continue;
                }
            }
            sp.off = ub.len;
            if ((rc = kval(k, &us, kk)) || (rc = kval(k, &us, kk + 1)))
                goto out;
            lua_pop(L, 1);
            sp.n = ub.len - sp.off;
            buf_put(&ix, &sp, sizeof sp);
            nrest++;
        }
    }
    if (ub.oom || ix.oom) {
        rc = ember_seterr(k->err, EMBER_ENOMEM, "out of memory building key");
        goto out;
    }
    {
        uint8_t x[10];
        sk_put(s, x, varint_enc(x, (uint64_t)nrest));
    }
    if (nrest) {
        const span *sps = (const span *)(const void *)ix.data;
        units = malloc((size_t)nrest * sizeof *units);
        if (!units) {
            rc = ember_seterr(k->err, EMBER_ENOMEM,
                              "out of memory building key");
            goto out;
        }
        for (lua_Integer i = 0; i < nrest; i++) {
            units[i].p = ub.data + sps[i].off;
            units[i].n = sps[i].n;
        }
        qsort(units, (size_t)nrest, sizeof *units, unit_cmp);
        for (lua_Integer i = 0; i < nrest; i++)
            sk_put(s, units[i].p, units[i].n);
        free(units);
    }
    k->ntabs--;
out:
    buf_free(&ub);
    buf_free(&ix);
    return rc;
}

static int kval(kst *k, sink *s, int idx)
{
    lua_State *L = k->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        sk_put(s, "\0", 1);
        return 0;
    case LUA_TBOOLEAN: {
        uint8_t t = lua_toboolean(L, idx) ? T_TRUE : T_FALSE;
        sk_put(s, &t, 1);
        return 0;
    }
    case LUA_TNUMBER: {
        uint8_t x[9];
        double f;
        uint64_t u;
        if (lua_isinteger(L, idx)) {
            sk_tag_u(s, T_INT, zigzag(lua_tointeger(L, idx)));
            return 0;
        }
        f = (double)lua_tonumber(L, idx);
        if (f >= -9223372036854775808.0 && f < 9223372036854775808.0 &&
            floor(f) == f) {
            sk_tag_u(s, T_INT, zigzag((int64_t)f));
            return 0;
        }
        if (f != f)
            u = 0x7ff8000000000000ULL;
        else
            memcpy(&u, &f, 8);
        x[0] = T_FLT;
        for (int i = 0; i < 8; i++)
            x[1 + i] = (uint8_t)(u >> (8 * i));
        sk_put(s, x, 9);
        return 0;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *str = lua_tolstring(L, idx, &n);
        sk_tag_u(s, T_STR, n);
        sk_put(s, str, n);
        return 0;
    }
    case LUA_TTABLE:
        return ktable(k, s, idx);
    case LUA_TUSERDATA:
        if (ser_is_null(L, idx)) {
            uint8_t t = T_NULL;
            sk_put(s, &t, 1);
            return 0;
        }
        return kfail(k, idx, NULL);
    default:
        return kfail(k, idx, NULL);
    }
}

int ser_key(lua_State *L, int idx, ember_error *err)
{
    kst k;
    buf b;
    sink s;
    int rc, t = lua_type(L, idx), top = lua_gettop(L);
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 8))
        return ember_seterr(err, EMBER_ENOMEM, "Lua stack exhausted");
    if (t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL ||
        (t == LUA_TSTRING && lua_rawlen(L, idx) <= 48)) {
        /* small scalar: canonical bytes on the C stack */
        uint8_t small[64];
        buf fake = {small, 0, sizeof small, 0};
        k.L = L;
        k.err = err;
        k.ntabs = 0;
        s.b = &fake;
        s.h = 0;
        kval(&k, &s, idx);
        lua_pushlstring(L, (const char *)small, fake.len);
        return 0;
    }
    buf_init(&b);
    k.L = L;
    k.err = err;
    k.ntabs = 0;
    s.b = &b;
    s.h = 0;
    rc = kval(&k, &s, idx);
    lua_settop(L, top);
    if (!rc && b.oom)
        rc = ember_seterr(err, EMBER_ENOMEM, "out of memory building key");
    if (!rc)
        lua_pushlstring(L, (const char *)b.data, b.len);
    buf_free(&b);
    return rc;
}

int ser_hash(lua_State *L, int idx, uint64_t *h, ember_error *err)
{
    kst k;
    sink s = {NULL, FNV_OFF};
    int rc, top = lua_gettop(L);
    if (!lua_checkstack(L, 8))
        return ember_seterr(err, EMBER_ENOMEM, "Lua stack exhausted");
    k.L = L;
    k.err = err;
    k.ntabs = 0;
    rc = kval(&k, &s, lua_absindex(L, idx));
    lua_settop(L, top);
    if (rc)
        return rc;
    *h = ser_mix64(s.h);
    return 0;
}
