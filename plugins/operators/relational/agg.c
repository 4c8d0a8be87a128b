/*
 * agg.c -- rel.hash_agg: hash aggregation (GROUP BY) in three modes.
 *
 *   complete  raw rows      -> keys, one column per aggregate
 *   partial   raw rows      -> keys, state columns (merged later by final)
 *   final     partial rows  -> keys, one column per aggregate
 *
 * This file is the operator: its parameters, open/push/finish/close, the
 * loop over CHUNK_ROWS-row chunks, and the memory policy.  The hash table
 * is agg_table.c's, the spill files agg_spill.c's (agg_int.h).
 *
 * Memory: the table, keys and states are accounted with ti->mem_acquire
 * in MEM_CHUNK steps.  When refused, partial mode emits what it holds and
 * starts over (final merges the duplicates); complete and final modes
 * spill every group in partial-state form (agg_spill.c) and start over;
 * finish() then merges one partition at a time, so results stay exact.
 * count_distinct and global (key-less) aggregation never spill: they keep
 * going past the limit (warned once).
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "agg_int.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const fn_names[] = {
    "sum", "count", "count_star",     "avg",
    "min", "max",   "count_distinct", "first"};

/* ---------------------------------------------------- memory, chunks */

static void mem_release_all(agg *s)
{
    if (s->acquired && s->ti && s->ti->mem_release)
        s->ti->mem_release(s->ti->ctx, s->acquired);
    s->acquired = 0;
}

/* Account what the table holds; spill or flush when refused. */
static int mem_check(agg *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    int64_t held;
    int rc = 0;
    if (!s->ti || !s->ti->mem_acquire)
        return 0;
    held = (int64_t)agg_table_bytes(s);
    while (held > s->acquired) {
        if (s->ti->mem_acquire(s->ti->ctx, MEM_CHUNK) == 0) {
            s->acquired += MEM_CHUNK;
            continue;
        }
        if (s->merging || s->nk == 0 ||
            (s->has_distinct && s->mode != M_PARTIAL)) {
            if (!s->warned)
                rel_host->log(EMBER_LOG_WARN, OPNAME,
                              "execution memory refused at %lld bytes; "
                              "going on without spilling",
                              (long long)held);
            s->warned = 1;
            return 0;
        }
        if (s->mode == M_PARTIAL) {
            rc = agg_emit_all(s, 1, emit, ud, err);
            agg_table_reset(s);
        } else {
            rc = agg_spill_all(s, err);
        }
        mem_release_all(s);
        return rc;
    }
    return 0;
}

/* Aggregate nrows rows of the columns in[]. */
static int process(agg *s, const ember_column *in, int64_t nrows,
                   ember_emit_fn emit, void *ud, ember_error *err)
{
    for (int64_t off = 0; off < nrows; off += CHUNK_ROWS) {
        int64_t n = nrows - off < CHUNK_ROWS ? nrows - off : CHUNK_ROWS;
        int rc = agg_lookup(s, in, off, n);
        for (int j = 0; j < s->na && !rc; j++)
            rc = agg_update(s, &s->a[j], in, off, n, s->gid);
        if (rc) {
            rel_host->seterr(err, rc, OPNAME ": out of memory");
            return rc;
        }
        rc = mem_check(s, emit, ud, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* -------------------------------------------------------------- params */

/* prefix the S-expression reader's message with the parameter's name */
static int sx_fail(const char *what, ember_error *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "bad S-expression");
    rel_host->seterr(err, EMBER_EINVAL, OPNAME ": parameter %s: %s", what, msg);
    return EMBER_EINVAL;
}

static int parse_index_list(const char *text, const char *what, int **out,
                            int *n, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x)
        return sx_fail(what, err);
    if (x->kind != SX_LIST)
        goto bad;
    *out = calloc((size_t)x->n + 1, sizeof **out);
    if (!*out) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    if (rel_sx_indices(x, 100000, *out))
        goto bad;
    *n = x->n;
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter %s must be a list of column "
                            "indices like (0 3), got %s",
                     what, text);
    return EMBER_EINVAL;
}

