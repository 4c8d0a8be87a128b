/*
 * expr_eval.c -- vectorized evaluation of op_relational's expressions (see
 * expr_int.h): the tree is evaluated bottom-up over a whole batch, each
 * node into an expr_vec.
 *
 * How it works: arguments first (a column is borrowed from the batch, a
 * literal is a scalar), then the node's types are checked against the
 * batch's, then one function of this file or of expr_func.c computes the
 * result with typed loops, the switch on types outside them.  A function
 * of scalars only computes one row and stays a scalar.  NULLs: most
 * functions are NULL where any argument is (expr_prop_valid ANDs the
 * validity bitmaps, and an argument that is NULL everywhere makes the
 * result NULL everywhere without a loop); AND/OR, IN, CASE and COALESCE
 * follow SQL's three-valued rules instead.  Results live in the node's own
 * buffers, reused from batch to batch.
 *
 * Also here: the input-batch, materializing and view helpers every
 * operator of expr_int.h uses.
 *
 * Threads: trees belong to one operator instance; nothing global but
 * constant tables.
 */
#include "expr_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================= vectors */

static const uint8_t zero_bytes[16];
static const int32_t zero_off[2];

void expr_vec_null(expr_vec *out, ember_type t, int64_t n)
{
    out->type = t;
    out->scalar = 1;
    out->n = n;
    out->nulls = n;
    out->valid = zero_bytes;
    out->off = zero_off;
    out->data = zero_bytes;
}

int64_t expr_count_nulls(const uint8_t *v, int64_t n)
{
    int64_t set = 0, full = n >> 3;
    if (!v)
        return 0;
    for (int64_t i = 0; i < full; i++)
        set += __builtin_popcount(v[i]);
    if (n & 7)
        set += __builtin_popcount(v[full] & ((1u << (n & 7)) - 1));
    return n - set;
}

/* ====================================================== result buffers */

/* nd->buf ready for `rows` fixed-width values of the node's type */
void *expr_res_fixed(expr_node *nd, ember_type t, int64_t rows)
{
    rel_col *c = &nd->buf;
    c->type = t;
    c->n = 0;
    c->nulls = 0;
    c->data_len = 0;
    if (relcol_reserve(c, rows ? rows : 1, 0))
        return NULL;
    return c->data;
}

/* nd->buf's validity bitmap for `rows` rows (contents undefined) */
uint8_t *expr_res_valid(expr_node *nd, int64_t rows)
{
    rel_col *c = &nd->buf;
    size_t need = (size_t)(rows + 7) / 8 + 1;
    if (need > c->valid_cap) {
        uint8_t *p = realloc(c->valid, need);
        if (!p)
            return NULL;
        c->valid = p;
        c->valid_cap = need;
    }
    return c->valid;
}

/* a bitmap for `rows` rows initialised from v's validity */
uint8_t *expr_res_valid_from(expr_node *nd, const expr_vec *v, int64_t rows)
{
    uint8_t *b = expr_res_valid(nd, rows);
    if (!b)
        return NULL;
    if (v->valid)
        memcpy(b, v->valid, (size_t)(rows + 7) / 8);
    else
        memset(b, 0xff, (size_t)(rows + 7) / 8);
    return b;
}

/* string output: begin, put per row, done */
int expr_sb_begin(expr_node *nd, int64_t rows, size_t est)
{
    rel_col *c = &nd->buf;
    c->type = EMBER_TYPE_STRING;
    c->n = 0;
    c->nulls = 0;
    c->data_len = 0;
    if (relcol_reserve(c, rows, est))
        return EMBER_ENOMEM;
    c->off[0] = 0;
    return 0;
}

int expr_tmp_need(expr_node *nd, size_t bytes)
{
    if (bytes > nd->tmpcap) {
        size_t cap = nd->tmpcap ? nd->tmpcap : 256;
        uint8_t *p;
        while (cap < bytes)
            cap *= 2;
        p = realloc(nd->tmp, cap);
        if (!p)
            return EMBER_ENOMEM;
        nd->tmp = p;
        nd->tmpcap = cap;
    }
    return 0;
}

