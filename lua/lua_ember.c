/*
 * lua_ember.c -- the C half of the `ember` Lua module (driver side).
 *
 * Owns the "ember.CoreSession" userdata: a configuration plus a running
 * driver (driver.c).  The Dataset and DataFrame APIs themselves are pure
 * Lua (lua/NAME.lua, lua/df/NAME.lua, embedded at build time and required
 * through package.preload: lmodules.c); this file is the module "ember.core"
 * they require: encode/decode of values and closures, source planning through
 * operator plugins, running jobs, and output directory handling.  longjmp
 * (lua_error) is used only here and in the other files of lua/, never across
 * core code.
 *
 * Threads: the Lua main thread only.
 */
#include "lua_ember.h"

#include "config.h"
#include "exec/blockmgr.h"
#include "plugin/plugins.h"
#include "sched/driver.h"
#include "data/batch.h"
#include "lbatch.h"
#include "lmodules.h"
#include "lsplit.h"
#include "luaparams.h"
#include "serialize.h"
#include "codec/blockcodec.h"
#include "codec/spillfile.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SESSION_MT "ember.CoreSession"

static const conf *base_conf;

void ember_lua_set_base_conf(const conf *c)
{
    base_conf = c;
}

typedef struct session {
    conf *conf;
    driver *drv;
} session;

static session *check_session(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    if (!s->drv)
        luaL_error(L, "ember.Session is closed");
    return s;
}

/* conf values from Lua: strings, numbers, booleans */
static const char *conf_text(lua_State *L, int idx)
{
    if (lua_isboolean(L, idx))
        return lua_toboolean(L, idx) ? "true" : "false";
    return lua_tostring(L, idx);
}

static void warn_unknown(void *ud, const char *key, const char *origin,
                         const char *suggestion)
{
    (void)ud;
    LOG_WARN("unknown configuration key '%s'%s%s%s%s%s", key,
             origin ? " (" : "", origin ? origin : "", origin ? ")" : "",
             suggestion ? "; did you mean " : "", suggestion ? suggestion : "");
}

/* core.session_new{app=, master=, conf={}} */
static int l_session_new(lua_State *L)
{
    session *s;
    ember_error err = {0, ""};
    const char *app;
    int lvl = log_level();
    luaL_checktype(L, 1, LUA_TTABLE);
    s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SESSION_MT);
    s->conf = base_conf ? conf_dup(base_conf) : conf_new();
    if (!s->conf)
        return luaL_error(L, "out of memory");
    lua_getfield(L, 1, "master");
    if (!lua_isnil(L, -1))
        conf_set(s->conf, "master", luaL_checkstring(L, -1), CONF_SRC_SCRIPT,
                 "ember.session{master=}");
    lua_pop(L, 1);
    lua_getfield(L, 1, "app");
    app = lua_tostring(L, -1);
    if (app)
        conf_set(s->conf, "app.name", app, CONF_SRC_SCRIPT,
                 "ember.session{app=}");
    lua_pop(L, 1);
    lua_getfield(L, 1, "conf");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *k = lua_tostring(L, -2), *v = conf_text(L, -1);
            if (!k || !v ||
                conf_set(s->conf, k, v, CONF_SRC_SCRIPT,
                         "ember.session{conf=}"))
                return luaL_error(L, "ember.session: bad conf entry '%s'",
                                  k ? k : "?");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    conf_check_unknown(s->conf, warn_unknown, NULL);
    if (conf_validate(s->conf, &err) ||
        conf_enum(s->conf, "log.level", &lvl, &err) ||
        conf_string(s->conf, "app.name", &app, &err))
        return luaL_error(L, "cannot start ember: %s", err.msg);
    log_set_level(lvl); /* the values are in EMBER_LOG_* order */
    host_set_conf(s->conf);
    if (plugins_load_configured(s->conf, &err))
        return luaL_error(L, "%s", err.msg);
    s->drv = driver_new(s->conf, app, &err);
    if (!s->drv)
        return luaL_error(L, "cannot start ember: %s", err.msg);
    return 1;
}