static int parse_aggs(agg *s, const char *text, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    char why[512] = "";
    if (!x)
        return sx_fail("aggs", err);
    if (x->kind != SX_LIST) {
        snprintf(why, sizeof why, "not a list");
        goto bad;
    }
    s->a = calloc((size_t)x->n + 1, sizeof *s->a);
    if (!s->a) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    for (int j = 0; j < x->n; j++) {
        const rel_sx *it = x->items[j], *f;
        aggfn *a = &s->a[j];
        int fn = -1, nargs;
        s->na = j + 1;
        if (!rel_sx_head(it, "as") || it->n != 3 ||
            (it->items[1]->kind != SX_STR && it->items[1]->kind != SX_SYM) ||
            it->items[2]->kind != SX_LIST || it->items[2]->n < 1 ||
            it->items[2]->items[0]->kind != SX_SYM) {
            snprintf(why, sizeof why, "item %d is not (as \"name\" (fn arg))",
                     j + 1);
            goto bad;
        }
        f = it->items[2];
        for (int k = 0; k < (int)(sizeof fn_names / sizeof fn_names[0]); k++)
            if (rel_sx_is(f->items[0], fn_names[k]))
                fn = k;
        if (fn < 0) {
            snprintf(why, sizeof why,
                     "unknown aggregate function '%s' (known: sum count "
                     "count_star avg min max count_distinct first)",
                     f->items[0]->s);
            goto bad;
        }
        nargs = fn == F_COUNT_STAR && s->mode != M_FINAL ? 0 : 1;
        if (f->n - 1 != nargs ||
            (nargs && (f->items[1]->kind != SX_INT || f->items[1]->i < 0 ||
                       f->items[1]->i > 100000))) {
            snprintf(why, sizeof why,
                     "%s takes %s, got %d argument(s) in item %d", fn_names[fn],
                     nargs ? "one column index" : "no argument", f->n - 1,
                     j + 1);
            goto bad;
        }
        if (fn == F_COUNT_DISTINCT && s->mode != M_COMPLETE) {
            snprintf(why, sizeof why,
                     "count_distinct is only allowed in mode complete");
            goto bad;
        }
        a->fn = fn;
        a->arg = a->cur_arg = nargs ? (int)f->items[1]->i : -1;
        a->name = strdup(it->items[1]->s);
        a->sname = malloc(strlen(it->items[1]->s) + 8);
        a->cname = malloc(strlen(it->items[1]->s) + 8);
        if (!a->name || !a->sname || !a->cname) {
            rel_sx_free(x);
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        sprintf(a->sname, "%s_sum", a->name);
        sprintf(a->cname, "%s_count", a->name);
        if (fn == F_COUNT_DISTINCT)
            s->has_distinct = 1;
    }
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL, OPNAME ": parameter aggs: %s in %s",
                     why, text);
    return EMBER_EINVAL;
}

static int parse_types(agg *s, const char *text, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x || x->kind != SX_LIST)
        goto bad;
    s->intypes = calloc((size_t)x->n + 1, sizeof *s->intypes);
    if (!s->intypes)
        goto bad;
    for (int i = 0; i < x->n; i++) {
        const rel_sx *t = x->items[i];
        int ty;
        if (t->kind == SX_LIST && t->n == 2) /* ("name" type) */
            t = t->items[1];
        if (t->kind != SX_SYM && t->kind != SX_STR)
            goto bad;
        ty = rel_type_from_name(t->s, strlen(t->s));
        if (ty < 0)
            goto bad;
        s->intypes[i] = (ember_type)ty;
    }
    s->nintypes = x->n;
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter input_types must be a list of type "
                            "names, got %s",
                     text);
    return EMBER_EINVAL;
}

/* ------------------------------------------------------------ operator */

static void agg_close(void *state)
{
    agg *s = state;
    if (!s)
        return;
    agg_table_reset(s);
    mem_release_all(s);
    agg_spill_close(s);
    for (int j = 0; j < s->na; j++) {
        free(s->a[j].name);
        free(s->a[j].sname);
        free(s->a[j].cname);
    }
    for (int k = 0; k < s->nk && s->kname; k++)
        free(s->kname[k]);
    free(s->kname);
    free(s->ktype);
    free(s->keys);
    free(s->kview);
    free(s->kidx);
    free(s->cur_kidx);
    free(s->a);
    free(s->intypes);
    free(s->h);
    free(s->vh);
    free(s->gid);
    free(s->in);
    free(s);
}

