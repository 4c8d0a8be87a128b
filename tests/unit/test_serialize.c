/*
 * test_serialize.c -- lua/serialize.c: round trips of every type, closures
 * decoded and called in a second lua_State, refusals with their messages,
 * grouping keys and hashes, and hostile input (truncation, random byte
 * flips, huge lengths, nesting bombs).
 */
#include "serialize.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>

#include "tap/tap.h"
#include "util/err.h"

static const char *DEQ =
    "function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    if math.type(a) ~= math.type(b) then return false end\n"
    "    if a ~= a then return b ~= b end\n"
    "    if a == 0 and math.type(a) == 'float' then return 1/a == 1/b end\n"
    "    return a == b\n"
    "  end\n"
    "  if type(a) ~= 'table' then return rawequal(a, b) end\n"
    "  for k, v in pairs(a) do\n"
    "    if not deq(v, rawget(b, k)) then return false end\n"
    "  end\n"
    "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n";

/* Largest single allocation request seen by states using counting_alloc. */
static size_t max_alloc;

static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    if (nsize > max_alloc)
        max_alloc = nsize;
    return realloc(p, nsize);
}

static lua_State *new_state(int counting)
{
    lua_State *L =
        counting ? lua_newstate(counting_alloc, NULL) : luaL_newstate();
    if (!L)
        bail("cannot create lua_State");
    luaL_openlibs(L);
    if (luaL_dostring(L, DEQ))
        bail("deq: %s", lua_tostring(L, -1));
    ser_push_null(L);
    lua_setglobal(L, "null");
    return L;
}

/* Evaluate `return <expr>` and leave its first result on the stack. */
static void eval(lua_State *L, const char *code)
{
    char chunk[8192];
    snprintf(chunk, sizeof chunk, "return %s", code);
    if (luaL_loadbufferx(L, chunk, strlen(chunk), "=test", "t") ||
        lua_pcall(L, 0, 1, 0))
        bail("eval %s: %s", code, lua_tostring(L, -1));
}

/* Run a chunk (with chunk name) and leave its first result. */
static void run(lua_State *L, const char *code, const char *name)
{
    if (luaL_loadbufferx(L, code, strlen(code), name, "t") ||
        lua_pcall(L, 0, 1, 0))
        bail("run: %s", lua_tostring(L, -1));
}