int expr_nomem(expr_ctx *cx)
{
    return expr_fail(&cx->w, EMBER_ENOMEM,
                     "out of memory evaluating an expression");
}

/* Validity of a NULL-propagating function of args a[0..na) with result type
 * t: returns 1 when every row is NULL (out set to an all-NULL t), -1 when
 * out of memory, else 0 with *valid / *nulls (rows = 1 when all args are
 * scalar). */
int expr_prop_valid(expr_node *nd, expr_ctx *cx, const expr_vec *a, int na,
                    int64_t rows, ember_type t, expr_vec *out,
                    const uint8_t **valid, int64_t *nulls)
{
    const uint8_t *one = NULL;
    int many = 0;
    for (int k = 0; k < na; k++) {
        if (a[k].nulls == 0)
            continue;
        if (a[k].scalar || a[k].nulls == cx->n) {
            expr_vec_null(out, t, cx->n);
            return 1;
        }
        if (one)
            many = 1;
        else
            one = a[k].valid;
    }
    *valid = one;
    *nulls = 0;
    if (!one)
        return 0;
    if (many) {
        uint8_t *b = expr_res_valid(nd, rows);
        size_t nb = (size_t)(rows + 7) / 8;
        if (!b)
            return -1;
        memset(b, 0xff, nb);
        for (int k = 0; k < na; k++)
            if (a[k].nulls && !a[k].scalar)
                for (size_t j = 0; j < nb; j++)
                    b[j] &= a[k].valid[j];
        *valid = b;
    }
    *nulls = expr_count_nulls(*valid, rows);
    return 0;
}

int expr_map_begin(expr_node *nd, expr_ctx *cx, ember_type t, expr_vec *out,
                   int64_t *rows)
{
    const expr_vec *a = &nd->av[0];
    *rows = a->scalar ? 1 : cx->n;
    if (expr_all_null(a, cx->n, t, out))
        return 1;
    if (t == EMBER_TYPE_STRING
            ? expr_sb_begin(nd, *rows, (size_t)(a->off[*rows] - a->off[0]))
            : !expr_res_fixed(nd, t, *rows))
        return expr_nomem(cx);
    return 0;
}

void expr_map_end(expr_node *nd, const expr_ctx *cx, expr_vec *out)
{
    const rel_col *c = &nd->buf;
    expr_vec_like(out, c->type, &nd->av[0], cx->n,
                  rel_type_varwidth(c->type) ? c->off : NULL, c->data);
}

/* ========================================================= arithmetic */

/* is row i of b (an int, bigint or double divisor) zero? */
static inline int zero_at(const expr_vec *b, int64_t i)
{
    switch (b->type) {
    case EMBER_TYPE_INT32:
        return ((const int32_t *)b->data)[i] == 0;
    case EMBER_TYPE_INT64:
        return ((const int64_t *)b->data)[i] == 0;
    default:
        return ((const double *)b->data)[i] == 0;
    }
}

/* clear validity where a (int or double divisor) is zero */
static int zero_to_null(expr_node *nd, const expr_vec *b, int64_t rows,
                        const uint8_t **valid, int64_t *nulls)
{
    uint8_t *v;
    int64_t nz = 0;
    if (b->scalar)
        return 0; /* handled by the caller */
    for (int64_t i = 0; i < rows; i++)
        nz += zero_at(b, i);
    if (!nz)
        return 0;
    if (*valid != nd->buf.valid || !*valid) {
        expr_vec tmp = {0};
        tmp.valid = *valid;
        if (!(v = expr_res_valid_from(nd, &tmp, rows)))
            return -1;
    } else {
        v = nd->buf.valid;
    }
    for (int64_t i = 0; i < rows; i++)
        if (zero_at(b, i))
            EXPR_CLRBIT(v, i);
    *valid = v;
    *nulls = expr_count_nulls(v, rows);
    return 0;
}

static int scalar_zero(const expr_vec *b)
{
    return zero_at(b, 0);
}