static int agg_open(const ember_host *host, const ember_params *p,
                    const ember_task_info *ti, void **state, ember_error *err)
{
    agg *s = calloc(1, sizeof *s);
    if (s) {
        s->strmode = -1;
        s->null_gid = -1;
    }
    const char *mode = host->param_str(p, "mode");
    const char *dir;
    int rc;
    if (!s) {
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    if (strcmp(mode, "complete") == 0)
        s->mode = M_COMPLETE;
    else if (strcmp(mode, "partial") == 0)
        s->mode = M_PARTIAL;
    else if (strcmp(mode, "final") == 0)
        s->mode = M_FINAL;
    else {
        host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter mode must be partial, final or "
                            "complete, not '%s'",
                     mode);
        agg_close(s);
        return EMBER_EINVAL;
    }
    s->merge = s->mode == M_FINAL;
    s->ti = ti;
    dir = ti && ti->local_dir && *ti->local_dir ? ti->local_dir : NULL;
    if (!dir)
        dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s->local_dir, sizeof s->local_dir, "%s", dir);
    rc = parse_index_list(host->param_str(p, "keys"), "keys", &s->kidx, &s->nk,
                          err);
    if (!rc)
        rc = parse_aggs(s, host->param_str(p, "aggs"), err);
    if (!rc)
        rc = parse_types(s, host->param_str(p, "input_types"), err);
    if (rc) {
        agg_close(s);
        return rc;
    }
    s->cur_kidx = calloc((size_t)s->nk + 1, sizeof *s->cur_kidx);
    s->ktype = calloc((size_t)s->nk + 1, sizeof *s->ktype);
    s->kname = calloc((size_t)s->nk + 1, sizeof *s->kname);
    s->keys = calloc((size_t)s->nk + 1, sizeof *s->keys);
    s->kview = calloc((size_t)s->nk + 1, sizeof *s->kview);
    s->h = malloc(sizeof *s->h * CHUNK_ROWS);
    s->vh = malloc(sizeof *s->vh * CHUNK_ROWS);
    s->gid = malloc(sizeof *s->gid * CHUNK_ROWS);
    if (!s->cur_kidx || !s->ktype || !s->kname || !s->keys || !s->kview ||
        !s->h || !s->vh || !s->gid) {
        agg_close(s);
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    memcpy(s->cur_kidx, s->kidx, sizeof *s->kidx * (size_t)s->nk);
    *state = s;
    return 0;
}

static int agg_push(void *state, const ember_batch *b, ember_emit_fn emit,
                    void *ud, ember_error *err)
{
    agg *s = state;
    int nc = rel_host->batch_num_columns(b);
    int64_t nrows = rel_host->batch_num_rows(b);
    if (nc > s->in_cap) {
        ember_column *ni = realloc(s->in, sizeof *ni * (size_t)nc);
        if (!ni) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        s->in = ni;
        s->in_cap = nc;
    }
    for (int i = 0; i < nc; i++)
        if (rel_host->batch_column(b, i, &s->in[i])) {
            rel_host->seterr(err, EMBER_EINVAL, OPNAME ": bad input column");
            return EMBER_EINVAL;
        }
    if (!s->bound) {
        ember_type *types = malloc(sizeof *types * (size_t)(nc + 1));
        const char **names = malloc(sizeof *names * (size_t)(nc + 1));
        int rc = types && names ? 0 : EMBER_ENOMEM;
        for (int i = 0; i < nc && !rc; i++) {
            types[i] = s->in[i].type;
            names[i] = rel_host->batch_column_name(b, i);
        }
        if (rc)
            rel_host->seterr(err, rc, "out of memory");
        else
            rc = agg_bind(s, types, names, nc, err);
        free(types);
        free((void *)names);
        if (rc)
            return rc;
    } else {
        int rc = agg_check_types(s, s->in, nc, err);
        if (rc)
            return rc;
    }
    if (nrows == 0)
        return 0;
    return process(s, s->in, nrows, emit, ud, err);
}

