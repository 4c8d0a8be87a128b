/*
 * rel_harness.h -- drive op_relational operators from a C unit test with
 * the real host (core/plugin/plugins.c, core/data/batch.c): load the
 * plugin from the build tree, set parameters, run a source or push
 * batches through a transform, and collect what comes out.
 *
 * Header-only; include from exactly one .c per test program.  The test
 * program is linked with $(EMBER_CORE_LIBS) and compiles rel.c plus the
 * operator files it tests (tests/local.mk): the plugin is registered
 * statically, so each test builds without the other operator files.
 * Usage:
 *
 *     rh_init();                                  // once
 *     rh_op *op = rh_open("rel.filter", (const char *[]){"cond",
 *                         "(gt boolean (col 0) (lit bigint 5))", NULL}, NULL);
 *     rh_push(op, batch);  rh_finish(op);
 *     ... op->out[i] are the emitted batches (copies), op->nout of them
 *     rh_close(op);
 *
 * Batches are built with the real batch_* functions (core/data/batch.h).
 * Operators get the host's spill files (core/codec/spillfile.c) in
 * $TMPDIR, sealed with rh_spill_key when a test sets it (as an executor
 * with io.encryption.enabled seals them with its io key).
 */
#ifndef EMBER_REL_HARNESS_H
#define EMBER_REL_HARNESS_H

#include "codec/spillfile.h"
#include "data/batch.h"
#include "plugin/plugins.h"
#include "util/buf.h"

#include <stdio.h>

const ember_plugin *ember_plugin_entry(void);
#include <stdlib.h>
#include <string.h>

typedef struct rh_op {
    const ember_op_desc *desc;
    ember_params *params;
    void *state;
    ember_task_info ti;
    ember_batch **out;
    int nout;
    int64_t counters; /* sum of add_counter deltas */
    char counter_name[64];
    int64_t mem_limit; /* mem_acquire refuses past this (-1: unlimited) */
    int64_t mem_used;
    int stop_after; /* emit returns EMBER_ESTOP after this many (0: never) */
    ember_error err;
} rh_op;

/* The key the operators' spill files are sealed with (NULL: plain), and
 * whether ember_task_info offers spill files at all (0: the operators use
 * files of their own, as with a host that leaves spill_* NULL). */
static const uint8_t *rh_spill_key;
static int rh_spill_hosted = 1;

static inline void rh_init(void)
{
    ember_error err = {0, ""};
    if (plugins_init(NULL, &err) ||
        plugins_register_static(ember_plugin_entry(), "op_relational(static)",
                                &err)) {
        fprintf(stderr, "rel_harness: cannot load op_relational: %s\n",
                err.msg);
        exit(1);
    }
}

/* a deep copy through the wire codec (also exercises it) */
static inline ember_batch *rh_copy(const ember_batch *b)
{
    buf w;
    ember_batch *c = NULL;
    buf_init(&w);
    if (batch_encode(b, &w) == 0)
        batch_decode(w.data, w.len, &c, NULL);
    buf_free(&w);
    return c;
}

static inline int rh_emit(void *ud, const ember_batch *b)
{
    rh_op *o = ud;
    ember_batch **no = realloc(o->out, (size_t)(o->nout + 1) * sizeof *no);
    if (!no)
        return EMBER_ENOMEM;
    o->out = no;
    o->out[o->nout] = rh_copy(b);
    if (!o->out[o->nout])
        return EMBER_ENOMEM;
    o->nout++;
    if (o->stop_after && o->nout >= o->stop_after)
        return EMBER_ESTOP;
    return 0;
}

static inline void rh_add_counter(void *ctx, const char *name, int64_t d)
{
    rh_op *o = ctx;
    snprintf(o->counter_name, sizeof o->counter_name, "%s", name);
    o->counters += d;
}

static inline int rh_mem_acquire(void *ctx, int64_t bytes)
{
    rh_op *o = ctx;
    if (o->mem_limit >= 0 && o->mem_used + bytes > o->mem_limit)
        return EMBER_EAGAIN;
    o->mem_used += bytes;
    return 0;
}

static inline void rh_mem_release(void *ctx, int64_t bytes)
{
    rh_op *o = ctx;
    o->mem_used -= bytes;
}

static inline int rh_spill_create(void *ctx, ember_spill **out,
                                  ember_error *err)
{
    rh_op *o = ctx;
    return spillfile_create(o->ti.local_dir, rh_spill_key, out, err);
}

/* kv: name, value, name, value, ..., NULL.  split: for sources (or NULL).
 * mem_limit: bytes mem_acquire grants in total (-1: unlimited).  Returns
 * NULL with the reason printed on stderr and in *errout when given. */