static int l_session_stop(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    driver_destroy(&s->drv);
    if (s->conf) {
        host_set_conf(base_conf);
        conf_destroy(&s->conf);
    }
    return 0;
}

static int l_app_id(lua_State *L)
{
    lua_pushstring(L, driver_app_id(check_session(L)->drv));
    return 1;
}

static int l_master(lua_State *L)
{
    lua_pushstring(L, driver_master(check_session(L)->drv));
    return 1;
}

static int l_conf(lua_State *L)
{
    session *s = check_session(L);
    const char *v = conf_get(s->conf, luaL_checkstring(L, 2));
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

/* s:conf_value(key): key's value as the key table (core/conf_keys.c) types
 * it: an integer for integer, size (bytes) and duration (ms) keys, a
 * number, a boolean, or a string (an enum's value as written); nil when
 * the reader computes the default (default.parallelism unset).  Raises
 * for a key that is not in the table and for a bad value. */
static int l_conf_value(lua_State *L)
{
    session *s = check_session(L);
    const char *key = luaL_checkstring(L, 2);
    const conf_keydef *kd = conf_keydef_find(key);
    ember_error err = {0, ""};
    const char *str = NULL;
    int64_t i = 0;
    double d = 0;
    int b = 0;
    if (!kd)
        return luaL_error(L, "no setting named '%s' in the key table", key);
    if (conf_computed(s->conf, key)) {
        lua_pushnil(L);
        return 1;
    }
    switch (kd->type) {
    case CONF_INT:
        if (conf_int(s->conf, key, &i, &err))
            break;
        lua_pushinteger(L, (lua_Integer)i);
        return 1;
    case CONF_SIZE:
        if (conf_size(s->conf, key, &i, &err))
            break;
        lua_pushinteger(L, (lua_Integer)i);
        return 1;
    case CONF_DURATION:
        if (conf_duration_ms(s->conf, key, &i, &err))
            break;
        lua_pushinteger(L, (lua_Integer)i);
        return 1;
    case CONF_DOUBLE:
        if (conf_double(s->conf, key, &d, &err))
            break;
        lua_pushnumber(L, d);
        return 1;
    case CONF_BOOL:
        if (conf_bool(s->conf, key, &b, &err))
            break;
        lua_pushboolean(L, b);
        return 1;
    case CONF_STRING:
    case CONF_ENUM:
        if (conf_string(s->conf, key, &str, &err))
            break;
        lua_pushstring(L, str);
        return 1;
    }
    return luaL_error(L, "%s", err.msg);
}

static int l_set_log_level(lua_State *L)
{
    int lvl = log_level_parse(luaL_checkstring(L, 2));
    check_session(L);
    if (lvl < 0)
        return luaL_error(L,
                          "unknown log level '%s' (valid: error, warn, "
                          "info, debug)",
                          lua_tostring(L, 2));
    log_set_level(lvl);
    return 0;
}

static int l_default_parallelism(lua_State *L)
{
    session *s = check_session(L);
    int64_t n = 0;
    ember_error err = {0, ""};
    if (conf_int(s->conf, "default.parallelism", &n, &err))
        return luaL_error(L, "%s", err.msg);
    if (n <= 0)
        n = driver_total_cores(s->drv);
    lua_pushinteger(L, n < 1 ? 1 : n);
    return 1;
}

static int no_such_op(lua_State *L, const char *name, int kind)
{
    const ember_op_desc **ops;
    int n = plugins_ops(-1, &ops);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0, k = 0; i < n; i++)
        if (ops[i]->kind == kind) {
            if (k++)
                luaL_addstring(&b, ", ");
            luaL_addstring(&b, ops[i]->name);
        }
    luaL_pushresult(&b);
    return luaL_error(L, "no %s operator named '%s' (available: %s)",
                      kind == EMBER_OP_SOURCE ? "source" : "transform", name,
                      lua_tostring(L, -1));
}