/* Merge the spilled partitions one at a time and emit their groups. */
static int merge_spills(agg *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    int rc = agg_spill_all(s, err), c = s->nk;
    mem_release_all(s);
    if (rc)
        return rc;
    s->merging = 1;
    s->merge = 1;
    for (int k = 0; k < s->nk; k++)
        s->cur_kidx[k] = k;
    for (int j = 0; j < s->na; j++) {
        s->a[j].cur_arg = c;
        c += s->a[j].fn == F_AVG ? 2 : 1;
    }
    for (int p = 0; p < NPART && !rc; p++) {
        agg_run r;
        memset(&r, 0, sizeof r);
        if ((rc = agg_spill_rewind(s, p, err)) != 0)
            return rc;
        while (!rc && (rc = agg_spill_read(s, p, &r, err)) == 1) {
            if (r.ncols == c) {
                rc = process(s, r.cols, r.n, emit, ud, err);
            } else {
                rc = EMBER_ECORRUPT;
                rel_host->seterr(err, rc,
                                 OPNAME ": a spilled run has %d columns, "
                                        "not %d",
                                 r.ncols, c);
            }
            agg_run_free(&r);
        }
        agg_run_free(&r);
        if (rc < 0) {
            if (err && !err->msg[0])
                rel_host->seterr(err, rc,
                                 OPNAME ": cannot read a spill file: %s",
                                 rel_host->strerror(rc));
            return rc;
        }
        rc = agg_emit_all(s, 0, emit, ud, err);
        agg_table_reset(s);
        mem_release_all(s);
    }
    return rc;
}

static int agg_finish(void *state, ember_emit_fn emit, void *ud,
                      ember_error *err)
{
    agg *s = state;
    if (!s->bound) {
        /* no input at all: only a global aggregate has a row to emit */
        ember_type *types;
        int n = s->nintypes, rc;
        if (s->nk > 0 || s->mode == M_PARTIAL)
            return 0;
        for (int j = 0; j < s->na; j++) {
            if (s->a[j].arg + 2 > n)
                n = s->a[j].arg + 2;
        }
        types = calloc((size_t)n + 1, sizeof *types);
        if (!types) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        for (int i = 0; i < n; i++)
            types[i] = i < s->nintypes ? s->intypes[i] : EMBER_TYPE_NULL;
        /* an unknown avg count column is fine as NULL */
        rc = agg_bind(s, types, NULL, n, err);
        free(types);
        if (rc)
            return rc;
    }
    if (s->spilled)
        return merge_spills(s, emit, ud, err);
    if (s->nk == 0 && s->mode != M_PARTIAL && s->ng == 0) {
        if (agg_groups_reserve(s, 1)) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        s->ng = 1;
    }
    return agg_emit_all(s, s->mode == M_PARTIAL, emit, ud, err);
}

static const ember_param_desc agg_params[] = {
    {"keys", EMBER_PARAM_STRING, "()", "group key column indices, e.g. (0 3)"},
    {"aggs", EMBER_PARAM_STRING, "()",
     "aggregates: ((as \"name\" (fn arg)) ...), fn one of sum count "
     "count_star avg min max count_distinct first"},
    {"mode", EMBER_PARAM_STRING, "complete", "partial | final | complete"},
    {"input_types", EMBER_PARAM_STRING, "()",
     "optional input column types (type ...) or ((\"name\" type) ...), "
     "used to type a global aggregate's row when no batch arrives"},
};

static const ember_op_desc agg_op = {
    sizeof(ember_op_desc),
    OPNAME,
    "hash aggregation (GROUP BY) in partial, final or complete mode",
    EMBER_OP_TRANSFORM,
    agg_params,
    sizeof agg_params / sizeof agg_params[0],
    NULL,
    agg_open,
    NULL,
    agg_push,
    agg_finish,
    agg_close,
    NULL};

int rel_register_agg(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, &agg_op, 1, err);
}