static int eval_arith(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0], *b = nd->nargs > 1 ? &nd->av[1] : NULL;
    int sc = expr_all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    void *r;
    int t = nd->type, p;
    p = expr_prop_valid(nd, cx, nd->av, nd->nargs, rows, (ember_type)t, out,
                        &valid, &nulls);
    if (p)
        return p < 0 ? expr_nomem(cx) : 0;
    if (b && (nd->op == EXPR_MOD || nd->op == EXPR_DIV) && b->scalar &&
        scalar_zero(b)) {
        expr_vec_null(out, (ember_type)t, cx->n);
        return 0;
    }
    if (!(r = expr_res_fixed(nd, (ember_type)t, rows)))
        return expr_nomem(cx);
#define ARITH_INT(T, UT)                                                       \
    switch (nd->op) {                                                          \
    case EXPR_ADD:                                                             \
        EXPR_BINLOOP(T, T, T, a, b, r, rows, (UT)x + (UT)y);                   \
        break;                                                                 \
    case EXPR_SUB:                                                             \
        EXPR_BINLOOP(T, T, T, a, b, r, rows, (UT)x - (UT)y);                   \
        break;                                                                 \
    case EXPR_MUL:                                                             \
        EXPR_BINLOOP(T, T, T, a, b, r, rows, (UT)x *(UT)y);                    \
        break;                                                                 \
    case EXPR_MOD:                                                             \
        EXPR_BINLOOP(T, T, T, a, b, r, rows, (y == 0 || y == -1) ? 0 : x % y); \
        break;                                                                 \
    case EXPR_NEG:                                                             \
        EXPR_UNLOOP(T, T, a, r, rows, (UT)0 - (UT)x);                          \
        break;                                                                 \
    case EXPR_ABS:                                                             \
        EXPR_UNLOOP(T, T, a, r, rows, x < 0 ? (UT)0 - (UT)x : (UT)x);          \
        break;                                                                 \
    }
    if (t == EMBER_TYPE_INT32) {
        ARITH_INT(int32_t, uint32_t)
    } else if (t == EMBER_TYPE_INT64) {
        ARITH_INT(int64_t, uint64_t)
    } else {
        switch (nd->op) {
        case EXPR_ADD:
            EXPR_BINLOOP(double, double, double, a, b, r, rows, x + y);
            break;
        case EXPR_SUB:
            EXPR_BINLOOP(double, double, double, a, b, r, rows, x - y);
            break;
        case EXPR_MUL:
            EXPR_BINLOOP(double, double, double, a, b, r, rows, x *y);
            break;
        case EXPR_MOD:
            EXPR_BINLOOP(double, double, double, a, b, r, rows,
                         y == 0 ? 0 : fmod(x, y));
            break;
        case EXPR_DIV:
            EXPR_BINLOOP(double, double, double, a, b, r, rows,
                         y == 0 ? 0 : x / y);
            break;
        case EXPR_NEG:
            EXPR_UNLOOP(double, double, a, r, rows, -x);
            break;
        case EXPR_ABS:
            EXPR_UNLOOP(double, double, a, r, rows, fabs(x));
            break;
        }
    }
#undef ARITH_INT
    if ((nd->op == EXPR_MOD || nd->op == EXPR_DIV) &&
        zero_to_null(nd, b, rows, &valid, &nulls))
        return expr_nomem(cx);
    expr_vec_set(out, (ember_type)t, sc, cx->n, valid, nulls, NULL, r);
    return 0;
}

/* -------------------------------------------------------- comparisons */

static inline int dcmp(double x, double y)
{
    int xn = x != x, yn = y != y;
    if (xn || yn)
        return xn - yn;
    return (x > y) - (x < y);
}