/* s:plan_source(op, params, min_partitions) -> array of splits */
static int l_plan_source(lua_State *L)
{
    const char *name = luaL_checkstring(L, 2);
    const ember_op_desc *op = plugins_find_op(name, NULL);
    int minp = (int)luaL_checkinteger(L, 4);
    ember_error err = {0, ""};
    ember_params *p;
    ember_split_list *sl;
    int rc;
    check_session(L);
    if (!op || op->kind != EMBER_OP_SOURCE || !op->plan)
        return no_such_op(L, name, EMBER_OP_SOURCE);
    if (!(p = lua_params(L, 3, op, &err)))
        return luaL_error(L, "%s", err.msg);
    if (!(sl = splits_new())) {
        params_destroy(&p);
        return luaL_error(L, "out of memory");
    }
    rc = op->plan(host_table(), p, minp, sl, &err);
    params_destroy(&p);
    if (rc) {
        splits_destroy(&sl);
        return luaL_error(L, "%s", err.msg[0] ? err.msg : ember_strerror(rc));
    }
    lua_createtable(L, splits_count(sl), 0);
    for (int i = 0; i < splits_count(sl); i++) {
        const ember_split *s = splits_get(sl, i);
        lua_createtable(L, 0, 3);
        lua_pushstring(L, s->path);
        lua_setfield(L, -2, "path");
        lua_pushinteger(L, s->offset);
        lua_setfield(L, -2, "offset");
        lua_pushinteger(L, s->length);
        lua_setfield(L, -2, "length");
        lua_rawseti(L, -2, i + 1);
    }
    splits_destroy(&sl);
    return 1;
}

/* s:run_source_local(op, params, split) -> array of batches: runs a source
 * operator here, on the driver (schema inference reads a sample of the
 * input this way; never used for data). */
typedef struct local_emit {
    lua_State *L;
    int tab;
    int n;
} local_emit;

static int local_emit_fn(void *ud, const ember_batch *b)
{
    local_emit *le = ud;
    ember_batch *c = batch_clone(b);
    if (!c)
        return EMBER_ENOMEM;
    lbatch_push(le->L, c);
    lua_rawseti(le->L, le->tab, ++le->n);
    return 0;
}

/* Spill files of an operator run on the driver: in ti.local_dir, sealed
 * with the session's io key. */
typedef struct local_spill {
    const char *dir;
    const uint8_t *key;
} local_spill;

static int local_spill_create(void *ctx, ember_spill **out, ember_error *err)
{
    const local_spill *ls = ctx;
    return spillfile_create(ls->dir, ls->key, out, err);
}

static int l_run_source_local(lua_State *L)
{
    session *s = check_session(L);
    const char *name = luaL_checkstring(L, 2);
    const ember_op_desc *op = plugins_find_op(name, NULL);
    ember_error err = {0, ""};
    ember_params *p;
    ember_task_info ti;
    void *state = NULL;
    local_emit le;
    local_spill ls;
    int rc;
    luaL_checktype(L, 4, LUA_TTABLE);
    if (!op || op->kind != EMBER_OP_SOURCE || !op->run)
        return no_such_op(L, name, EMBER_OP_SOURCE);
    lua_newtable(L);
    le.L = L;
    le.tab = lua_gettop(L);
    le.n = 0;
    memset(&ti, 0, sizeof ti);
    ti.struct_size = sizeof ti;
    ti.executor_id = "driver";
    ti.local_dir = "/tmp";
    ls.dir = ti.local_dir;
    ls.key = driver_io_key(s->drv);
    ti.ctx = &ls;
    spillfile_task_info(&ti, local_spill_create);
    lua_getfield(L, 4, "path");
    ti.split.path = lua_tostring(L, -1);
    lua_getfield(L, 4, "offset");
    ti.split.offset = lua_tointeger(L, -1);
    lua_getfield(L, 4, "length");
    ti.split.length = lua_tointeger(L, -1);
    lua_pop(L, 2); /* keep path on the stack */
    if (!(p = lua_params(L, 3, op, &err)))
        return luaL_error(L, "%s", err.msg);
    rc = op->open(host_table(), p, &ti, &state, &err);
    if (rc == 0) {
        rc = op->run(state, local_emit_fn, &le, &err);
        op->close(state);
    }
    params_destroy(&p);
    if (rc && rc != EMBER_ESTOP)
        return luaL_error(L, "%s", err.msg[0] ? err.msg : ember_strerror(rc));
    lua_pushvalue(L, le.tab);
    return 1;
}