/* Call the Lua function deq on the two values on top (popped). */
static int deq(lua_State *L)
{
    int r;
    lua_getglobal(L, "deq");
    lua_insert(L, -3);
    if (lua_pcall(L, 2, 1, 0))
        bail("deq: %s", lua_tostring(L, -1));
    r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

/* ser_key of the value at idx as a heap string (length in *n). */
static char *key_of(lua_State *L, int idx, size_t *n)
{
    ember_error err;
    char *s;
    const char *k;
    if (ser_key(L, idx, &err))
        return NULL;
    k = lua_tolstring(L, -1, n);
    s = malloc(*n + 1);
    memcpy(s, k, *n + 1);
    lua_pop(L, 1);
    return s;
}

static lua_State *L, *L2;

/* Round trip the value of expr in L (deep equality) and into L2 (same
 * canonical key). */
static void roundtrip(const char *expr)
{
    buf b;
    ember_error err;
    int top = lua_gettop(L), top2 = lua_gettop(L2), rc;
    buf_init(&b);
    eval(L, expr);
    rc = ser_encode(L, -1, &b, &err);
    if (!ok(rc == 0, "encode %s", expr)) {
        diag("%s", err.msg);
        lua_settop(L, top);
        buf_free(&b);
        return;
    }
    rc = ser_decode_buf(L, b.data, b.len, 0, &err);
    if (rc)
        diag("%s", err.msg);
    ok(rc == 0 && lua_gettop(L) == top + 2 && deq(L),
       "round trip %s (%zu bytes)", expr, b.len);
    lua_settop(L, top);
    rc = ser_decode_buf(L2, b.data, b.len, 0, &err);
    if (rc == 0) {
        /* compare across states through canonical keys, where defined */
        size_t n1, n2;
        char *k1, *k2;
        eval(L, expr);
        k1 = key_of(L, -1, &n1);
        k2 = key_of(L2, -1, &n2);
        if (k1 && k2)
            ok(n1 == n2 && !memcmp(k1, k2, n1), "same key in other state %s",
               expr);
        free(k1);
        free(k2);
    }
    ok(rc == 0, "decode into other state %s", expr);
    lua_settop(L, top);
    lua_settop(L2, top2);
    buf_free(&b);
}

static void exact_bytes(const char *expr, const uint8_t *want, size_t n)
{
    buf b;
    ember_error err;
    buf_init(&b);
    eval(L, expr);
    ser_encode(L, -1, &b, &err);
    lua_pop(L, 1);
    ok(b.len == n && !memcmp(b.data, want, n), "encoding of %s", expr);
    buf_free(&b);
}

static void test_scalars(void)
{
    static const uint8_t one[] = {3, 2}, mone[] = {3, 1},
                         ab[] = {5, 2, 'a', 'b'}, empty[] = {6, 0, 0},
                         arr[] = {6, 2, 2, 1, 0},
                         rec[] = {6, 0, 1, 5, 1, 'x',  4,   0,
                                  0, 0, 0, 0, 0, 0xf8, 0x3f};
    roundtrip("nil");
    roundtrip("true");
    roundtrip("false");
    roundtrip("0");
    roundtrip("-1");
    roundtrip("math.maxinteger");
    roundtrip("math.mininteger");
    roundtrip("1.5");
    roundtrip("1.0");
    roundtrip("-0.0");
    roundtrip("1/0");
    roundtrip("-1/0");
    roundtrip("0/0");
    roundtrip("2^63");
    roundtrip("math.pi");
    roundtrip("''");
    roundtrip("'a\\0b\\0'");
    roundtrip("string.rep('xyz\\0', 50000)");
    roundtrip("null");
    exact_bytes("1", one, sizeof one);
    exact_bytes("-1", mone, sizeof mone);
    exact_bytes("'ab'", ab, sizeof ab);
    exact_bytes("{}", empty, sizeof empty);
    exact_bytes("{true, false}", arr, sizeof arr);
    exact_bytes("{x = 1.5}", rec, sizeof rec);

    /* subtype survives: 1 stays integer, 1.0 stays float */
    {
        buf b;
        ember_error err;
        buf_init(&b);
        eval(L, "{1, 1.0, -0.0}");
        ser_encode(L, -1, &b, &err);
        lua_pop(L, 1);
        ser_decode_buf(L2, b.data, b.len, 0, &err);
        lua_setglobal(L2, "v");
        eval(L2, "math.type(v[1]) .. ' ' .. math.type(v[2]) .. ' ' .. "
                 "tostring(1/v[3])");
        is_string("integer float -inf", lua_tostring(L2, -1),
                  "integer/float subtype and -0.0 sign survive");
        lua_pop(L2, 1);
        /* ember.null decodes to the other state's sentinel */
        buf_reset(&b);
        eval(L, "{null}");
        ser_encode(L, -1, &b, &err);
        lua_pop(L, 1);
        ser_decode_buf(L2, b.data, b.len, 0, &err);
        lua_setglobal(L2, "v");
        eval(L2, "rawequal(v[1], null) and tostring(v[1])");
        is_string("null", lua_tostring(L2, -1), "null is the sentinel");
        lua_pop(L2, 1);
        buf_free(&b);
    }
}

static void test_tables(void)
{
    roundtrip("{}");
    roundtrip("{1, 2, 3}");
    roundtrip("{a = 1, b = {c = {d = 'x'}}}");
    roundtrip("{1, nil, 3, nil, 5}");
    roundtrip("{nil, nil, 3}");
    roundtrip("{1, 2, x = 'y', [10] = 3, [1.5] = 2, [true] = false, "
              "[-1] = 0, [0] = 0.0}");
    roundtrip("(function() local t = {} for i = 1, 1000 do t[i] = i * 1.5 end "
              "return t end)()");
    roundtrip("(function() local t = {} for i = 1, 300 do t['k' .. i] = "
              "{i, tostring(i)} end return t end)()");
    roundtrip("(function() local t = {} for i = 1, 200 do t[i * 2] = i end "
              "return t end)()");
    roundtrip("(function() local t = {} local c = t for i = 1, 150 do "
              "c[1] = {} c = c[1] end return t end)()");
    roundtrip("(function() local s = {1} return {s, s, {s}} end)()");
    roundtrip("setmetatable({1, 2}, {__index = function() return 0 end})");

    /* a table used as a key */
    {
        buf b;
        ember_error err;
        buf_init(&b);
        eval(L, "{[{7}] = 'seven'}");
        ok(ser_encode(L, -1, &b, &err) == 0, "table key encodes");
        lua_pop(L, 1);
        ok(ser_decode_buf(L2, b.data, b.len, 0, &err) == 0,
           "table key decodes");
        lua_setglobal(L2, "v");
        eval(L2,
             "(function() for k, x in pairs(v) do return k[1] .. x end end)()");
        is_string("7seven", lua_tostring(L2, -1), "table key content");
        lua_pop(L2, 1);
        buf_free(&b);
    }
    /* metatables are not shipped */
    {
        buf b;
        ember_error err;
        buf_init(&b);
        eval(L, "setmetatable({}, {__index = {x = 1}})");
        ser_encode(L, -1, &b, &err);
        lua_pop(L, 1);
        ser_decode_buf(L, b.data, b.len, 0, &err);
        ok(lua_getmetatable(L, -1) == 0, "metatable not shipped");
        lua_pop(L, 1);
        buf_free(&b);
    }
}

/* Encode the chunk's result in L, decode into L2 with env (0 or a global
 * of L2 holding a table), leave the function in L2's global "f".  Returns
 * the encode status; err receives the message. */
static int ship(const char *code, const char *envname, ember_error *err)
{
    static int show;
    buf b;
    int rc, top = lua_gettop(L), top2 = lua_gettop(L2), env = 0;
    buf_init(&b);
    run(L, code, "@job.lua");
    rc = ser_encode(L, -1, &b, err);
    ok(lua_gettop(L) == top + 1, "encode leaves the stack balanced");
    lua_settop(L, top);
    if (rc) {
        if (show++ < 20)
            diag("%s", err->msg);
        ok(b.len == 0, "failed encode leaves the buffer as it was");
        buf_free(&b);
        return rc;
    }
    if (envname) {
        lua_getglobal(L2, envname);
        env = lua_gettop(L2);
    }
    rc = ser_decode_buf(L2, b.data, b.len, env, err);
    if (rc)
        diag("decode: %s", err->msg);
    ok(rc == 0 && lua_gettop(L2) == top2 + (env ? 2 : 1), "closure decodes");
    if (rc == 0)
        lua_setglobal(L2, "f");
    lua_settop(L2, top2);
    buf_free(&b);
    return rc;
}

static const char *call2(const char *expr)
{
    static char out[256];
    lua_settop(L2, 0);
    eval(L2, expr);
    snprintf(out, sizeof out, "%s", luaL_tolstring(L2, -1, NULL));
    lua_settop(L2, 0);
    return out;
}

static void test_closures(void)
{
    ember_error err;

    ship("local n, s, t = 10, 'x', {a = {b = 3}}\n"
         "local function g(y) return y * 2 end\n"
         "return function(x) return (g(x) + n + t.a.b) .. s end",
         NULL, &err);
    is_string("23x", call2("f(5)"),
              "closure over numbers, strings, tables "
              "and another closure");

    ship("local function fact(n) if n <= 1 then return 1 end "
         "return n * fact(n - 1) end return fact",
         NULL, &err);
    is_string("3628800", call2("f(10)"), "recursive local function");

    ship("local even, odd\n"
         "function even(n) if n == 0 then return true end return odd(n - 1) "
         "end\n"
         "function odd(n) if n == 0 then return false end return even(n - 1) "
         "end\n"
         "return even",
         NULL, &err);
    is_string("true", call2("f(10)"), "mutually recursive functions");

    ship("local c = 0\n"
         "local function inc() c = c + 1 return c end\n"
         "local function get() return c end\n"
         "return {inc = inc, get = get}",
         NULL, &err);
    is_string("2", call2("(function() f.inc() f.inc() return f.get() end)()"),
              "closures keep sharing an upvalue");

    ship("local function g() return 1 end return {g, g}", NULL, &err);
    is_string("true", call2("rawequal(f[1], f[2])"),
              "a function met twice stays one function");

    /* globals through _ENV, rebound to a table of the executor */
    if (luaL_dostring(L2, "env = {string = string, math = math, marker = 'M'}"))
        bail("env");
    ship("return function(x) return string.format('%d-%s', "
         "math.floor(x), marker) end",
         "env", &err);
    is_string("3-M", call2("f(3.7)"), "_ENV rebound to the given table");
    ship("return function(x) return string.format('%d-%s', "
         "math.floor(x), tostring(marker)) end",
         NULL, &err);
    is_string("3-nil", call2("f(3.7)"),
              "globals are not shipped: env 0 is the global table");
    ship("local k = 2\n"
         "return function(x) return (function(y) return math.floor(y) * k "
         "end)(x) end",
         "env", &err);
    is_string("6", call2("f(3.5)"), "nested closure sees the rebound _ENV");

    ship("local fmt, fl = string.format, math.floor\n"
         "return function(x) return fmt('%05d', fl(x)) end",
         NULL, &err);
    is_string("00042", call2("f(42.9)"), "captured standard C functions");

    ship("return {print, table.concat, utf8.char, tostring}", NULL, &err);
    is_string("true",
              call2("f[1] == print and f[2] == table.concat and "
                    "f[3] == utf8.char and f[4] == tostring"),
              "standard C functions decode to the other state's");

    ship("local function boom() error('kaboom') end\n"
         "return function() boom() end",
         NULL, &err);
    like(call2("select(2, pcall(f))"),
         "job.lua:1:", "tracebacks keep file:line (debug info not stripped)");

    /* refusals */
    ember_error_clear(&err);
    is_int(EMBER_EINVAL,
           ship("local out = io.stdout\n"
                "return function() out:write('x') end",
                NULL, &err),
           "userdata upvalue refused");
    like(err.msg, "upvalue 'out'", "message names the variable");
    like(err.msg, "userdata FILE*", "message gives the type and __name");
    like(err.msg, "function at job.lua:2", "message names the function");

    is_int(EMBER_EINVAL,
           ship("local co = coroutine.create(function() end)\n"
                "return function() return co end",
                NULL, &err),
           "coroutine upvalue refused");
    like(err.msg, "upvalue 'co' (coroutine)", "coroutine message");

    is_int(EMBER_EINVAL,
           ship("local co = coroutine.create(function() end)\n"
                "return {1, 2, {x = co}}",
                NULL, &err),
           "coroutine in a table refused");
    like(err.msg, "cannot ship a coroutine at [3].x", "path in message");

    is_int(EMBER_EINVAL,
           ship("local cfg = {opts = {sock = io.stderr}}\n"
                "return function() return cfg end",
                NULL, &err),
           "userdata deep in an upvalue refused");
    like(err.msg, "upvalue 'cfg'.opts.sock", "path below the upvalue");

    is_int(EMBER_EINVAL,
           ship("local f = mylib.cfn return function() return f() end", NULL,
                &err),
           "non-standard C function refused");
    like(err.msg, "upvalue 'f' (C function)", "C function message");
    like(err.msg, "only Lua functions and the C functions of the standard",
         "C function hint");

    is_int(EMBER_EINVAL, ship("local t = {} t.self = t return t", NULL, &err),
           "cyclic table refused");
    like(err.msg, "cyclic table at self", "cycle message");

    is_int(
        EMBER_EINVAL,
        ship("local t = {} t.f = function() return t end return t", NULL, &err),
        "cycle through a closure refused");
    like(err.msg, "cyclic", "cycle through closure message");

    is_int(EMBER_EINVAL,
           ship("local g = _G return function() return g.x end", NULL, &err),
           "global table in an ordinary upvalue refused");
    like(err.msg, "upvalue 'g' (global table)", "global table message");

    is_int(EMBER_EINVAL,
           ship("local t = {} local c = t for i = 1, 250 do c[1] = {} "
                "c = c[1] end return t",
                NULL, &err),
           "encoder refuses nesting deeper than 200");
    like(err.msg, "deeper than 200", "depth message");
}

static void test_keys(void)
{
    static const char *eq[][2] = {
        {"1", "1.0"},
        {"-0.0", "0"},
        {"2^53", "math.tointeger(2^53)"},
        {"{1, 2}", "{1, 2}"},
        {"{1, 2.0}", "{[2] = 2, [1] = 1}"},
        {"(function() local t = {} for i = 1, 40 do t['k' .. i] = i end "
         "return t end)()",
         "(function() local t = {} for i = 40, 1, -1 do t['k' .. i] = i end "
         "return t end)()"},
        {"{a = 1, b = 2, [3] = {x = 1, y = {2}}}",
         "{[3] = {y = {2.0}, x = 1}, b = 2, a = 1}"},
        {"0/0", "-(0/0)"},
        {"'abc'", "'ab' .. 'c'"},
        {"null", "null"},
    };
    static const char *ne[][2] = {
        {"'1'", "1"},
        {"true", "1"},
        {"{1, 2}", "{2, 1}"},
        {"{1, 2}", "{1, 2, 3}"},
        {"{a = 1}", "{a = '1'}"},
        {"{a = 1}", "{b = 1}"},
        {"1.5", "1"},
        {"''", "nil"},
        {"null", "nil"},
        {"{}", "{{}}"},
    };
    ember_error err;
    for (size_t i = 0; i < sizeof eq / sizeof eq[0]; i++) {
        size_t n1, n2;
        char *k1, *k2;
        uint64_t h1 = 1, h2 = 2;
        eval(L, eq[i][0]);
        eval(L, eq[i][1]);
        k1 = key_of(L, -2, &n1);
        k2 = key_of(L, -1, &n2);
        ok(k1 && k2 && n1 == n2 && !memcmp(k1, k2, n1), "key %s == key %s",
           eq[i][0], eq[i][1]);
        ser_hash(L, -2, &h1, &err);
        ser_hash(L, -1, &h2, &err);
        ok(h1 == h2, "hash %s == hash %s", eq[i][0], eq[i][1]);
        free(k1);
        free(k2);
        lua_pop(L, 2);
        /* the same value in another state (another string hash seed) */
        eval(L, eq[i][0]);
        eval(L2, eq[i][1]);
        ser_hash(L, -1, &h1, &err);
        ser_hash(L2, -1, &h2, &err);
        ok(h1 == h2, "hash equal across states: %s", eq[i][0]);
        lua_pop(L, 1);
        lua_pop(L2, 1);
    }
    for (size_t i = 0; i < sizeof ne / sizeof ne[0]; i++) {
        size_t n1, n2;
        char *k1, *k2;
        uint64_t h1 = 1, h2 = 1;
        eval(L, ne[i][0]);
        eval(L, ne[i][1]);
        k1 = key_of(L, -2, &n1);
        k2 = key_of(L, -1, &n2);
        ok(k1 && k2 && !(n1 == n2 && !memcmp(k1, k2, n1)), "key %s != key %s",
           ne[i][0], ne[i][1]);
        ser_hash(L, -2, &h1, &err);
        ser_hash(L, -1, &h2, &err);
        ok(h1 != h2, "hash %s != hash %s", ne[i][0], ne[i][1]);
        free(k1);
        free(k2);
        lua_pop(L, 2);
    }
    /* hash = FNV-1a-64 of the key bytes + murmur3 fmix64, computed here
     * independently */
    {
        static const char *vals[] = {"'abc'", "42", "{1, 'x', {y = 2}}",
                                     "string.rep('q', 1000)", "-7.25"};
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            size_t n;
            char *k;
            uint64_t h = 0, want = 0xcbf29ce484222325ULL;
            eval(L, vals[i]);
            k = key_of(L, -1, &n);
            ser_hash(L, -1, &h, &err);
            for (size_t j = 0; k && j < n; j++)
                want = (want ^ (uint8_t)k[j]) * 0x100000001b3ULL;
            want ^= want >> 33;
            want *= 0xff51afd7ed558ccdULL;
            want ^= want >> 33;
            want *= 0xc4ceb9fe1a85ec53ULL;
            want ^= want >> 33;
            ok(k && h == want, "hash of %s is FNV-1a+fmix of its key", vals[i]);
            free(k);
            lua_pop(L, 1);
        }
        /* pinned: the key of "abc" is 05 03 'a' 'b' 'c' */
        eval(L, "'abc'");
        {
            size_t n;
            char *k = key_of(L, -1, &n);
            ok(k && n == 5 &&
                   !memcmp(k,
                           "\x05\x03"
                           "abc",
                           5),
               "key bytes of 'abc'");
            free(k);
        }
        lua_pop(L, 1);
    }
    /* refusals */
    {
        int top = lua_gettop(L);
        uint64_t h;
        eval(L, "print");
        is_int(EMBER_EINVAL, ser_key(L, -1, &err), "function key refused");
        like(err.msg, "C function", "function key message");
        eval(L, "io.stdout");
        is_int(EMBER_EINVAL, ser_hash(L, -1, &h, &err), "userdata key refused");
        like(err.msg, "userdata", "userdata key message");
        eval(L, "(function() local t = {} t[1] = t return t end)()");
        is_int(EMBER_EINVAL, ser_key(L, -1, &err), "cyclic key refused");
        eval(L, "{1, {coroutine.create(print)}}");
        is_int(EMBER_EINVAL, ser_key(L, -1, &err), "nested coroutine refused");
        is_int(top + 4, lua_gettop(L), "refusals leave the stack balanced");
        lua_settop(L, top);
    }
}