static inline int scmp(const char *a, int32_t la, const char *b, int32_t lb)
{
    int r = memcmp(a, b, (size_t)(la < lb ? la : lb));
    if (r)
        return r < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* three-way compare of every row into r (int8), both args non-NULL type */
static void cmp_rows(const expr_vec *a, const expr_vec *b, int64_t rows,
                     int eqonly, int8_t *r)
{
    switch (a->type) {
    case EMBER_TYPE_BOOL:
        EXPR_BINLOOP(int8_t, uint8_t, uint8_t, a, b, r, rows,
                     (x > y) - (x < y));
        break;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        EXPR_BINLOOP(int8_t, int32_t, int32_t, a, b, r, rows,
                     (x > y) - (x < y));
        break;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        EXPR_BINLOOP(int8_t, int64_t, int64_t, a, b, r, rows,
                     (x > y) - (x < y));
        break;
    case EMBER_TYPE_DOUBLE:
        EXPR_BINLOOP(int8_t, double, double, a, b, r, rows, dcmp(x, y));
        break;
    default:
        for (int64_t i = 0; i < rows; i++) {
            int32_t la, lb;
            const char *sa = expr_vstr(a, i, &la), *sb = expr_vstr(b, i, &lb);
            if (eqonly)
                r[i] = (int8_t)(la != lb || memcmp(sa, sb, (size_t)la) != 0);
            else
                r[i] = (int8_t)scmp(sa, la, sb, lb);
        }
    }
}

static const uint8_t cmp_lut[6][3] = {
    {0, 1, 0}, /* eq */
    {1, 0, 1}, /* ne */
    {1, 0, 0}, /* lt */
    {1, 1, 0}, /* le */
    {0, 0, 1}, /* gt */
    {0, 1, 1}, /* ge */
};

static int eval_cmp(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0], *b = &nd->av[1];
    int sc = expr_all_scalar(nd->av, 2);
    int64_t rows = sc ? 1 : cx->n, nulls = 0;
    const uint8_t *valid = NULL;
    uint8_t *r;
    int op = nd->op;
    if (op != EXPR_EQNS) {
        int p = expr_prop_valid(nd, cx, nd->av, 2, rows, EMBER_TYPE_BOOL, out,
                                &valid, &nulls);
        if (p)
            return p < 0 ? expr_nomem(cx) : 0;
    }
    if (!(r = expr_res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return expr_nomem(cx);
    if (a->type == EMBER_TYPE_NULL || b->type == EMBER_TYPE_NULL) {
        /* only eqns gets here: true where both are NULL */
        for (int64_t i = 0; i < rows; i++)
            r[i] = (uint8_t)(expr_vnull(a, i) && expr_vnull(b, i));
        expr_vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, NULL, 0, NULL, r);
        return 0;
    }
    cmp_rows(a, b, rows, op == EXPR_EQ || op == EXPR_NE || op == EXPR_EQNS,
             (int8_t *)r);
    if (op == EXPR_EQNS) {
        for (int64_t i = 0; i < rows; i++) {
            int na = expr_vnull(a, i), nb = expr_vnull(b, i);
            r[i] = (uint8_t)(na || nb ? na && nb : r[i] == 0);
        }
    } else {
        const uint8_t *lut = cmp_lut[op - EXPR_EQ];
        for (int64_t i = 0; i < rows; i++)
            r[i] = lut[(int8_t)r[i] + 1];
    }
    expr_vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, valid, nulls, NULL, r);
    return 0;
}

/* ------------------------------------------------------------- logic */

