/*
 * rowwise.c -- the row-wise operators of op_relational over the expression
 * engine (expr_int.h):
 *
 *   rel.filter     rows where a boolean expression is true
 *   rel.project    one column per named expression
 *   rel.limit      the first n rows, then EMBER_ESTOP
 *
 * and the registration of those three with rel.explode (explode.c) and
 * rel.partition (partition.c).
 *
 * How it works: filter evaluates its condition over the batch, builds a
 * selection vector of the rows where it is true (not NULL) and gathers
 * them, passing the batch through untouched when every row (or a true
 * scalar) passes; project emits the expressions' results as borrowed views
 * (a scalar result is materialized); limit passes whole batches, then the
 * prefix of the batch that reaches n as views.
 *
 * Threads: an operator instance is used by one task thread at a time;
 * nothing here is global but constant tables.
 */
#include "expr_int.h"

#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- rel.filter */

static const ember_param_desc filter_params[] = {
    {"cond", EMBER_PARAM_STRING, NULL,
     "boolean expression (S-expression); rows where it is true pass"},
};

typedef struct filter_st {
    expr_node *cond;
    expr_inbatch ib;
    int32_t *sel;
    int64_t selcap;
    rel_col *out;
    int nout;
} filter_st;

static void filter_close(void *state)
{
    filter_st *f = state;
    if (!f)
        return;
    expr_node_free(f->cond);
    expr_inbatch_free(&f->ib);
    free(f->sel);
    for (int i = 0; i < f->nout; i++)
        relcol_free(&f->out[i]);
    free(f->out);
    free(f);
}

static int filter_open(const ember_host *host, const ember_params *p,
                       const ember_task_info *ti, void **state,
                       ember_error *err)
{
    expr_where w = {"rel.filter", "cond", err};
    filter_st *f = calloc(1, sizeof *f);
    (void)ti;
    if (!f)
        return expr_fail(&w, EMBER_ENOMEM, "out of memory");
    f->cond = expr_compile_text(host->param_str(p, "cond"), &w);
    if (!f->cond) {
        filter_close(f);
        return err ? (err->code ? err->code : EMBER_EINVAL) : EMBER_EINVAL;
    }
    if (f->cond->type >= 0 && f->cond->type != EMBER_TYPE_BOOL &&
        f->cond->type != EMBER_TYPE_NULL) {
        expr_fail(&w, EMBER_EINVAL, "the condition has type %s, not boolean",
                  expr_tname(f->cond->type));
        filter_close(f);
        return EMBER_EINVAL;
    }
    *state = f;
    return 0;
}

static int filter_push(void *state, const ember_batch *in, ember_emit_fn emit,
                       void *ud, ember_error *err)
{
    filter_st *f = state;
    expr_ctx x = {0};
    expr_vec v;
    int64_t n, k = 0;
    int rc;
    x.w = (expr_where){"rel.filter", NULL, err};
    if ((rc = expr_inbatch_load(&f->ib, in, &x.w)))
        return rc;
    n = f->ib.n;
    if (n == 0)
        return 0;
    x.cols = f->ib.cols;
    x.ncols = f->ib.ncols;
    x.n = n;
    if ((rc = expr_eval(f->cond, &x, &v)))
        return rc;
    if (v.type != EMBER_TYPE_BOOL && v.type != EMBER_TYPE_NULL)
        return expr_fail(&x.w, EMBER_EINVAL,
                         "the condition has type %s, not "
                         "boolean",
                         expr_tname(v.type));
    if (v.scalar) {
        if (expr_vnull(&v, 0) || !((const uint8_t *)v.data)[0])
            return 0;
        return rel_emit_batch(in, emit, ud, err);
    }
    if (n > f->selcap) {
        int32_t *s = realloc(f->sel, (size_t)n * sizeof *s);
        if (!s)
            return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
        f->sel = s;
        f->selcap = n;
    }
    {
        const uint8_t *d = v.data;
        int32_t *sel = f->sel;
        if (!v.valid) {
            for (int64_t i = 0; i < n; i++) {
                sel[k] = (int32_t)i;
                k += d[i] != 0;
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                sel[k] = (int32_t)i;
                k += (d[i] != 0) & EXPR_BIT(v.valid, i);
            }
        }
    }
    if (k == 0)
        return 0;
    if (k == n)
        return rel_emit_batch(in, emit, ud, err);
    if (f->ib.ncols > f->nout) {
        rel_col *o = realloc(f->out, (size_t)f->ib.ncols * sizeof *o);
        if (!o)
            return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
        f->out = o;
        for (int i = f->nout; i < f->ib.ncols; i++)
            relcol_init(&f->out[i], f->ib.cols[i].type);
        f->nout = f->ib.ncols;
    }
    for (int i = 0; i < f->ib.ncols; i++) {
        rel_col *c = &f->out[i];
        if (c->type != f->ib.cols[i].type) {
            relcol_free(c);
            relcol_init(c, f->ib.cols[i].type);
        }
        relcol_reset(c);
        if (relcol_gather(c, &f->ib.cols[i], f->sel, k))
            return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
    }
    return rel_emit(f->out, f->ib.names, f->ib.ncols, emit, ud, err);
}