/* Decode p[0..n) in L and check the outcome is clean. Returns rc. */
static int decode_clean(lua_State *S, const void *p, size_t n, int *balanced)
{
    ember_error err;
    int top = lua_gettop(S);
    int rc = ser_decode_buf(S, p, n, 0, &err);
    *balanced = rc == 0 ? lua_gettop(S) == top + 1 : lua_gettop(S) == top;
    lua_settop(S, top);
    return rc;
}

static void encode_expr(lua_State *S, const char *expr, buf *b,
                        const char *chunkname)
{
    ember_error err;
    buf_reset(b);
    if (chunkname)
        run(S, expr, chunkname);
    else
        eval(S, expr);
    if (ser_encode(S, -1, b, &err))
        bail("encode %s: %s", expr, err.msg);
    lua_pop(S, 1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void test_corruption(void)
{
    static const char *vals[] = {
        "{1, 2.5, 'three', {x = {y = {true, false, nil, null}}}, "
        "[-3] = 'neg', k = math.mininteger}",
        "string.rep('ab', 200)",
        "(function() local t = {} for i = 1, 150 do t[i] = i; "
        "t['s' .. i] = {i} end return t end)()",
        "math.maxinteger",
        "0/0",
    };
    static const char *funcs[] = {
        "local a, b = {1, 2}, 'x' local function g(n) return n end "
        "return function(x) return g(x) + a[1] .. b end",
        "local fmt = string.format local function r(n) if n > 0 then "
        "return r(n - 1) end return fmt('%d', n) end return {r, r}",
    };
    buf b;
    ember_error err;
    int balanced, all_ok, all_bal, ndec = 0, nerr = 0;
    buf_init(&b);

    /* every truncation rejected */
    for (size_t v = 0; v < sizeof vals / sizeof vals[0] + 2; v++) {
        int n_ok = 0, n_bal = 1;
        if (v < sizeof vals / sizeof vals[0])
            encode_expr(L, vals[v], &b, NULL);
        else
            encode_expr(L, funcs[v - sizeof vals / sizeof vals[0]], &b,
                        "@trunc.lua");
        for (size_t k = 0; k < b.len; k++) {
            int rc = decode_clean(L, b.data, k, &balanced);
            n_ok += rc == EMBER_ECORRUPT;
            n_bal &= balanced;
        }
        ok((size_t)n_ok == b.len && n_bal,
           "all %zu truncations of value %zu rejected cleanly", b.len, v);
        ok(decode_clean(L, b.data, b.len, &balanced) == 0 && balanced,
           "untruncated value %zu decodes", v);
        buf_put_u8(&b, 0);
        is_int(EMBER_ECORRUPT, decode_clean(L, b.data, b.len, &balanced),
               "trailing byte rejected (value %zu)", v);
    }

    /* random byte flips never crash */
    all_ok = all_bal = 1;
    for (int it = 0; it < 2000; it++) {
        uint8_t *copy;
        int rc, nflip = 1 + (int)(rnd() % 4);
        encode_expr(L, vals[it % (int)(sizeof vals / sizeof vals[0])], &b,
                    NULL);
        copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        for (int f = 0; f < nflip; f++) {
            size_t at = rnd() % b.len;
            if (rnd() & 1)
                copy[at] ^= (uint8_t)(1u << (rnd() % 8));
            else
                copy[at] = (uint8_t)rnd();
        }
        rc = decode_clean(L, copy, b.len, &balanced);
        if (rc == 0)
            ndec++;
        else if (rc == EMBER_ECORRUPT)
            nerr++;
        else
            all_ok = 0;
        all_bal &= balanced;
        free(copy);
    }
    ok(all_ok && all_bal,
       "2000 random mutations: %d decoded, %d rejected, "
       "stack balanced",
       ndec, nerr);
    ok(nerr > 0, "some mutations were detected");

    /* huge declared lengths: rejected without allocating them */
    {
        lua_State *C = new_state(1);
        static const uint8_t hstr[] = {5,    0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x40, 'a',  'b'};
        static const uint8_t harr[] = {6, 0xff, 0xff, 0xff, 0xff, 0x0f, 3, 2};
        static const uint8_t hhash[] = {6, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 3};
        static const uint8_t hfn[] = {8, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1b};
        static const uint8_t over[] = {3,    0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        max_alloc = 0;
        is_int(EMBER_ECORRUPT, decode_clean(C, hstr, sizeof hstr, &balanced),
               "2^62-byte string rejected");
        is_int(EMBER_ECORRUPT, decode_clean(C, harr, sizeof harr, &balanced),
               "2^32-element array rejected");
        is_int(EMBER_ECORRUPT, decode_clean(C, hhash, sizeof hhash, &balanced),
               "2^32-pair hash rejected");
        is_int(EMBER_ECORRUPT, decode_clean(C, hfn, sizeof hfn, &balanced),
               "2^32-byte bytecode rejected");
        is_int(EMBER_ECORRUPT, decode_clean(C, over, sizeof over, &balanced),
               "over-long varint rejected");
        ok(max_alloc < 65536, "no large allocation (largest %zu bytes)",
           max_alloc);
        lua_close(C);
    }

    /* nesting bombs */
    {
        size_t n = 200000;
        uint8_t *bomb = malloc(n);
        for (size_t i = 0; i < n; i += 2) {
            bomb[i] = 6;
            bomb[i + 1] = 1;
        }
        ser_decode_buf(L, bomb, n, 0, &err);
        is_int(EMBER_ECORRUPT, decode_clean(L, bomb, n, &balanced),
               "nesting bomb rejected");
        ok(balanced, "nesting bomb leaves the stack balanced");
        ser_decode_buf(L, bomb, n, 0, &err);
        like(err.msg, "nested deeper than 200", "nesting bomb message");
        /* exactly SER_MAX_DEPTH nested tables decode; one more does not */
        for (int k = 200; k <= 201; k++) {
            size_t len = 0;
            memset(bomb, 0, n);
            for (int i = 0; i < k; i++) {
                bomb[len++] = 6;
                bomb[len++] = 1;
            }
            len += 1 + (size_t)k; /* innermost nil, then each level's nhash 0 */
            is_int(k == 200 ? 0 : EMBER_ECORRUPT,
                   decode_clean(L, bomb, len, &balanced), "%d nested tables",
                   k);
        }
        free(bomb);
    }

    /* hand-made bad inputs */
    {
        static const struct {
            const char *what;
            uint8_t b[16];
            size_t n;
        } cases[] = {
            {"empty input", {0}, 0},
            {"unknown tag", {200}, 1},
            {"ENV marker outside an upvalue", {11}, 1},
            {"upvalue reference outside an upvalue", {12, 0, 1}, 3},
            {"function reference to nothing", {9, 0}, 2},
            {"nil table key", {6, 0, 1, 0, 3, 2}, 6},
            {"NaN table key",
             {6, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 3, 2},
             14},
            {"C function of a library not allowed",
             {10, 10, 'o', 's', '.', 'e', 'x', 'e', 'c', 'u', 't', 'e'},
             12},
            {"unknown standard function",
             {10, 6, 'm', 'a', 't', 'h', '.', 'q'},
             8},
            {"global that is not a C function", {10, 2, '_', 'G'}, 4},
            {"bytecode without signature",
             {8, 5, 'h', 'e', 'l', 'l', 'o', 0},
             8},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int rc = decode_clean(L, cases[i].b, cases[i].n, &balanced);
            ok(rc == EMBER_ECORRUPT && balanced, "%s rejected", cases[i].what);
        }
        ok(decode_clean(L, "\x0a\x0dstring.format", 15, &balanced) == 0,
           "a standard function name decodes");
    }

    /* bad upvalue references and counts in a real closure encoding:
     * the closure has one upvalue, an integer, at the very end */
    {
        uint8_t *p;
        size_t n;
        encode_expr(L, "local a = 7 return function() return a end", &b,
                    "@u.lua");
        n = b.len;
        p = malloc(n + 4);
        memcpy(p, b.data, n);
        ok(p[n - 2] == 3 && p[n - 1] == 14 && p[n - 3] == 1,
           "closure ends with nups 1, integer 7");
        memcpy(p + n - 2, "\x0c\x00\x05", 3); /* join to upvalue 5 of f0 */
        is_int(EMBER_ECORRUPT, decode_clean(L, p, n + 1, &balanced),
               "join to a missing upvalue rejected");
        memcpy(p + n - 2, "\x0c\x01\x01", 3); /* join to function 1 */
        is_int(EMBER_ECORRUPT, decode_clean(L, p, n + 1, &balanced),
               "join to a missing function rejected");
        memcpy(p + n - 2, "\x0c\x00\x01", 3); /* join to itself */
        is_int(0, decode_clean(L, p, n + 1, &balanced),
               "self join is harmless");
        p[n - 3] = 2; /* wrong upvalue count */
        memcpy(p + n - 2, "\x03\x0e\x03\x0e", 4);
        is_int(EMBER_ECORRUPT, decode_clean(L, p, n + 2, &balanced),
               "wrong upvalue count rejected");
        free(p);
    }
    buf_free(&b);
}

static int my_cfn(lua_State *S)
{
    lua_pushinteger(S, 1);
    return 1;
}

static int driver_fn(lua_State *S)
{
    lua_pushliteral(S, "driver's");
    return 1;
}

static int exec_fn(lua_State *S)
{
    lua_pushliteral(S, "executor's");
    return 1;
}

/* The ember module: a reference, resolved on the decoding side. */
static void test_module(void)
{
    ember_error err;
    buf b;
    lua_State *L3;
    if (luaL_dostring(L, "emod = {name = 'driver'} emod.self = emod"))
        bail("emod");
    lua_getglobal(L, "emod");
    lua_pushcfunction(L, driver_fn);
    lua_setfield(L, -2, "helper");
    lua_setfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY);
    if (luaL_dostring(L2, "xmod = {name = 'executor'}"))
        bail("xmod");
    lua_getglobal(L2, "xmod");
    lua_pushcfunction(L2, exec_fn);
    lua_setfield(L2, -2, "helper");
    lua_setfield(L2, LUA_REGISTRYINDEX, SER_MODULE_KEY);

    ship("local ember = emod return function() return ember.name end", NULL,
         &err);
    is_string("executor", call2("f()"),
              "an upvalue holding the module is the decoding side's module");
    ship("local e, h = emod, emod.helper\n"
         "return function() return h() .. ' ' .. tostring(e.self) end",
         NULL, &err);
    is_string("executor's nil", call2("f()"),
              "its C functions ship by name: the decoding side's");
    ship("return {emod.helper, 1}", NULL, &err);
    is_string("executor's", call2("f[1]()"),
              "a module C function inside a value");

    /* a state without the module cannot decode the reference */
    L3 = new_state(0);
    buf_init(&b);
    run(L, "local e = emod return function() return e end", "@job.lua");
    ok(ser_encode(L, -1, &b, &err) == 0, "encode a closure over the module");
    lua_pop(L, 1);
    ember_error_clear(&err);
    is_int(EMBER_ECORRUPT, ser_decode_buf(L3, b.data, b.len, 0, &err),
           "no module on the decoding side: refused");
    like(err.msg, "ember module is not loaded", "message says why");
    is_int(0, lua_gettop(L3), "nothing left on the stack");
    buf_free(&b);
    lua_close(L3);
}

int main(void)
{
    L = new_state(0);
    L2 = new_state(0);
    /* a C function that is not the standard library's */
    lua_newtable(L);
    lua_pushcfunction(L, my_cfn);
    lua_setfield(L, -2, "cfn");
    lua_setglobal(L, "mylib");

    test_scalars();
    test_tables();
    test_closures();
    test_keys();
    test_corruption();
    test_module();
    is_int(0, lua_gettop(L), "L stack empty at the end");

    lua_close(L);
    lua_close(L2);
    return done_testing();
}