static int eval_logic(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    int sc = expr_all_scalar(nd->av, nd->nargs), anynull = 0;
    int64_t rows = sc ? 1 : cx->n;
    uint8_t *r, *v;
    int isand = nd->op == EXPR_AND;
    if (!(r = expr_res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return expr_nomem(cx);
    if (nd->op == EXPR_NOT) {
        const expr_vec *a = &nd->av[0];
        if (expr_all_null(a, cx->n, EMBER_TYPE_BOOL, out))
            return 0;
        EXPR_UNLOOP(uint8_t, uint8_t, a, r, rows, !x);
        expr_vec_like(out, EMBER_TYPE_BOOL, a, cx->n, NULL, r);
        return 0;
    }
    for (int k = 0; k < nd->nargs; k++)
        anynull |= nd->av[k].nulls > 0;
    if (!anynull) {
        expr_vec cur = {0};
        cur.scalar = sc;
        cur.data = r;
        for (int64_t i = 0; i < rows; i++)
            r[i] =
                ((const uint8_t *)nd->av[0].data)[expr_ix(&nd->av[0], i)] != 0;
        for (int k = 1; k < nd->nargs; k++) {
            const expr_vec *b = &nd->av[k];
            if (isand)
                EXPR_BINLOOP(uint8_t, uint8_t, uint8_t, &cur, b, r, rows,
                             x & (y != 0));
            else
                EXPR_BINLOOP(uint8_t, uint8_t, uint8_t, &cur, b, r, rows,
                             x | (y != 0));
        }
        expr_vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, NULL, 0, NULL, r);
        return 0;
    }
    if (!(v = expr_res_valid(nd, rows)))
        return expr_nomem(cx);
    memset(v, 0xff, (size_t)(rows + 7) / 8);
    for (int64_t i = 0; i < rows; i++) {
        int decided = 0, null = 0;
        for (int k = 0; k < nd->nargs; k++) {
            const expr_vec *a = &nd->av[k];
            if (expr_vnull(a, i))
                null = 1;
            else if ((((const uint8_t *)a->data)[expr_ix(a, i)] != 0) != isand)
                decided = 1;
        }
        /* and: a false decides false; or: a true decides true */
        r[i] = (uint8_t)(decided ? !isand : isand);
        if (!decided && null)
            EXPR_CLRBIT(v, i);
    }
    expr_vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, v, expr_count_nulls(v, rows),
                 NULL, r);
    return 0;
}

/* ---------------------------------------------- is_null, in, like */