/* -------------------------------------------------------- rel.project */

static const ember_param_desc project_params[] = {
    {"exprs", EMBER_PARAM_STRING, NULL,
     "((as \"name\" EXPR) ...): one output column per item"},
};

typedef struct project_st {
    int n;
    char **names;
    expr_node **exprs;
    rel_col *mat; /* materialized scalars */
    ember_column *views;
    expr_vec *vals;
    expr_inbatch ib;
} project_st;

static void project_close(void *state)
{
    project_st *pj = state;
    if (!pj)
        return;
    for (int i = 0; i < pj->n; i++) {
        free(pj->names ? pj->names[i] : NULL);
        expr_node_free(pj->exprs ? pj->exprs[i] : NULL);
        if (pj->mat)
            relcol_free(&pj->mat[i]);
    }
    free(pj->names);
    free(pj->exprs);
    free(pj->mat);
    free(pj->views);
    free(pj->vals);
    expr_inbatch_free(&pj->ib);
    free(pj);
}

static int project_open(const ember_host *host, const ember_params *p,
                        const ember_task_info *ti, void **state,
                        ember_error *err)
{
    expr_where w = {"rel.project", "exprs", err};
    ember_error e = {0, ""};
    project_st *pj = calloc(1, sizeof *pj);
    rel_sx *x;
    int rc = EMBER_EINVAL;
    (void)ti;
    if (!pj)
        return expr_fail(&w, EMBER_ENOMEM, "out of memory");
    x = rel_sx_parse(host->param_str(p, "exprs"), &e);
    if (!x) {
        expr_fail(&w, EMBER_EINVAL, "%s", e.msg);
        goto bad;
    }
    if (x->kind != SX_LIST || x->n == 0) {
        expr_fail(&w, EMBER_EINVAL,
                  "expected a non-empty list ((as \"name\" "
                  "EXPR) ...)");
        goto bad;
    }
    pj->n = x->n;
    pj->names = calloc((size_t)x->n, sizeof *pj->names);
    pj->exprs = calloc((size_t)x->n, sizeof *pj->exprs);
    pj->mat = calloc((size_t)x->n, sizeof *pj->mat);
    pj->views = calloc((size_t)x->n, sizeof *pj->views);
    pj->vals = calloc((size_t)x->n, sizeof *pj->vals);
    if (!pj->names || !pj->exprs || !pj->mat || !pj->views || !pj->vals) {
        pj->n = 0;
        rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        relcol_init(&pj->mat[i], EMBER_TYPE_NULL);
        if (!rel_sx_head(it, "as") || it->n != 3 ||
            (it->items[1]->kind != SX_STR && it->items[1]->kind != SX_SYM)) {
            expr_fail(&w, EMBER_EINVAL, "item %d: expected (as \"name\" EXPR)",
                      i + 1);
            goto bad;
        }
        pj->names[i] = strdup(it->items[1]->s);
        if (!pj->names[i]) {
            rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
            goto bad;
        }
        pj->exprs[i] = expr_compile(it->items[2], &w, 0);
        if (!pj->exprs[i])
            goto bad;
    }
    rel_sx_free(x);
    *state = pj;
    return 0;
bad:
    rel_sx_free(x);
    project_close(pj);
    if (err && err->code)
        rc = err->code;
    return rc;
}