/* core.batch_from_rows(names, types, rows) -> batch: rows are arrays of
 * values by position; nil or ember.null is NULL; dates are days since the
 * epoch (integers), timestamps microseconds. */
static int l_batch_from_rows(lua_State *L)
{
    ember_batch *b;
    int nc;
    lua_Integer nr;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    nc = (int)luaL_len(L, 1);
    nr = luaL_len(L, 3);
    b = batch_new();
    if (!b)
        return luaL_error(L, "out of memory");
    lbatch_push(L, b); /* owned by Lua from here: errors do not leak */
    for (int c = 0; c < nc; c++) {
        const char *tn;
        ember_type t;
        lua_rawgeti(L, 2, c + 1);
        tn = luaL_checkstring(L, -1);
        t = strcmp(tn, "boolean") == 0     ? EMBER_TYPE_BOOL
            : strcmp(tn, "int") == 0       ? EMBER_TYPE_INT32
            : strcmp(tn, "bigint") == 0    ? EMBER_TYPE_INT64
            : strcmp(tn, "double") == 0    ? EMBER_TYPE_DOUBLE
            : strcmp(tn, "date") == 0      ? EMBER_TYPE_DATE32
            : strcmp(tn, "timestamp") == 0 ? EMBER_TYPE_TIMESTAMP
            : strcmp(tn, "null") == 0      ? EMBER_TYPE_NULL
                                           : EMBER_TYPE_STRING;
        lua_pop(L, 1);
        lua_rawgeti(L, 1, c + 1);
        if (batch_add_column(b, luaL_checkstring(L, -1), t) < 0)
            return luaL_error(L, "out of memory");
        lua_pop(L, 1);
        for (lua_Integer r = 1; r <= nr; r++) {
            int rc;
            lua_rawgeti(L, 3, r);
            if (!lua_istable(L, -1))
                return luaL_error(L, "row %d is not an array", (int)r);
            lua_rawgeti(L, -1, c + 1);
            if (lua_isnil(L, -1) || ser_is_null(L, -1) ||
                t == EMBER_TYPE_NULL) {
                rc = batch_append_null(b, c);
            } else if (t == EMBER_TYPE_BOOL) {
                rc = batch_append_i64(b, c, lua_toboolean(L, -1));
            } else if (t == EMBER_TYPE_DOUBLE) {
                if (!lua_isnumber(L, -1))
                    return luaL_error(L, "row %d column %d: expected a number",
                                      (int)r, c + 1);
                rc = batch_append_f64(b, c, lua_tonumber(L, -1));
            } else if (t == EMBER_TYPE_STRING) {
                size_t n;
                const char *str = luaL_tolstring(L, -1, &n);
                rc = batch_append_str(b, c, str, n);
                lua_pop(L, 1);
            } else {
                int isint = 0;
                lua_Integer v = lua_tointegerx(L, -1, &isint);
                if (!isint)
                    return luaL_error(L,
                                      "row %d column %d: expected an "
                                      "integer",
                                      (int)r, c + 1);
                rc = batch_append_i64(b, c, v);
            }
            lua_pop(L, 2);
            if (rc)
                return luaL_error(L, "cannot build the batch: %s",
                                  ember_strerror(rc));
        }
    }
    return 1;
}