static inline rh_op *rh_open_ex(const char *name, const char *const *kv,
                                const ember_split *split, int64_t mem_limit,
                                ember_error *errout)
{
    rh_op *o = calloc(1, sizeof *o);
    ember_error *err = &o->err;
    o->desc = plugins_find_op(name, NULL);
    o->mem_limit = mem_limit;
    if (!o->desc) {
        snprintf(err->msg, sizeof err->msg, "no operator %s", name);
        goto fail;
    }
    o->params = params_new(o->desc);
    for (int i = 0; kv && kv[i]; i += 2)
        if (params_set(o->params, kv[i], kv[i + 1], err))
            goto fail;
    if (params_finish(o->params, err))
        goto fail;
    o->ti.struct_size = sizeof o->ti;
    o->ti.executor_id = "test";
    o->ti.local_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (split)
        o->ti.split = *split;
    o->ti.add_counter = rh_add_counter;
    o->ti.mem_acquire = rh_mem_acquire;
    o->ti.mem_release = rh_mem_release;
    o->ti.ctx = o;
    if (rh_spill_hosted)
        spillfile_task_info(&o->ti, rh_spill_create);
    if (o->desc->open(host_table(), o->params, &o->ti, &o->state, err))
        goto fail;
    return o;
fail:
    fprintf(stderr, "rel_harness: %s: %s\n", name, err->msg);
    if (errout)
        *errout = *err;
    params_destroy(&o->params);
    free(o);
    return NULL;
}

static inline rh_op *rh_open(const char *name, const char *const *kv,
                             const ember_split *split)
{
    return rh_open_ex(name, kv, split, -1, NULL);
}

static inline int rh_run(rh_op *o)
{
    return o->desc->run(o->state, rh_emit, o, &o->err);
}
static inline int rh_push(rh_op *o, const ember_batch *b)
{
    return o->desc->push(o->state, b, rh_emit, o, &o->err);
}
static inline int rh_push_input(rh_op *o, int input, const ember_batch *b)
{
    return o->desc->push_input(o->state, input, b, rh_emit, o, &o->err);
}
static inline int rh_finish(rh_op *o)
{
    return o->desc->finish ? o->desc->finish(o->state, rh_emit, o, &o->err) : 0;
}

/* A batch from row-major text cells: "~" is NULL, booleans are "t"/"f",
 * numbers in decimal. */
static inline ember_batch *rh_batch(int nc, const char *const *names,
                                    const ember_type *types, int nr,
                                    const char *const *cells)
{
    ember_batch *b = batch_new();
    for (int c = 0; c < nc; c++)
        batch_add_column(b, names[c], types[c]);
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            const char *v = cells[r * nc + c];
            if (strcmp(v, "~") == 0)
                batch_append_null(b, c);
            else if (types[c] == EMBER_TYPE_STRING)
                batch_append_str(b, c, v, strlen(v));
            else if (types[c] == EMBER_TYPE_DOUBLE)
                batch_append_f64(b, c, strtod(v, NULL));
            else if (types[c] == EMBER_TYPE_BOOL)
                batch_append_i64(b, c, v[0] == 't');
            else
                batch_append_i64(b, c, strtoll(v, NULL, 10));
        }
    return b;
}

/* total rows emitted */
static inline int64_t rh_rows(const rh_op *o)
{
    int64_t n = 0;
    for (int i = 0; i < o->nout; i++)
        n += batch_num_rows(o->out[i]);
    return n;
}

static inline void rh_close(rh_op *o)
{
    if (!o)
        return;
    if (o->desc->close)
        o->desc->close(o->state);
    for (int i = 0; i < o->nout; i++)
        batch_destroy(&o->out[i]);
    free(o->out);
    params_destroy(&o->params);
    free(o);
}

/* Cell (row r, column c) of the emitted output as text: "null", numbers
 * printed with %lld / %.17g, bools as true/false, dates as days, strings as
 * they are.  Rows are counted across emitted batches. */
static inline const char *rh_cell(const rh_op *o, int64_t r, int c)
{
    static char s[4096];
    for (int i = 0; i < o->nout; i++) {
        int64_t n = batch_num_rows(o->out[i]);
        ember_column col;
        if (r >= n) {
            r -= n;
            continue;
        }
        if (batch_column(o->out[i], c, &col))
            return "<no such column>";
        if (col.type == EMBER_TYPE_NULL ||
            (col.validity && !((col.validity[r / 8] >> (r % 8)) & 1)))
            return "null";
        switch (col.type) {
        case EMBER_TYPE_BOOL:
            return ((const uint8_t *)col.data)[r] ? "true" : "false";
        case EMBER_TYPE_INT32:
        case EMBER_TYPE_DATE32:
            snprintf(s, sizeof s, "%d", ((const int32_t *)col.data)[r]);
            return s;
        case EMBER_TYPE_INT64:
        case EMBER_TYPE_TIMESTAMP:
            snprintf(s, sizeof s, "%lld",
                     (long long)((const int64_t *)col.data)[r]);
            return s;
        case EMBER_TYPE_DOUBLE:
            snprintf(s, sizeof s, "%.17g", ((const double *)col.data)[r]);
            return s;
        default:
            snprintf(s, sizeof s, "%.*s",
                     (int)(col.offsets[r + 1] - col.offsets[r]),
                     (const char *)col.data + col.offsets[r]);
            return s;
        }
    }
    return "<no such row>";
}

#endif