static int eval_isnull(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int want = nd->op == EXPR_ISNULL;
    int64_t rows = a->scalar ? 1 : cx->n;
    uint8_t *r;
    if (!(r = expr_res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return expr_nomem(cx);
    if (!a->valid)
        memset(r, !want, (size_t)rows);
    else
        for (int64_t i = 0; i < rows; i++)
            r[i] = (uint8_t)(EXPR_BIT(a->valid, i) != want);
    expr_vec_set(out, EMBER_TYPE_BOOL, a->scalar, cx->n, NULL, 0, NULL, r);
    return 0;
}

/* compare row i of a value of type t (data/off) with literal l:
 * <0, 0, >0; *bad set when the types cannot be compared */
int expr_cmp_lit(ember_type t, const void *data, const int32_t *off, int64_t i,
                 const expr_node *l, int *bad)
{
    switch (t) {
    case EMBER_TYPE_BOOL:
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP: {
        int64_t v = t == EMBER_TYPE_BOOL     ? ((const uint8_t *)data)[i] != 0
                    : rel_type_width(t) == 4 ? ((const int32_t *)data)[i]
                                             : ((const int64_t *)data)[i];
        if (l->type == EMBER_TYPE_DOUBLE)
            return dcmp((double)v, l->ld);
        if (l->type == EMBER_TYPE_STRING)
            *bad = 1;
        return (v > l->li) - (v < l->li);
    }
    case EMBER_TYPE_DOUBLE:
        if (l->type == EMBER_TYPE_STRING)
            *bad = 1;
        return dcmp(((const double *)data)[i], l->ld);
    case EMBER_TYPE_STRING:
    case EMBER_TYPE_BINARY:
        if (l->type != EMBER_TYPE_STRING) {
            *bad = 1;
            return 0;
        }
        return scmp((const char *)data + off[i], off[i + 1] - off[i], l->ls,
                    l->loff[1]);
    default:
        *bad = 1;
        return 0;
    }
}

static int eval_in(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    int litnull = 0, bad = 0;
    uint8_t *r, *v;
    for (int k = 1; k < nd->nargs; k++)
        litnull |= nd->args[k]->lnull;
    if (expr_all_null(a, cx->n, EMBER_TYPE_BOOL, out))
        return 0;
    if (!(r = expr_res_fixed(nd, EMBER_TYPE_BOOL, rows)) ||
        !(v = expr_res_valid_from(nd, a, rows)))
        return expr_nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int found = 0;
        if (a->valid && !EXPR_BIT(a->valid, i)) {
            r[i] = 0;
            continue;
        }
        for (int k = 1; k < nd->nargs && !found; k++)
            found =
                !nd->args[k]->lnull && expr_cmp_lit(a->type, a->data, a->off, i,
                                                    nd->args[k], &bad) == 0;
        r[i] = (uint8_t)found;
        if (!found && litnull)
            EXPR_CLRBIT(v, i);
    }
    if (bad)
        return expr_fail(&cx->w, EMBER_EINVAL,
                         "in: the list's literals do not match type %s",
                         expr_tname(a->type));
    expr_vec_set(out, EMBER_TYPE_BOOL, a->scalar, cx->n, v,
                 expr_count_nulls(v, rows), NULL, r);
    return 0;
}

static int eval_like(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows;
    uint8_t *r;
    int rc = expr_map_begin(nd, cx, EMBER_TYPE_BOOL, out, &rows);
    if (rc)
        return rc < 0 ? rc : 0;
    r = nd->buf.data;
    for (int64_t i = 0; i < rows; i++) {
        int32_t len;
        const char *s = expr_vstr(a, i, &len);
        r[i] =
            (uint8_t)expr_like_match(nd->like, (const uint8_t *)s, (size_t)len);
    }
    expr_map_end(nd, cx, out);
    return 0;
}

/* ------------------------------------------------------ case, coalesce */

/* result row i = row i of src[pick[i]] (pick < 0: NULL) */
static int build_pick(expr_node *nd, expr_ctx *cx, const expr_vec *src,
                      const int16_t *pick, int64_t rows, int sc, expr_vec *out)
{
    int t = nd->type, w = rel_type_width((ember_type)t);
    uint8_t *v = expr_res_valid(nd, rows);
    if (!v)
        return expr_nomem(cx);
    memset(v, 0xff, (size_t)(rows + 7) / 8);
    if (t == EMBER_TYPE_NULL) {
        expr_vec_null(out, EMBER_TYPE_NULL, cx->n);
        return 0;
    }
    if (rel_type_varwidth((ember_type)t)) {
        size_t bytes = 0;
        rel_col *c = &nd->buf;
        for (int64_t i = 0; i < rows; i++)
            if (pick[i] >= 0 && !expr_vnull(&src[pick[i]], i)) {
                int32_t len;
                expr_vstr(&src[pick[i]], i, &len);
                bytes += (size_t)len;
            }
        if (expr_sb_begin(nd, rows, bytes))
            return expr_nomem(cx);
        for (int64_t i = 0; i < rows; i++) {
            if (pick[i] < 0 || expr_vnull(&src[pick[i]], i)) {
                EXPR_CLRBIT(v, i);
                expr_sb_null(c, i);
            } else {
                int32_t len;
                const char *s = expr_vstr(&src[pick[i]], i, &len);
                expr_sb_put(c, i, s, (size_t)len);
            }
        }
        expr_vec_set(out, (ember_type)t, sc, cx->n, v,
                     expr_count_nulls(v, rows), c->off, c->data);
        return 0;
    }
    {
        uint8_t *r = expr_res_fixed(nd, (ember_type)t, rows);
        if (!r)
            return expr_nomem(cx);
        for (int64_t i = 0; i < rows; i++) {
            const expr_vec *s = pick[i] >= 0 ? &src[pick[i]] : NULL;
            if (!s || expr_vnull(s, i)) {
                EXPR_CLRBIT(v, i);
                memset(r + i * w, 0, (size_t)w);
            } else {
                memcpy(r + i * w, (const uint8_t *)s->data + expr_ix(s, i) * w,
                       (size_t)w);
            }
        }
        expr_vec_set(out, (ember_type)t, sc, cx->n, v,
                     expr_count_nulls(v, rows), NULL, r);
    }
    return 0;
}

static int eval_choose(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    int sc = expr_all_scalar(nd->av, nd->nargs), na = nd->nargs;
    int64_t rows = sc ? 1 : cx->n;
    int16_t *pick;
    if (na > 30000)
        return expr_fail(&cx->w, EMBER_ETOOBIG, "%s: too many arguments",
                         expr_opname(nd->op));
    if (nd->op == EXPR_COALESCE && nd->av[0].nulls == 0 &&
        (int)nd->av[0].type == nd->type) {
        *out = nd->av[0];
        return 0;
    }
    if (expr_tmp_need(nd, (size_t)rows * sizeof *pick))
        return expr_nomem(cx);
    pick = (int16_t *)nd->tmp;
    if (nd->op == EXPR_COALESCE) {
        for (int64_t i = 0; i < rows; i++) {
            int k = 0;
            while (k < na && expr_vnull(&nd->av[k], i))
                k++;
            pick[i] = (int16_t)(k < na ? k : -1);
        }
    } else {
        int els = na % 2 ? na - 1 : -1;
        for (int64_t i = 0; i < rows; i++)
            pick[i] = -2;
        for (int k = 0; k + 1 < na; k += 2) {
            const expr_vec *c = &nd->av[k];
            const uint8_t *d = c->data;
            for (int64_t i = 0; i < rows; i++)
                if (pick[i] == -2 && !expr_vnull(c, i) && d[expr_ix(c, i)])
                    pick[i] = (int16_t)(k + 1);
        }
        for (int64_t i = 0; i < rows; i++)
            if (pick[i] == -2)
                pick[i] = (int16_t)els;
    }
    return build_pick(nd, cx, nd->av, pick, rows, sc, out);
}

/* ------------------------------------------------------------ dispatch */

int expr_eval(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    switch (nd->op) {
    case EXPR_COL: {
        const ember_column *c;
        if (nd->col >= cx->ncols)
            return expr_fail(
                &cx->w, EMBER_EINVAL,
                "column %d out of range (the batch has %d columns)", nd->col,
                cx->ncols);
        c = &cx->cols[nd->col];
        if (c->type == EMBER_TYPE_NULL) {
            expr_vec_null(out, EMBER_TYPE_NULL, cx->n);
            return 0;
        }
        out->type = c->type;
        out->scalar = 0;
        out->n = cx->n;
        out->nulls = c->null_count;
        out->valid = c->null_count ? c->validity : NULL;
        out->off = c->offsets;
        out->data = c->data;
        if (rel_type_varwidth(c->type) && cx->n > 0 && c->offsets[0] != 0)
            return expr_fail(&cx->w, EMBER_EINVAL,
                             "column %d: string offsets do not start at 0",
                             nd->col);
        return 0;
    }
    case EXPR_LIT:
        if (nd->lnull) {
            expr_vec_null(out, (ember_type)nd->type, cx->n);
            return 0;
        }
        out->type = (ember_type)nd->type;
        out->scalar = 1;
        out->n = cx->n;
        out->nulls = 0;
        out->valid = NULL;
        out->off = nd->loff;
        out->data = nd->type == EMBER_TYPE_STRING ? (const void *)nd->ls
                                                  : (const void *)&nd->lv;
        return 0;
    default:
        break;
    }
    for (int i = 0; i < nd->nargs; i++) {
        int rc = expr_eval(nd->args[i], cx, &nd->av[i]);
        if (rc)
            return rc;
        nd->at[i] = nd->av[i].type;
    }
    if (expr_check(nd, nd->at, &cx->w))
        return EMBER_EINVAL;
    if (nd->op == EXPR_EQ || nd->op == EXPR_NE || nd->op == EXPR_LT ||
        nd->op == EXPR_LE || nd->op == EXPR_GT || nd->op == EXPR_GE ||
        nd->op == EXPR_EQNS) {
        /* a NULL-typed side compares as the other side's type */
        if (nd->av[0].type == EMBER_TYPE_NULL && nd->op != EXPR_EQNS)
            nd->av[0].type = nd->av[1].type;
        if (nd->av[1].type == EMBER_TYPE_NULL && nd->op != EXPR_EQNS)
            nd->av[1].type = nd->av[0].type;
    }
    switch (nd->op) {
    case EXPR_ADD:
    case EXPR_SUB:
    case EXPR_MUL:
    case EXPR_MOD:
    case EXPR_DIV:
    case EXPR_NEG:
    case EXPR_ABS:
        return eval_arith(nd, cx, out);
    case EXPR_EQ:
    case EXPR_NE:
    case EXPR_LT:
    case EXPR_LE:
    case EXPR_GT:
    case EXPR_GE:
    case EXPR_EQNS:
        return eval_cmp(nd, cx, out);
    case EXPR_AND:
    case EXPR_OR:
    case EXPR_NOT:
        return eval_logic(nd, cx, out);
    case EXPR_ISNULL:
    case EXPR_ISNOTNULL:
        return eval_isnull(nd, cx, out);
    case EXPR_IN:
        return eval_in(nd, cx, out);
    case EXPR_LIKE:
        return eval_like(nd, cx, out);
    case EXPR_CASE:
    case EXPR_COALESCE:
        return eval_choose(nd, cx, out);
    default: /* strings, dates, casts */
        return expr_eval_func(nd, cx, out);
    }
}

/* ==================================================== operator helpers */

int expr_inbatch_load(expr_inbatch *ib, const ember_batch *in,
                      const expr_where *w)
{
    int nc = rel_host->batch_num_columns(in);
    if (nc < 0)
        nc = 0;
    if (nc + 1 > ib->cap) {
        ember_column *c = realloc(ib->cols, (size_t)(nc + 1) * sizeof *c);
        const char **nm;
        if (!c)
            return expr_fail(w, EMBER_ENOMEM, "out of memory");
        ib->cols = c;
        nm = realloc(ib->names, (size_t)(nc + 1) * sizeof *nm);
        if (!nm)
            return expr_fail(w, EMBER_ENOMEM, "out of memory");
        ib->names = nm;
        ib->cap = nc + 1;
    }
    ib->ncols = nc;
    ib->n = rel_host->batch_num_rows(in);
    for (int i = 0; i < nc; i++) {
        int rc = rel_host->batch_column(in, i, &ib->cols[i]);
        if (rc)
            return expr_fail(w, rc, "cannot read column %d of the input", i);
        ib->names[i] = rel_host->batch_column_name(in, i);
    }
    return 0;
}

void expr_inbatch_free(expr_inbatch *ib)
{
    free(ib->cols);
    free(ib->names);
}

/* a scalar expr_vec as a column of n rows in c */
int expr_materialize(rel_col *c, const expr_vec *v, int64_t n)
{
    int w = rel_type_width(v->type);
    relcol_free(c);
    relcol_init(c, v->type);
    if (v->type == EMBER_TYPE_NULL)
        return 0;
    if (expr_vnull(v, 0)) {
        for (int64_t i = 0; i < n; i++)
            if (relcol_append_null(c))
                return EMBER_ENOMEM;
        return 0;
    }
    if (rel_type_varwidth(v->type)) {
        int32_t len;
        const char *s = expr_vstr(v, 0, &len);
        if (relcol_reserve(c, n, (size_t)len * (size_t)n))
            return EMBER_ENOMEM;
        for (int64_t i = 0; i < n; i++)
            if (relcol_append_str(c, s, (size_t)len))
                return EMBER_ENOMEM;
        return 0;
    }
    if (relcol_reserve(c, n, 0))
        return EMBER_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        memcpy(c->data + i * w, v->data, (size_t)w);
    c->n = n;
    return 0;
}

void expr_vec_view(const expr_vec *v, ember_column *out)
{
    out->type = v->type;
    out->length = v->n;
    out->null_count = v->nulls;
    out->validity = v->nulls ? v->valid : NULL;
    out->offsets = v->off;
    out->data = v->data;
}