/* s:check_op(name, params): raise unless a transform op accepts params */
static int l_check_op(lua_State *L)
{
    const char *name = luaL_checkstring(L, 2);
    const ember_op_desc *op = plugins_find_op(name, NULL);
    ember_error err = {0, ""};
    ember_params *p;
    check_session(L);
    if (!op || op->kind != EMBER_OP_TRANSFORM)
        return no_such_op(L, name, EMBER_OP_TRANSFORM);
    if (!(p = lua_params(L, 3, op, &err)))
        return luaL_error(L, "%s", err.msg);
    params_destroy(&p);
    return 0;
}

/* The accumulator updates of a job: an array of arrays of {id, value}. */
static void push_accum(lua_State *L, const job_result *res)
{
    ember_error err = {0, ""};
    lua_createtable(L, res->naccum, 0);
    for (int i = 0; i < res->naccum; i++) {
        if (ser_decode_buf(L, res->accum[i], res->accum_lens[i], 0, &err)) {
            LOG_WARN("dropping bad accumulator update: %s", err.msg);
            continue;
        }
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
}

/* s:run_job(nodes, root, action_bytes, partitions|nil, description)
 *   -> results, accum_updates | nil, message, accum_updates */
static int l_run_job(lua_State *L)
{
    session *s = check_session(L);
    job_spec spec;
    job_result res;
    ember_error err = {0, ""};
    int n, rc, *parts = NULL, nparts = 0;
    plan_node *nodes;
    buf raw;
    size_t alen;

    luaL_checktype(L, 2, LUA_TTABLE);
    memset(&spec, 0, sizeof spec);
    spec.root = (int)luaL_checkinteger(L, 3);
    spec.action = (const uint8_t *)luaL_checklstring(L, 4, &alen);
    spec.action_len = alen;
    spec.description = luaL_optstring(L, 6, "action");
    n = (int)lua_rawlen(L, 2);
    nodes = lua_newuserdatauv(L, sizeof *nodes * (size_t)(n + 1), 0);
    memset(nodes, 0, sizeof *nodes * (size_t)(n + 1));
    /* parents arrays live in one more userdata */
    {
        int total = 0, nprefs = 0;
        int *pbuf;
        const char **pref_buf;
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, 2, i);
            lua_rawgeti(L, -1, 4);
            total += (int)lua_rawlen(L, -1);
            lua_pop(L, 1);
            lua_rawgeti(L, -1, 6);
            if (lua_istable(L, -1)) {
                lua_rawgeti(L, -2, 3);
                nprefs += (int)lua_tointeger(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
        }
        pbuf = lua_newuserdatauv(L, sizeof(int) * (size_t)(total + 1), 0);
        pref_buf =
            lua_newuserdatauv(L, sizeof(char *) * (size_t)(nprefs + 1), 0);
        for (int i = 1; i <= n; i++) {
            plan_node *nd = &nodes[i - 1];
            size_t bl;
            lua_rawgeti(L, 2, i);
            lua_rawgeti(L, -1, 1);
            nd->id = (int)lua_tointeger(L, -1);
            lua_rawgeti(L, -2, 2);
            nd->kind = (int)lua_tointeger(L, -1);
            lua_rawgeti(L, -3, 3);
            nd->nparts = (int)lua_tointeger(L, -1);
            lua_pop(L, 3);
            lua_rawgeti(L, -1, 4);
            nd->nparents = (int)lua_rawlen(L, -1);
            nd->parents = pbuf;
            for (int k = 0; k < nd->nparents; k++) {
                lua_rawgeti(L, -1, k + 1);
                *pbuf++ = (int)lua_tointeger(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
            lua_rawgeti(L, -1, 5);
            /* the bytes string stays referenced by the nodes table */
            nd->payload = (uint8_t *)lua_tolstring(L, -1, &bl);
            nd->payload_len = bl;
            lua_pop(L, 1);
            /* preferred host per partition (sources), strings kept alive
               by the nodes table */
            lua_rawgeti(L, -1, 7);
            nd->cache_level = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
            lua_rawgeti(L, -1, 6);
            if (lua_istable(L, -1) && nd->nparts > 0) {
                nd->prefs = (const char **)pref_buf;
                for (int k = 0; k < nd->nparts; k++) {
                    lua_rawgeti(L, -1, k + 1);
                    *pref_buf++ = lua_tostring(L, -1);
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 2);
        }
    }
    if (lua_istable(L, 5)) {
        nparts = (int)lua_rawlen(L, 5);
        parts = lua_newuserdatauv(L, sizeof(int) * (size_t)(nparts + 1), 0);
        for (int i = 0; i < nparts; i++) {
            lua_rawgeti(L, 5, i + 1);
            parts[i] = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        if (nparts == 0) {
            lua_newtable(L);
            lua_newtable(L);
            return 2;
        }
    }
    spec.nnodes = n;
    spec.nodes = nodes;
    spec.npartitions = nparts;
    spec.partitions = parts;
    rc = driver_run_job(s->drv, &spec, &res, &err);
    if (rc) {
        /* nil, message, accumulator updates of the tasks that succeeded */
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        push_accum(L, &res);
        job_result_free(&res);
        return 3;
    }
    LOG_INFO("job %d finished in %.3f s (%d tasks)", res.job_id,
             res.elapsed_us / 1e6, res.ntasks);
    lua_createtable(L, res.nparts, 0);
    buf_init(&raw);
    for (int i = 0; i < res.nparts; i++) {
        buf_reset(&raw);
        if (blockcodec_decode_all_with(res.blocks[i], res.lens[i], &raw,
                                       driver_io_key(s->drv), &err) ||
            ser_decode_buf(L, raw.data, raw.len, 0, &err)) {
            buf_free(&raw);
            job_result_free(&res);
            return luaL_error(L, "bad result block from partition %d: %s", i,
                              err.msg);
        }
        lua_rawseti(L, -2, i + 1);
    }
    buf_free(&raw);
    push_accum(L, &res);
    job_result_free(&res);
    return 2;
}

/* ------------------------------------------------------------- helpers */

static int l_encode(lua_State *L)
{
    buf b;
    ember_error err = {0, ""};
    luaL_checkany(L, 1);
    buf_init(&b);
    if (ser_encode(L, 1, &b, &err)) {
        buf_free(&b);
        return luaL_error(L, "%s", err.msg);
    }
    lua_pushlstring(L, (const char *)b.data, b.len);
    buf_free(&b);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ember_error err = {0, ""};
    if (ser_decode_buf(L, s, n, 0, &err))
        return luaL_error(L, "%s", err.msg);
    return 1;
}

static int l_key(lua_State *L)
{
    ember_error err = {0, ""};
    if (ser_key(L, 1, &err))
        return luaL_error(L, "%s", err.msg);
    return 1;
}

/* Spark refuses to write into an existing directory. */
static int l_prepare_output_dir(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    ember_error err = {0, ""};
    if (path_exists(dir))
        return luaL_error(L, "output directory %s already exists", dir);
    if (mkdir_p(dir, &err))
        return luaL_error(L, "%s", err.msg);
    return 0;
}

static int l_make_dir(lua_State *L)
{
    ember_error err = {0, ""};
    if (mkdir_p(luaL_checkstring(L, 1), &err))
        return luaL_error(L, "%s", err.msg);
    return 0;
}

static int l_remove_dir(lua_State *L)
{
    rm_rf(luaL_checkstring(L, 1));
    return 0;
}

static int l_write_success(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/_SUCCESS", dir);
    f = fopen(path, "w");
    if (!f || fclose(f) != 0)
        return luaL_error(L, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static void storage_row(void *ud, int node, int part, const char *exec,
                        int level, uint64_t mem, uint64_t disk)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, node);
    lua_setfield(L, -2, "node");
    lua_pushinteger(L, part);
    lua_setfield(L, -2, "partition");
    lua_pushstring(L, exec);
    lua_setfield(L, -2, "executor");
    lua_pushstring(L, level_name(level));
    lua_setfield(L, -2, "level");
    lua_pushinteger(L, (lua_Integer)mem);
    lua_setfield(L, -2, "memory");
    lua_pushinteger(L, (lua_Integer)disk);
    lua_setfield(L, -2, "disk");
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* s:storage_blocks() -> array of {node, partition, executor, level,
 * memory, disk} */
static int l_storage_blocks(lua_State *L)
{
    session *s = check_session(L);
    lua_newtable(L);
    driver_storage_info(s->drv, storage_row, L);
    return 1;
}

static int l_unpersist(lua_State *L)
{
    session *s = check_session(L);
    driver_unpersist(s->drv, (int)luaL_checkinteger(L, 2));
    return 0;
}

/* s:broadcast_put(bytes) -> id */
static int l_broadcast_put(lua_State *L)
{
    session *s = check_session(L);
    size_t n;
    const char *v = luaL_checklstring(L, 2, &n);
    ember_error err = {0, ""};
    int64_t id;
    if (driver_broadcast_put(s->drv, v, n, &id, &err))
        return luaL_error(L, "%s", err.msg);
    lua_pushinteger(L, id);
    return 1;
}

static int l_broadcast_unpersist(lua_State *L)
{
    driver_broadcast_unpersist(check_session(L)->drv, luaL_checkinteger(L, 2));
    return 0;
}

static int l_broadcast_destroy(lua_State *L)
{
    driver_broadcast_destroy(check_session(L)->drv, luaL_checkinteger(L, 2));
    return 0;
}

static int l_broadcast_fetches(lua_State *L)
{
    lua_pushinteger(L, driver_broadcast_fetches(check_session(L)->drv,
                                                luaL_checkinteger(L, 2)));
    return 1;
}

static const luaL_Reg session_methods[] = {
    {"broadcast_put", l_broadcast_put},
    {"broadcast_unpersist", l_broadcast_unpersist},
    {"broadcast_destroy", l_broadcast_destroy},
    {"broadcast_fetches", l_broadcast_fetches},
    {"storage_blocks", l_storage_blocks},
    {"unpersist", l_unpersist},
    {"run_job", l_run_job},
    {"plan_source", l_plan_source},
    {"run_source_local", l_run_source_local},
    {"check_op", l_check_op},
    {"default_parallelism", l_default_parallelism},
    {"app_id", l_app_id},
    {"master", l_master},
    {"conf", l_conf},
    {"conf_value", l_conf_value},
    {"set_log_level", l_set_log_level},
    {"stop", l_session_stop},
    {NULL, NULL},
};

static const luaL_Reg core_funcs[] = {
    {"session_new", l_session_new},
    {"encode", l_encode},
    {"decode", l_decode},
    {"key", l_key},
    {"prepare_output_dir", l_prepare_output_dir},
    {"remove_dir", l_remove_dir},
    {"make_dir", l_make_dir},
    {"write_success", l_write_success},
    {"batch_from_rows", l_batch_from_rows},
    {"strsplit", lsplit_strsplit},
    {NULL, NULL},
};

/* require("ember.core"): the functions above and the version */
static int open_core(lua_State *L)
{
    if (luaL_newmetatable(L, SESSION_MT)) {
        lua_pushcfunction(L, l_session_stop);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_session_stop);
        lua_setfield(L, -2, "__close");
        luaL_newlib(L, session_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lbatch_open(L);
    luaL_newlib(L, core_funcs);
    lua_pushstring(L, EMBER_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

/* The `ember` module: ember's Lua modules go into package.preload
 * (lmodules.c, plus "ember.core" above) and lua/ember.lua, which
 * assembles the public table from them, is required. */
int luaopen_ember(lua_State *L)
{
    lmodules_preload(L, NULL);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_core);
    lua_setfield(L, -2, "ember.core");
    lua_pop(L, 1);
    lmodules_require(L, "ember");
    /* functions shipped to executors refer to the module by name */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY);
    return 1;
}
