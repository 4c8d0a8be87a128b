/*
 * partition.c -- rel.partition of op_relational: appends each row's target
 * partition as a last int column "__part" (the shuffle writer's add_batch
 * reads it, lua/task_runtime.c).
 *
 *   hash        a hash of the key columns (rel_hash_value) modulo n
 *   range       the index of the first of the (at most n-1, ascending)
 *               bound tuples that is >= the row's keys (binary search),
 *               under each key's order (asc/desc, nulls first/last;
 *               Spark's defaults)
 *   single      0
 *   roundrobin  (the task's partition + the row's number in the task)
 *               modulo n
 *
 * The bounds are literals compiled by the expression engine (expr_int.h)
 * and compared with expr_cmp_lit.  The input columns are passed through as
 * views.
 *
 * Threads: an operator instance is used by one task thread at a time;
 * nothing here is global but constant tables.
 */
#include "expr_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ rel.partition */

static const ember_param_desc partition_params[] = {
    {"mode", EMBER_PARAM_STRING, "hash", "hash | range | single | roundrobin"},
    {"keys", EMBER_PARAM_STRING, "()", "key column indices, e.g. (0 2)"},
    {"n", EMBER_PARAM_INT, NULL, "number of partitions"},
    {"bounds", EMBER_PARAM_STRING, "()",
     "range: n-1 ascending key tuples of (lit T V)"},
    {"orders", EMBER_PARAM_STRING, "()",
     "range: (asc|desc nulls_first|nulls_last) per key"},
};

enum { PM_HASH, PM_RANGE, PM_SINGLE, PM_RR };

typedef struct partition_st {
    int mode, n, nkeys, nbounds;
    int *keys;
    expr_node **bounds; /* nbounds * nkeys literals */
    int *desc, *nfirst;
    int64_t rr;
    int32_t *part;
    uint64_t *h;
    int64_t cap;
    ember_column *views;
    const char **names;
    int vcap;
    expr_inbatch ib;
} partition_st;

static void partition_close(void *state)
{
    partition_st *pt = state;
    if (!pt)
        return;
    if (pt->bounds)
        for (int i = 0; i < pt->nbounds * pt->nkeys; i++)
            expr_node_free(pt->bounds[i]);
    free(pt->bounds);
    free(pt->keys);
    free(pt->desc);
    free(pt->nfirst);
    free(pt->part);
    free(pt->h);
    free(pt->views);
    free(pt->names);
    expr_inbatch_free(&pt->ib);
    free(pt);
}

static rel_sx *parse_list(const ember_host *host, const ember_params *p,
                          expr_where *w, const char *param)
{
    ember_error e = {0, ""};
    rel_sx *x;
    w->param = param;
    x = rel_sx_parse(host->param_str(p, param), &e);
    if (!x) {
        expr_fail(w, EMBER_EINVAL, "%s", e.msg);
        return NULL;
    }
    if (x->kind != SX_LIST) {
        expr_fail(w, EMBER_EINVAL, "expected a list");
        rel_sx_free(x);
        return NULL;
    }
    return x;
}

