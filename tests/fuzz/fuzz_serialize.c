/*
 * fuzz_serialize.c -- libFuzzer target for ser_decode_buf() in
 * lua/serialize.c, on values without Lua functions.
 *
 * Function bodies are handed to lua_load, which Lua does not harden against
 * hostile bytecode; serialize.h says both ends must be ember, so bytecode
 * is trusted by design and not fuzzed here.  The decoder calls lua_load
 * only for a body that starts with LUA_SIGNATURE ("\x1bLua"), so inputs
 * holding that sequence are skipped: the function tag (T_FUNC = 8) itself
 * is still fuzzed up to the signature check, as are back-references,
 * standard and ember C functions by name, and the ember module reference.
 *
 * What decodes is also run through ser_key/ser_hash and re-encoded; the
 * re-encoding must decode again.  Everything runs under lua_pcall: an out
 * of memory error is allowed, any other Lua error escaping is a finding.
 * One lua_State for the process.
 */
#include "lsplit.h"
#include "serialize.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;

typedef struct job {
    const uint8_t *data;
    size_t size;
} job;

static int run(lua_State *L1)
{
    job *j = lua_touserdata(L1, 1);
    ember_error err;
    int rc, top = lua_gettop(L1);
    buf b;

    memset(&err, 0, sizeof err);
    rc = ser_decode_buf(L1, j->data, j->size, 0, &err);
    if (rc != 0) {
        if (rc != EMBER_ECORRUPT || !err.msg[0] || lua_gettop(L1) != top)
            abort(); /* refusals: the promised code, a message, no push */
        return 0;
    }
    if (lua_gettop(L1) != top + 1)
        abort();

    {
        uint64_t h;
        if (ser_key(L1, -1, NULL) == 0)
            lua_pop(L1, 1);
        ser_hash(L1, -1, &h, NULL);
    }

    buf_init(&b);
    memset(&err, 0, sizeof err);
    rc = ser_encode(L1, -1, &b, &err);
    if (rc == 0) {
        if (ser_decode_buf(L1, b.data, b.len, 0, &err) != 0)
            abort(); /* the encoder wrote something its decoder refuses */
        lua_pop(L1, 1);
    } else if (rc != EMBER_EINVAL && rc != EMBER_ENOMEM) {
        abort();
    }
    buf_free(&b);
    lua_settop(L1, top);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    job j = {data, size};
    if (memmem(data, size, LUA_SIGNATURE, sizeof LUA_SIGNATURE - 1))
        return 0; /* would reach lua_load: trusted by design */
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
        luaL_openlibs(L);
        /* an executor's ember table: module references and ember's C
         * functions by name decode to it */
        lua_createtable(L, 0, 2);
        ser_push_null(L);
        lua_setfield(L, -2, "null");
        lua_pushcfunction(L, lsplit_strsplit);
        lua_setfield(L, -2, "strsplit");
        lua_setfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY);
    }
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, &j);
    switch (lua_pcall(L, 1, 0, 0)) {
    case LUA_OK:
    case LUA_ERRMEM: /* allowed by serialize.h: not a crash */
        break;
    default:
        /* any other Lua error escaping the decoder breaks its contract
         * (errors are values) and would be a panic outside a pcall */
        fprintf(stderr, "Lua error escaped: %s\n",
                lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
        abort();
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