static int project_push(void *state, const ember_batch *in, ember_emit_fn emit,
                        void *ud, ember_error *err)
{
    project_st *pj = state;
    expr_ctx x = {0};
    int rc;
    x.w = (expr_where){"rel.project", NULL, err};
    if ((rc = expr_inbatch_load(&pj->ib, in, &x.w)))
        return rc;
    if (pj->ib.n == 0)
        return 0;
    x.cols = pj->ib.cols;
    x.ncols = pj->ib.ncols;
    x.n = pj->ib.n;
    for (int i = 0; i < pj->n; i++) {
        expr_vec *v = &pj->vals[i];
        if ((rc = expr_eval(pj->exprs[i], &x, v)))
            return rc;
        if (v->scalar) {
            if (expr_materialize(&pj->mat[i], v, x.n))
                return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
            relcol_view(&pj->mat[i], &pj->views[i]);
            if (v->type == EMBER_TYPE_NULL) {
                pj->views[i].length = x.n;
                pj->views[i].null_count = x.n;
            }
        } else {
            expr_vec_view(v, &pj->views[i]);
        }
    }
    return rel_emit_views(pj->views, (const char *const *)pj->names, pj->n,
                          emit, ud, err);
}

/* ---------------------------------------------------------- rel.limit */

static const ember_param_desc limit_params[] = {
    {"n", EMBER_PARAM_INT, NULL, "rows to pass (>= 0)"},
};

typedef struct limit_st {
    int64_t left;
    expr_inbatch ib;
} limit_st;

static void limit_close(void *state)
{
    limit_st *l = state;
    if (!l)
        return;
    expr_inbatch_free(&l->ib);
    free(l);
}

static int limit_open(const ember_host *host, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    expr_where w = {"rel.limit", "n", err};
    limit_st *l;
    int64_t n = host->param_int(p, "n");
    (void)ti;
    if (n < 0)
        return expr_fail(&w, EMBER_EINVAL, "must be >= 0, got %lld",
                         (long long)n);
    if (!(l = calloc(1, sizeof *l)))
        return expr_fail(&w, EMBER_ENOMEM, "out of memory");
    l->left = n;
    *state = l;
    return 0;
}

static int limit_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    limit_st *l = state;
    expr_where w = {"rel.limit", NULL, err};
    int64_t n = rel_host->batch_num_rows(in);
    int rc;
    if (l->left <= 0)
        return EMBER_ESTOP;
    if (n == 0)
        return 0;
    if (n <= l->left) {
        l->left -= n;
        rc = rel_emit_batch(in, emit, ud, err);
    } else {
        /* the first `left` rows: prefixes of the column buffers */
        if ((rc = expr_inbatch_load(&l->ib, in, &w)))
            return rc;
        for (int i = 0; i < l->ib.ncols; i++) {
            ember_column *c = &l->ib.cols[i];
            c->length = l->left;
            c->null_count = c->type == EMBER_TYPE_NULL
                                ? l->left
                                : expr_count_nulls(c->validity, l->left);
        }
        rc =
            rel_emit_views(l->ib.cols, l->ib.names, l->ib.ncols, emit, ud, err);
        l->left = 0;
    }
    if (rc)
        return rc;
    return l->left == 0 ? EMBER_ESTOP : 0;
}

/* ----------------------------------------------------- registration */

static const ember_op_desc ops[] = {
    {sizeof(ember_op_desc), "rel.filter",
     "rows where a boolean expression is true", EMBER_OP_TRANSFORM,
     filter_params, sizeof filter_params / sizeof filter_params[0], NULL,
     filter_open, NULL, filter_push, NULL, filter_close, NULL},
    {sizeof(ember_op_desc), "rel.project", "one column per named expression",
     EMBER_OP_TRANSFORM, project_params,
     sizeof project_params / sizeof project_params[0], NULL, project_open, NULL,
     project_push, NULL, project_close, NULL},
    {sizeof(ember_op_desc), "rel.limit", "the first n rows", EMBER_OP_TRANSFORM,
     limit_params, sizeof limit_params / sizeof limit_params[0], NULL,
     limit_open, NULL, limit_push, NULL, limit_close, NULL},
};

/* Register rel.filter, rel.project, rel.explode, rel.partition and
 * rel.limit, in that order (rel_host is set). */
int rel_register_expr(ember_registry *reg, ember_error *err)
{
    const ember_op_desc *const more[] = {&rel_explode_desc, &rel_partition_desc,
                                         &ops[2]};
    int rc = rel_register_ops(reg, ops, 2, err); /* filter, project */
    for (size_t i = 0; !rc && i < sizeof more / sizeof more[0]; i++)
        rc = rel_register_ops(reg, more[i], 1, err);
    return rc;
}