static int partition_open(const ember_host *host, const ember_params *p,
                          const ember_task_info *ti, void **state,
                          ember_error *err)
{
    expr_where w = {"rel.partition", "mode", err};
    partition_st *pt = calloc(1, sizeof *pt);
    const char *mode = host->param_str(p, "mode");
    int64_t n = host->param_int(p, "n");
    rel_sx *keys = NULL, *bounds = NULL, *orders = NULL;
    int rc = EMBER_EINVAL, pos;
    if (!pt)
        return expr_fail(&w, EMBER_ENOMEM, "out of memory");
    if (strcmp(mode, "hash") == 0)
        pt->mode = PM_HASH;
    else if (strcmp(mode, "range") == 0)
        pt->mode = PM_RANGE;
    else if (strcmp(mode, "single") == 0)
        pt->mode = PM_SINGLE;
    else if (strcmp(mode, "roundrobin") == 0)
        pt->mode = PM_RR;
    else {
        expr_fail(&w, EMBER_EINVAL,
                  "unknown mode '%s' (hash, range, single, roundrobin)", mode);
        goto bad;
    }
    if (n < 1 || n > INT32_MAX) {
        w.param = "n";
        expr_fail(&w, EMBER_EINVAL, "must be >= 1, got %lld", (long long)n);
        goto bad;
    }
    pt->n = (int)n;
    pt->rr = ti ? ti->partition : 0;
    if (!(keys = parse_list(host, p, &w, "keys")) ||
        !(bounds = parse_list(host, p, &w, "bounds")) ||
        !(orders = parse_list(host, p, &w, "orders")))
        goto bad;
    w.param = "keys";
    pt->nkeys = keys->n;
    pt->keys = calloc((size_t)keys->n + 1, sizeof *pt->keys);
    pt->desc = calloc((size_t)keys->n + 1, sizeof *pt->desc);
    pt->nfirst = calloc((size_t)keys->n + 1, sizeof *pt->nfirst);
    if (!pt->keys || !pt->desc || !pt->nfirst) {
        rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    if ((pos = rel_sx_indices(keys, INT32_MAX, pt->keys)) != 0) {
        expr_fail(&w, EMBER_EINVAL, "item %d is not a column index", pos);
        goto bad;
    }
    for (int i = 0; i < keys->n; i++)
        pt->nfirst[i] = 1; /* asc nulls_first by default, as Spark */
    if ((pt->mode == PM_HASH || pt->mode == PM_RANGE) && pt->nkeys == 0) {
        expr_fail(&w, EMBER_EINVAL, "mode %s needs at least one key", mode);
        goto bad;
    }
    if (pt->mode == PM_RANGE) {
        w.param = "orders";
        if (orders->n != 0 && orders->n != pt->nkeys) {
            expr_fail(&w, EMBER_EINVAL, "%d orders for %d keys", orders->n,
                      pt->nkeys);
            goto bad;
        }
        for (int i = 0; i < orders->n; i++) {
            const rel_sx *o = orders->items[i];
            if (o->kind != SX_LIST || o->n < 1 || o->n > 2 ||
                !(rel_sx_is(o->items[0], "asc") ||
                  rel_sx_is(o->items[0], "desc")) ||
                (o->n == 2 && !rel_sx_is(o->items[1], "nulls_first") &&
                 !rel_sx_is(o->items[1], "nulls_last"))) {
                expr_fail(&w, EMBER_EINVAL,
                          "item %d: expected (asc|desc nulls_first|nulls_last)",
                          i + 1);
                goto bad;
            }
            pt->desc[i] = rel_sx_is(o->items[0], "desc");
            /* Spark's defaults: asc nulls first, desc nulls last */
            pt->nfirst[i] = o->n == 2 ? rel_sx_is(o->items[1], "nulls_first")
                                      : !pt->desc[i];
        }
        w.param = "bounds";
        if (bounds->n > pt->n - 1) {
            expr_fail(&w, EMBER_EINVAL,
                      "%d bounds for %d partitions (at most %d)", bounds->n,
                      pt->n, pt->n - 1);
            goto bad;
        }
        pt->nbounds = bounds->n;
        pt->bounds =
            calloc((size_t)(bounds->n * pt->nkeys) + 1, sizeof *pt->bounds);
        if (!pt->bounds) {
            pt->nbounds = 0;
            rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
            goto bad;
        }
        for (int b = 0; b < bounds->n; b++) {
            const rel_sx *t = bounds->items[b];
            if (t->kind != SX_LIST || t->n != pt->nkeys) {
                expr_fail(&w, EMBER_EINVAL,
                          "bound %d: expected a list of %d "
                          "literals",
                          b + 1, pt->nkeys);
                goto bad;
            }
            for (int k = 0; k < pt->nkeys; k++) {
                expr_node *l = expr_compile(t->items[k], &w, 0);
                if (!l)
                    goto bad;
                pt->bounds[b * pt->nkeys + k] = l;
                if (l->op != EXPR_LIT) {
                    expr_fail(&w, EMBER_EINVAL,
                              "bound %d: item %d is not a lit", b + 1, k + 1);
                    goto bad;
                }
            }
        }
    }
    rel_sx_free(keys);
    rel_sx_free(bounds);
    rel_sx_free(orders);
    *state = pt;
    return 0;
bad:
    rel_sx_free(keys);
    rel_sx_free(bounds);
    rel_sx_free(orders);
    partition_close(pt);
    if (err && err->code)
        rc = err->code;
    return rc;
}

/* compare row i of key column c with bound literal l under key k's order */
static int range_cmp(const partition_st *pt, int k, const ember_column *c,
                     int64_t i, const expr_node *l, int *bad)
{
    int an = rel_isnull(c, i), bn = l->lnull, r;
    if (an || bn) {
        if (an && bn)
            return 0;
        r = an ? -1 : 1; /* null first */
        return pt->nfirst[k] ? r : -r;
    }
    r = expr_cmp_lit(c->type, c->data, c->offsets, i, l, bad);
    r = (r > 0) - (r < 0);
    return pt->desc[k] ? -r : r;
}

static int partition_push(void *state, const ember_batch *in,
                          ember_emit_fn emit, void *ud, ember_error *err)
{
    partition_st *pt = state;
    expr_where w = {"rel.partition", NULL, err};
    int64_t n;
    int nc, rc;
    if ((rc = expr_inbatch_load(&pt->ib, in, &w)))
        return rc;
    n = pt->ib.n;
    nc = pt->ib.ncols;
    if (n == 0)
        return 0;
    for (int k = 0; k < pt->nkeys; k++)
        if (pt->keys[k] >= nc)
            return expr_fail(&w, EMBER_EINVAL,
                             "keys: column %d out of range (the batch has %d "
                             "columns)",
                             pt->keys[k], nc);
    if (n > pt->cap) {
        int32_t *pp = realloc(pt->part, (size_t)n * sizeof *pp);
        uint64_t *hh;
        if (!pp)
            return expr_fail(&w, EMBER_ENOMEM, "out of memory");
        pt->part = pp;
        hh = realloc(pt->h, (size_t)n * sizeof *hh);
        if (!hh)
            return expr_fail(&w, EMBER_ENOMEM, "out of memory");
        pt->h = hh;
        pt->cap = n;
    }
    switch (pt->mode) {
    case PM_HASH: {
        uint64_t *h = pt->h;
        memset(h, 0, (size_t)n * sizeof *h);
        for (int k = 0; k < pt->nkeys; k++) {
            const ember_column *c = &pt->ib.cols[pt->keys[k]];
            for (int64_t i = 0; i < n; i++)
                h[i] = rel_hash_value(c, i, h[i] + (uint64_t)k);
        }
        for (int64_t i = 0; i < n; i++)
            pt->part[i] = (int32_t)(h[i] % (uint64_t)pt->n);
        break;
    }
    case PM_RANGE: {
        int bad = 0;
        for (int64_t i = 0; i < n && !bad; i++) {
            int lo = 0, hi = pt->nbounds; /* first bound >= key */
            while (lo < hi) {
                int mid = (lo + hi) / 2, r = 0;
                for (int k = 0; k < pt->nkeys && r == 0; k++)
                    r = range_cmp(pt, k, &pt->ib.cols[pt->keys[k]], i,
                                  pt->bounds[mid * pt->nkeys + k], &bad);
                if (r <= 0)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            pt->part[i] = lo;
        }
        if (bad)
            return expr_fail(&w, EMBER_EINVAL,
                             "bounds: literals do not match the key columns' "
                             "types");
        break;
    }
    case PM_SINGLE:
        memset(pt->part, 0, (size_t)n * sizeof *pt->part);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            pt->part[i] = (int32_t)((pt->rr + i) % pt->n);
        pt->rr = (pt->rr + n) % pt->n;
        break;
    }
    if (nc + 1 > pt->vcap) {
        ember_column *v = realloc(pt->views, (size_t)(nc + 1) * sizeof *v);
        const char **nm;
        if (!v)
            return expr_fail(&w, EMBER_ENOMEM, "out of memory");
        pt->views = v;
        nm = realloc(pt->names, (size_t)(nc + 1) * sizeof *nm);
        if (!nm)
            return expr_fail(&w, EMBER_ENOMEM, "out of memory");
        pt->names = nm;
        pt->vcap = nc + 1;
    }
    memcpy(pt->views, pt->ib.cols, (size_t)nc * sizeof *pt->views);
    memcpy(pt->names, pt->ib.names, (size_t)nc * sizeof *pt->names);
    pt->views[nc] =
        (ember_column){EMBER_TYPE_INT32, n, 0, NULL, NULL, pt->part};
    pt->names[nc] = "__part";
    return rel_emit_views(pt->views, pt->names, nc + 1, emit, ud, err);
}

const ember_op_desc rel_partition_desc = {
    sizeof(ember_op_desc),
    "rel.partition",
    "append each row's target partition as __part",
    EMBER_OP_TRANSFORM,
    partition_params,
    sizeof partition_params / sizeof partition_params[0],
    NULL,
    partition_open,
    NULL,
    partition_push,
    NULL,
    partition_close,
    NULL};
