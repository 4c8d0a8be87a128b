/*
 * expr.c -- row-wise relational operators of op_relational and the
 * vectorized expression evaluator they share.
 *
 *   rel.filter     rows where a boolean expression is true
 *   rel.project    one column per named expression
 *   rel.explode    one row per element of split(string, regex)
 *   rel.partition  appends "__part" (hash / range / single / roundrobin)
 *   rel.limit      the first n rows, then EMBER_ESTOP
 *
 * Expressions arrive as S-expressions (docs/dataframe-internals.md) and are
 * compiled once at open() into a tree of `node`s whose function names are
 * resolved to enums and whose literals are decoded.  Evaluation is
 * vectorized: each node evaluates over the whole batch into a `vec` (a
 * typed column view: a borrowed input column, a scalar for literals, or
 * the node's own rel_col buffer, reused from batch to batch), with the
 * switch on types outside the loops.  Scalars are never expanded into
 * columns inside the tree; only a projected scalar is materialized.
 *
 * Types are checked at open() where they are known (calls, literals) and
 * again per batch once the input columns' types are known.
 *
 * Threads: an operator instance is used by one task thread at a time;
 * nothing here is global but constant tables.
 */
#include "rel.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_ROWS 8192 /* rows per emitted batch where we choose */

/* ============================================================= vectors */

/* A typed column view over the rows of one batch.  A scalar holds one
 * value (row 0) standing for every row; its nulls is 0 or n. */
typedef struct vec {
    ember_type type;
    int scalar;
    int64_t n;            /* rows of the batch */
    int64_t nulls;        /* NULL rows */
    const uint8_t *valid; /* NULL: no nulls */
    const int32_t *off;   /* var-width types */
    const void *data;
} vec;

static const uint8_t zero_bytes[16];
static const int32_t zero_off[2];

#define BIT(b, i) (((b)[(i) >> 3] >> ((i)&7)) & 1)
#define CLRBIT(b, i) ((b)[(i) >> 3] &= (uint8_t) ~(1u << ((i)&7)))

static inline int64_t ix(const vec *v, int64_t i)
{
    return v->scalar ? 0 : i;
}

static inline int vnull(const vec *v, int64_t i)
{
    int64_t k = v->scalar ? 0 : i;
    return v->valid && !BIT(v->valid, k);
}

static inline const char *vstr(const vec *v, int64_t i, int32_t *len)
{
    int64_t k = v->scalar ? 0 : i;
    *len = v->off[k + 1] - v->off[k];
    return (const char *)v->data + v->off[k];
}

static void vec_null(vec *out, ember_type t, int64_t n)
{
    out->type = t;
    out->scalar = 1;
    out->n = n;
    out->nulls = n;
    out->valid = zero_bytes;
    out->off = zero_off;
    out->data = zero_bytes;
}

static int64_t count_nulls(const uint8_t *v, int64_t n)
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

/* the fields of out once the node computed `rows` rows (1 for scalars) */
static void vec_set(vec *out, ember_type t, int scalar, int64_t n,
                    const uint8_t *valid, int64_t nulls_rows,
                    const int32_t *off, const void *data)
{
    out->type = t;
    out->scalar = scalar;
    out->n = n;
    out->nulls = scalar ? (nulls_rows ? n : 0) : nulls_rows;
    out->valid = nulls_rows ? valid : NULL;
    out->off = off;
    out->data = data;
}

/* out = the result (rows values: 1 for a scalar) of a function of a that is
 * NULL exactly where a is */
static void vec_like(vec *out, ember_type t, const vec *a, int64_t n,
                     const int32_t *off, const void *data)
{
    vec_set(out, t, a->scalar, n, a->valid, a->scalar ? 0 : a->nulls, off,
            data);
}

/* Is every row of a NULL?  Then out is an all-NULL t (n rows). */
static int all_null(const vec *a, int64_t n, ember_type t, vec *out)
{
    if (a->nulls != n)
        return 0;
    vec_null(out, t, n);
    return 1;
}

/* ================================================================ nodes */

enum {
    OP_COL,
    OP_LIT,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_MOD,
    OP_DIV,
    OP_NEG,
    OP_ABS,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_EQNS,
    OP_AND,
    OP_OR,
    OP_NOT,
    OP_ISNULL,
    OP_ISNOTNULL,
    OP_IN,
    OP_LIKE,
    OP_CAST,
    OP_CASE,
    OP_COALESCE,
    OP_LOWER,
    OP_UPPER,
    OP_LENGTH,
    OP_TRIM,
    OP_LTRIM,
    OP_RTRIM,
    OP_SUBSTR,
    OP_CONCAT,
    OP_YEAR,
    OP_MONTH,
    OP_DAY,
    OP_TODATE,
    OP_DATEADD,
    OP_DATESUB
};

static const struct {
    const char *name;
    int op, amin, amax; /* amax -1: any */
} fns[] = {
    {"add", OP_ADD, 2, 2},
    {"sub", OP_SUB, 2, 2},
    {"mul", OP_MUL, 2, 2},
    {"mod", OP_MOD, 2, 2},
    {"div", OP_DIV, 2, 2},
    {"neg", OP_NEG, 1, 1},
    {"abs", OP_ABS, 1, 1},
    {"eq", OP_EQ, 2, 2},
    {"ne", OP_NE, 2, 2},
    {"lt", OP_LT, 2, 2},
    {"le", OP_LE, 2, 2},
    {"gt", OP_GT, 2, 2},
    {"ge", OP_GE, 2, 2},
    {"eqns", OP_EQNS, 2, 2},
    {"and", OP_AND, 2, -1},
    {"or", OP_OR, 2, -1},
    {"not", OP_NOT, 1, 1},
    {"is_null", OP_ISNULL, 1, 1},
    {"is_not_null", OP_ISNOTNULL, 1, 1},
    {"in", OP_IN, 1, -1},
    {"like", OP_LIKE, 2, 2},
    {"cast", OP_CAST, 1, 1},
    {"case", OP_CASE, 1, -1},
    {"coalesce", OP_COALESCE, 1, -1},
    {"lower", OP_LOWER, 1, 1},
    {"upper", OP_UPPER, 1, 1},
    {"length", OP_LENGTH, 1, 1},
    {"trim", OP_TRIM, 1, 1},
    {"ltrim", OP_LTRIM, 1, 1},
    {"rtrim", OP_RTRIM, 1, 1},
    {"substring", OP_SUBSTR, 2, 3},
    {"concat", OP_CONCAT, 1, -1},
    {"year", OP_YEAR, 1, 1},
    {"month", OP_MONTH, 1, 1},
    {"day", OP_DAY, 1, 1},
    {"to_date", OP_TODATE, 1, 1},
    {"date_add", OP_DATEADD, 2, 2},
    {"date_sub", OP_DATESUB, 2, 2},
};

/* a compiled LIKE pattern: bytes with a kind each */
enum { LK_BYTE, LK_ONE, LK_ANY };
typedef struct likepat {
    int n;
    uint8_t *kind;
    uint8_t *byte;
    /* fast shapes: 0 general, 1 equals, 2 prefix%, 3 %suffix, 4 %infix% */
    int shape;
    const char *lit;
    size_t litlen;
} likepat;

typedef struct node {
    int op;
    int type; /* result type; OP_COL: -1 (the batch decides) */
    int nargs;
    struct node **args;
    vec *av; /* arguments' values during evaluation */
    int *at; /* arguments' types during checks */
    int col; /* OP_COL */
    /* OP_LIT */
    int lnull;
    union {
        uint8_t b;
        int32_t i32;
        int64_t i64;
        double d;
    } lv;
    int64_t li; /* integer value of integer-like literals */
    double ld;  /* numeric value of numeric literals */
    char *ls;   /* string literal */
    int32_t loff[2];
    likepat *like; /* OP_LIKE */
    rel_col buf;   /* result storage, reused */
    uint8_t *tmp;  /* scratch */
    size_t tmpcap;
} node;

static void likepat_free(likepat *p)
{
    if (!p)
        return;
    free(p->kind);
    free(p->byte);
    free(p);
}

static void node_free(node *nd)
{
    if (!nd)
        return;
    for (int i = 0; nd->args && i < nd->nargs; i++)
        node_free(nd->args[i]);
    free(nd->args);
    free(nd->av);
    free(nd->at);
    free(nd->ls);
    likepat_free(nd->like);
    relcol_free(&nd->buf);
    free(nd->tmp);
    free(nd);
}

static int tmp_need(node *nd, size_t bytes)
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

/* ------------------------------------------------------------- errors */

/* Where an error is reported: the operator and its parameter. */
typedef struct where {
    const char *op;
    const char *param;
    ember_error *err;
} where;

static int fail(const where *w, int code, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
static int fail(const where *w, int code, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->param)
        rel_host->seterr(w->err, code, "%s: parameter %s: %s", w->op, w->param,
                         msg);
    else
        rel_host->seterr(w->err, code, "%s: %s", w->op, msg);
    return code;
}

/* ----------------------------------------------------------- literals */

static int parse_date(const char *s, size_t len, int32_t *days);
static int parse_ts(const char *s, size_t len, int64_t *us);

static int sym_eq_ci(const rel_sx *x, const char *name)
{
    return x->kind == SX_SYM && strcasecmp(x->s, name) == 0;
}

/* (lit T V) into nd */
static int compile_lit(const rel_sx *x, node *nd, const where *w)
{
    const rel_sx *v;
    int t;
    if (x->n != 3 || x->items[1]->kind != SX_SYM)
        return fail(w, EMBER_EINVAL, "lit needs (lit TYPE VALUE)");
    t = rel_type_from_name(x->items[1]->s, strlen(x->items[1]->s));
    if (t < 0 || t == EMBER_TYPE_BINARY || t == EMBER_TYPE_LUAVALUE)
        return fail(w, EMBER_EINVAL, "lit: unknown type '%s'", x->items[1]->s);
    nd->op = OP_LIT;
    nd->type = t;
    v = x->items[2];
    if (rel_sx_is(v, "null") || t == EMBER_TYPE_NULL) {
        if (!rel_sx_is(v, "null"))
            return fail(w, EMBER_EINVAL, "lit of type null must be null");
        nd->lnull = 1;
        return 0;
    }
    switch (t) {
    case EMBER_TYPE_BOOL:
        if (sym_eq_ci(v, "true"))
            nd->lv.b = 1;
        else if (!sym_eq_ci(v, "false"))
            return fail(w, EMBER_EINVAL, "boolean lit must be true or false");
        nd->li = nd->lv.b;
        nd->ld = nd->lv.b;
        return 0;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_TIMESTAMP:
        if (v->kind == SX_INT) {
            nd->li = v->i;
        } else if (v->kind == SX_STR && t == EMBER_TYPE_DATE32) {
            int32_t d;
            if (parse_date(v->s, v->len, &d))
                return fail(w, EMBER_EINVAL, "bad date lit \"%s\"", v->s);
            nd->li = d;
        } else if (v->kind == SX_STR && t == EMBER_TYPE_TIMESTAMP) {
            if (parse_ts(v->s, v->len, &nd->li))
                return fail(w, EMBER_EINVAL, "bad timestamp lit \"%s\"", v->s);
        } else {
            return fail(w, EMBER_EINVAL, "%s lit needs an integer",
                        rel_type_name((ember_type)t));
        }
        if ((t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32) &&
            (nd->li < INT32_MIN || nd->li > INT32_MAX))
            return fail(w, EMBER_EINVAL, "%s lit out of range: %lld",
                        rel_type_name((ember_type)t), (long long)nd->li);
        if (t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32)
            nd->lv.i32 = (int32_t)nd->li;
        else
            nd->lv.i64 = nd->li;
        nd->ld = (double)nd->li;
        return 0;
    case EMBER_TYPE_DOUBLE:
        if (v->kind != SX_INT && v->kind != SX_NUM)
            return fail(w, EMBER_EINVAL, "double lit needs a number");
        nd->lv.d = v->d;
        nd->ld = v->d;
        return 0;
    case EMBER_TYPE_STRING:
        if (v->kind != SX_STR)
            return fail(w, EMBER_EINVAL, "string lit needs a \"string\"");
        if (v->len > INT32_MAX)
            return fail(w, EMBER_ETOOBIG, "string lit too long");
        nd->ls = malloc(v->len + 1);
        if (!nd->ls)
            return fail(w, EMBER_ENOMEM, "out of memory");
        memcpy(nd->ls, v->s, v->len + 1);
        nd->loff[1] = (int32_t)v->len;
        return 0;
    default:
        return fail(w, EMBER_EINVAL, "bad lit");
    }
}

/* ------------------------------------------------------------- LIKE */

static int like_compile(node *nd, const char *p, size_t len, const where *w)
{
    likepat *lp = calloc(1, sizeof *lp);
    int nany = 0, none = 0, lead = 0, trail = 0, nbytes = 0;
    if (!lp)
        return fail(w, EMBER_ENOMEM, "out of memory");
    nd->like = lp;
    lp->kind = malloc(len + 1);
    lp->byte = malloc(len + 1);
    if (!lp->kind || !lp->byte)
        return fail(w, EMBER_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '\\') {
            if (i + 1 == len)
                return fail(w, EMBER_EINVAL,
                            "like pattern ends with an escape '\\'");
            lp->kind[lp->n] = LK_BYTE;
            lp->byte[lp->n++] = (uint8_t)p[++i];
            nbytes++;
        } else if (c == '%') {
            if (lp->n > 0 && lp->kind[lp->n - 1] == LK_ANY)
                continue; /* %% is % */
            lp->kind[lp->n] = LK_ANY;
            lp->byte[lp->n++] = 0;
            nany++;
        } else if (c == '_') {
            lp->kind[lp->n] = LK_ONE;
            lp->byte[lp->n++] = 0;
            none++;
        } else {
            lp->kind[lp->n] = LK_BYTE;
            lp->byte[lp->n++] = c;
            nbytes++;
        }
    }
    /* fast shapes when there is no '_' and '%' only at the ends */
    if (none == 0) {
        lead = lp->n > 0 && lp->kind[0] == LK_ANY;
        trail = lp->n > lead && lp->kind[lp->n - 1] == LK_ANY;
        if (nany == lead + trail) {
            lp->shape = lead && trail ? 4 : lead ? 3 : trail ? 2 : 1;
            lp->lit = (const char *)lp->byte + lead;
            lp->litlen = (size_t)nbytes;
        }
    }
    return 0;
}

static inline size_t u8len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static int like_match(const likepat *lp, const uint8_t *s, size_t sl)
{
    size_t si = 0, mark = 0;
    int pi = 0, star = -1;
    switch (lp->shape) {
    case 1:
        return sl == lp->litlen && memcmp(s, lp->lit, sl) == 0;
    case 2:
        return sl >= lp->litlen && memcmp(s, lp->lit, lp->litlen) == 0;
    case 3:
        return sl >= lp->litlen &&
               memcmp(s + sl - lp->litlen, lp->lit, lp->litlen) == 0;
    case 4:
        return lp->litlen == 0 ||
               (sl >= lp->litlen && memmem(s, sl, lp->lit, lp->litlen));
    default:
        break;
    }
    while (si < sl) {
        if (pi < lp->n && lp->kind[pi] == LK_ONE) {
            si += u8len(s[si]);
            pi++;
        } else if (pi < lp->n && lp->kind[pi] == LK_BYTE &&
                   lp->byte[pi] == s[si]) {
            si++;
            pi++;
        } else if (pi < lp->n && lp->kind[pi] == LK_ANY) {
            star = pi++;
            mark = si;
        } else if (star >= 0) {
            pi = star + 1;
            mark += u8len(s[mark]);
            si = mark;
        } else {
            return 0;
        }
    }
    if (si > sl) /* '_' ran over a truncated character */
        return 0;
    while (pi < lp->n && lp->kind[pi] == LK_ANY)
        pi++;
    return pi == lp->n;
}

/* ------------------------------------------------------------ compile */

static node *compile(const rel_sx *x, const where *w, int depth);

static int type_of_name(const rel_sx *x)
{
    if (!x || x->kind != SX_SYM)
        return -1;
    return rel_type_from_name(x->s, strlen(x->s));
}

static int check_node(const node *nd, const int *at, const where *w);

static node *compile(const rel_sx *x, const where *w, int depth)
{
    node *nd;
    int t, fi = -1;
    if (depth > 150) {
        fail(w, EMBER_EINVAL, "expression nested too deeply");
        return NULL;
    }
    if (x->kind != SX_LIST || x->n == 0 || x->items[0]->kind != SX_SYM) {
        fail(w, EMBER_EINVAL, "expected an expression (FN ...), got %s",
             x->kind == SX_LIST ? "a list"
             : x->s             ? x->s
                                : "a number");
        return NULL;
    }
    nd = calloc(1, sizeof *nd);
    if (!nd) {
        fail(w, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    relcol_init(&nd->buf, EMBER_TYPE_NULL);
    if (rel_sx_head(x, "col")) {
        nd->op = OP_COL;
        nd->type = -1;
        if (x->n != 2 || x->items[1]->kind != SX_INT || x->items[1]->i < 0 ||
            x->items[1]->i > INT32_MAX) {
            fail(w, EMBER_EINVAL, "col needs (col INDEX), INDEX >= 0");
            goto bad;
        }
        nd->col = (int)x->items[1]->i;
        return nd;
    }
    if (rel_sx_head(x, "lit")) {
        if (compile_lit(x, nd, w))
            goto bad;
        return nd;
    }
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcmp(fns[i].name, x->items[0]->s) == 0)
            fi = (int)i;
    if (fi < 0) {
        fail(w, EMBER_EINVAL, "unknown function '%s'", x->items[0]->s);
        goto bad;
    }
    nd->op = fns[fi].op;
    if (x->n < 2 || (t = type_of_name(x->items[1])) < 0 ||
        t == EMBER_TYPE_LUAVALUE) {
        fail(w, EMBER_EINVAL, "%s: expected a result type after the name",
             fns[fi].name);
        goto bad;
    }
    nd->type = t;
    nd->nargs = x->n - 2;
    if (nd->nargs < fns[fi].amin ||
        (fns[fi].amax >= 0 && nd->nargs > fns[fi].amax)) {
        if (fns[fi].amax == fns[fi].amin)
            fail(w, EMBER_EINVAL, "%s takes %d argument%s, got %d",
                 fns[fi].name, fns[fi].amin, fns[fi].amin == 1 ? "" : "s",
                 nd->nargs);
        else
            fail(w, EMBER_EINVAL, "%s takes %d%s%d arguments, got %d",
                 fns[fi].name, fns[fi].amin,
                 fns[fi].amax < 0 ? " or more" : "-",
                 fns[fi].amax < 0 ? 0 : fns[fi].amax, nd->nargs);
        goto bad;
    }
    nd->args = calloc((size_t)nd->nargs, sizeof *nd->args);
    nd->av = calloc((size_t)nd->nargs, sizeof *nd->av);
    nd->at = calloc((size_t)nd->nargs, sizeof *nd->at);
    if (!nd->args || !nd->av || !nd->at) {
        nd->nargs = 0;
        fail(w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    for (int i = 0; i < nd->nargs; i++) {
        nd->args[i] = compile(x->items[i + 2], w, depth + 1);
        if (!nd->args[i]) {
            nd->nargs = i; /* free what was built */
            goto bad;
        }
        nd->at[i] = nd->args[i]->type;
    }
    if (nd->op == OP_IN)
        for (int i = 1; i < nd->nargs; i++)
            if (nd->args[i]->op != OP_LIT) {
                fail(w, EMBER_EINVAL, "in: the list must hold literals");
                goto bad;
            }
    if (nd->op == OP_LIKE) {
        node *p = nd->args[1];
        if (p->op != OP_LIT || p->type != EMBER_TYPE_STRING || p->lnull) {
            fail(w, EMBER_EINVAL, "like: the pattern must be a string lit");
            goto bad;
        }
        if (like_compile(nd, p->ls, (size_t)p->loff[1], w))
            goto bad;
    }
    if (check_node(nd, nd->at, w))
        goto bad;
    return nd;
bad:
    node_free(nd);
    return NULL;
}

/* ------------------------------------------------------- type checks */

static int numeric_t(int t)
{
    return t == EMBER_TYPE_INT32 || t == EMBER_TYPE_INT64 ||
           t == EMBER_TYPE_DOUBLE;
}

static int cast_ok(int from, int to)
{
    int fnum = numeric_t(from) || from == EMBER_TYPE_BOOL;
    int tnum = numeric_t(to) || to == EMBER_TYPE_BOOL;
    if (from == EMBER_TYPE_LUAVALUE || to == EMBER_TYPE_LUAVALUE)
        return 0;
    if (from == to || from == EMBER_TYPE_NULL || to == EMBER_TYPE_STRING)
        return to != EMBER_TYPE_BINARY && to != EMBER_TYPE_NULL;
    if (from == EMBER_TYPE_STRING || from == EMBER_TYPE_BINARY)
        return to != EMBER_TYPE_NULL;
    if (fnum && tnum)
        return 1;
    if (from == EMBER_TYPE_TIMESTAMP)
        return tnum || to == EMBER_TYPE_DATE32;
    if (to == EMBER_TYPE_TIMESTAMP)
        return numeric_t(from) || from == EMBER_TYPE_DATE32;
    return 0;
}

/* is a value of type `got` acceptable where `want` is expected?  -1 is
 * "not known yet", NULL fits anywhere */
static int fits(int got, int want)
{
    return got < 0 || got == want || got == EMBER_TYPE_NULL;
}

static const char *tname(int t)
{
    return t < 0 ? "?" : rel_type_name((ember_type)t);
}

static const char *opname(int op)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].op == op)
            return fns[i].name;
    return op == OP_COL ? "col" : "lit";
}

static int check_node(const node *nd, const int *at, const where *w)
{
    int t = nd->type, na = nd->nargs;
    const char *fn = opname(nd->op);
    int bad = -1;
    switch (nd->op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_MOD:
    case OP_NEG:
    case OP_ABS:
        if (!numeric_t(t))
            return fail(w, EMBER_EINVAL,
                        "%s: result type must be int, "
                        "bigint or double, not %s",
                        fn, tname(t));
        for (int i = 0; i < na; i++)
            if (!fits(at[i], t))
                bad = i;
        break;
    case OP_DIV:
        if (t != EMBER_TYPE_DOUBLE)
            return fail(w, EMBER_EINVAL, "div: result type must be double");
        for (int i = 0; i < na; i++)
            if (!fits(at[i], t))
                bad = i;
        break;
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_EQNS:
    case OP_IN:
        if (t != EMBER_TYPE_BOOL)
            return fail(w, EMBER_EINVAL, "%s: result type must be boolean", fn);
        for (int i = 1; i < na; i++)
            if (at[0] >= 0 && at[0] != EMBER_TYPE_NULL && !fits(at[i], at[0]))
                return fail(w, EMBER_EINVAL,
                            "%s: arguments differ in type (%s vs %s)", fn,
                            tname(at[0]), tname(at[i]));
        for (int i = 0; i < na; i++)
            if (at[i] == EMBER_TYPE_LUAVALUE)
                bad = i;
        break;
    case OP_AND:
    case OP_OR:
    case OP_NOT:
        if (t != EMBER_TYPE_BOOL)
            return fail(w, EMBER_EINVAL, "%s: result type must be boolean", fn);
        for (int i = 0; i < na; i++)
            if (!fits(at[i], EMBER_TYPE_BOOL))
                bad = i;
        break;
    case OP_ISNULL:
    case OP_ISNOTNULL:
        if (t != EMBER_TYPE_BOOL)
            return fail(w, EMBER_EINVAL, "%s: result type must be boolean", fn);
        break;
    case OP_LIKE:
        if (t != EMBER_TYPE_BOOL)
            return fail(w, EMBER_EINVAL, "like: result type must be boolean");
        if (!fits(at[0], EMBER_TYPE_STRING))
            bad = 0;
        break;
    case OP_CAST:
        if (at[0] >= 0 && !cast_ok(at[0], t))
            return fail(w, EMBER_EINVAL, "cast: cannot cast %s to %s",
                        tname(at[0]), tname(t));
        break;
    case OP_CASE:
        for (int i = 0; i + 1 < na; i += 2) {
            if (!fits(at[i], EMBER_TYPE_BOOL))
                bad = i;
            if (!fits(at[i + 1], t))
                bad = i + 1;
        }
        if (na % 2 && !fits(at[na - 1], t))
            bad = na - 1;
        break;
    case OP_COALESCE:
        for (int i = 0; i < na; i++)
            if (!fits(at[i], t))
                bad = i;
        break;
    case OP_LOWER:
    case OP_UPPER:
    case OP_TRIM:
    case OP_LTRIM:
    case OP_RTRIM:
    case OP_CONCAT:
    case OP_LENGTH:
    case OP_SUBSTR:
        if (t != (nd->op == OP_LENGTH ? EMBER_TYPE_INT32 : EMBER_TYPE_STRING))
            return fail(w, EMBER_EINVAL, "%s: result type must be %s", fn,
                        nd->op == OP_LENGTH ? "int" : "string");
        for (int i = 0; i < na; i++) {
            int want = nd->op == OP_SUBSTR && i > 0 ? EMBER_TYPE_INT32
                                                    : EMBER_TYPE_STRING;
            if (!fits(at[i], want) &&
                !(want == EMBER_TYPE_INT32 && at[i] == EMBER_TYPE_INT64))
                bad = i;
        }
        break;
    case OP_YEAR:
    case OP_MONTH:
    case OP_DAY:
        if (t != EMBER_TYPE_INT32)
            return fail(w, EMBER_EINVAL, "%s: result type must be int", fn);
        if (!fits(at[0], EMBER_TYPE_DATE32) && at[0] != EMBER_TYPE_TIMESTAMP)
            bad = 0;
        break;
    case OP_TODATE:
        if (t != EMBER_TYPE_DATE32)
            return fail(w, EMBER_EINVAL, "to_date: result type must be date");
        if (!fits(at[0], EMBER_TYPE_STRING) && at[0] != EMBER_TYPE_DATE32 &&
            at[0] != EMBER_TYPE_TIMESTAMP)
            bad = 0;
        break;
    case OP_DATEADD:
    case OP_DATESUB:
        if (t != EMBER_TYPE_DATE32)
            return fail(w, EMBER_EINVAL, "%s: result type must be date", fn);
        if (!fits(at[0], EMBER_TYPE_DATE32))
            bad = 0;
        if (!fits(at[1], EMBER_TYPE_INT32) && at[1] != EMBER_TYPE_INT64)
            bad = 1;
        break;
    default:
        break;
    }
    if (bad >= 0)
        return fail(w, EMBER_EINVAL, "%s %s: argument %d has type %s", fn,
                    tname(t), bad + 1, tname(at[bad]));
    return 0;
}

/* Parse and compile the expression text of parameter `w->param`. */
static node *compile_text(const char *text, const where *w)
{
    ember_error e = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e);
    node *nd;
    if (!x) {
        fail(w, EMBER_EINVAL, "%s", e.msg);
        return NULL;
    }
    nd = compile(x, w, 0);
    rel_sx_free(x);
    return nd;
}

/* ====================================================== dates and text */

static int digits(const char *s, size_t len, size_t *p, int min, int max,
                  int64_t *out)
{
    int n = 0;
    int64_t v = 0;
    while (*p < len && n < max && s[*p] >= '0' && s[*p] <= '9') {
        v = v * 10 + (s[*p] - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n >= min ? 0 : -1;
}

static void trim_ws(const char **s, size_t *len)
{
    while (*len && (unsigned char)(*s)[0] <= ' ') {
        (*s)++;
        (*len)--;
    }
    while (*len && (unsigned char)(*s)[*len - 1] <= ' ')
        (*len)--;
}

/* Casts from strings follow Spark's lenient cast grammar, not the CSV
 * reader's strict one (scan_parse_date): the parsers stay apart, the
 * calendar arithmetic is rel.h's. */

/* [+-]yyyy[-m[m][-d[d]]]; *p is left after the date */
static int parse_date_part(const char *s, size_t len, size_t *p, int64_t *days)
{
    int64_t y, m = 1, d = 1;
    int neg = 0;
    if (*p < len && (s[*p] == '-' || s[*p] == '+'))
        neg = s[(*p)++] == '-';
    if (digits(s, len, p, 4, 6, &y))
        return -1;
    if (neg)
        y = -y;
    if (*p < len && s[*p] == '-') {
        (*p)++;
        if (digits(s, len, p, 1, 2, &m))
            return -1;
        if (*p < len && s[*p] == '-') {
            (*p)++;
            if (digits(s, len, p, 1, 2, &d))
                return -1;
        }
    }
    if (m < 1 || m > 12 || d < 1 || d > rel_days_in_month(y, (int)m))
        return -1;
    *days = rel_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* 'yyyy-MM-dd', optionally followed by ' ' or 'T' and anything (kept: the
 * date part) */
static int parse_date(const char *s, size_t len, int32_t *out)
{
    size_t p = 0;
    int64_t days;
    trim_ws(&s, &len);
    if (parse_date_part(s, len, &p, &days))
        return -1;
    if (p < len && s[p] != ' ' && s[p] != 'T')
        return -1;
    if (days < INT32_MIN || days > INT32_MAX)
        return -1;
    *out = (int32_t)days;
    return 0;
}

/* 'yyyy-MM-dd[( |T)HH:mm[:ss[.ffffff]]][Z]', UTC */
static int parse_ts(const char *s, size_t len, int64_t *out)
{
    size_t p = 0;
    int64_t days, h = 0, mi = 0, sec = 0, frac = 0;
    trim_ws(&s, &len);
    if (parse_date_part(s, len, &p, &days))
        return -1;
    if (p < len && (s[p] == ' ' || s[p] == 'T')) {
        p++;
        if (digits(s, len, &p, 1, 2, &h) || p >= len || s[p++] != ':' ||
            digits(s, len, &p, 1, 2, &mi))
            return -1;
        if (p < len && s[p] == ':') {
            p++;
            if (digits(s, len, &p, 1, 2, &sec))
                return -1;
            if (p < len && s[p] == '.') {
                int n = 0;
                p++;
                while (p < len && s[p] >= '0' && s[p] <= '9') {
                    if (n < 6) {
                        frac = frac * 10 + (s[p] - '0');
                        n++;
                    }
                    p++;
                }
                if (n == 0)
                    return -1;
                while (n++ < 6)
                    frac *= 10;
            }
        }
        if (p < len && s[p] == 'Z')
            p++;
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
    }
    if (p != len)
        return -1;
    *out = days * REL_US_PER_DAY + h * 3600 * REL_US_PER_SEC +
           mi * 60 * REL_US_PER_SEC + sec * REL_US_PER_SEC + frac;
    return 0;
}

/* [+-]digits[.digits], spaces trimmed; 0 ok */
static int parse_i64(const char *s, size_t len, int64_t lo, int64_t hi,
                     int64_t *out)
{
    size_t p = 0;
    int neg = 0, nd = 0;
    uint64_t v = 0, lim;
    trim_ws(&s, &len);
    if (p < len && (s[p] == '-' || s[p] == '+'))
        neg = s[p++] == '-';
    lim = neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi;
    while (p < len && s[p] >= '0' && s[p] <= '9') {
        unsigned dgt = (unsigned)(s[p++] - '0');
        if (v > (lim - dgt) / 10)
            return -1;
        v = v * 10 + dgt;
        nd++;
    }
    if (!nd)
        return -1;
    if (p < len && s[p] == '.') {
        p++;
        while (p < len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    if (p != len)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int parse_f64(node *nd, const char *s, size_t len, double *out)
{
    char *end;
    trim_ws(&s, &len);
    if (!len || tmp_need(nd, len + 1))
        return -1;
    memcpy(nd->tmp, s, len);
    nd->tmp[len] = 0;
    {
        const char *t = (const char *)nd->tmp + (*s == '+' || *s == '-');
        if (strcasecmp(t, "nan") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcasecmp(t, "infinity") == 0 || strcasecmp(t, "inf") == 0) {
            *out = *s == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        if (!isdigit((unsigned char)*t) && *t != '.')
            return -1; /* no hex-free forms like "nan(...)" */
        if (len > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
            return -1;
    }
    errno = 0;
    *out = strtod((const char *)nd->tmp, &end);
    if (*end == 'd' || *end == 'D' || *end == 'f' || *end == 'F')
        end++; /* Java's suffixes */
    return *end ? -1 : 0;
}

static int parse_bool(const char *s, size_t len, uint8_t *out)
{
    static const char *const t[] = {"true", "t", "yes", "y", "1"};
    static const char *const f[] = {"false", "f", "no", "n", "0"};
    trim_ws(&s, &len);
    for (int i = 0; i < 5; i++) {
        if (strlen(t[i]) == len && strncasecmp(s, t[i], len) == 0) {
            *out = 1;
            return 0;
        }
        if (strlen(f[i]) == len && strncasecmp(s, f[i], len) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* ========================================================= evaluation */

typedef struct ectx {
    const ember_column *cols;
    int ncols;
    int64_t n;
    where w;
} ectx;

static int eval(node *nd, ectx *cx, vec *out);

/* nd->buf ready for `rows` fixed-width values of the node's type */
static void *res_fixed(node *nd, ember_type t, int64_t rows)
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
static uint8_t *res_valid(node *nd, int64_t rows)
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
static uint8_t *res_valid_from(node *nd, const vec *v, int64_t rows)
{
    uint8_t *b = res_valid(nd, rows);
    if (!b)
        return NULL;
    if (v->valid)
        memcpy(b, v->valid, (size_t)(rows + 7) / 8);
    else
        memset(b, 0xff, (size_t)(rows + 7) / 8);
    return b;
}

/* string output: begin, put per row, done */
static int sb_begin(node *nd, int64_t rows, size_t est)
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

static inline int sb_put(rel_col *c, int64_t i, const void *s, size_t len)
{
    if (c->data_len + len > c->data_cap) {
        int rc = relcol_reserve(c, 0, len);
        if (rc)
            return rc;
    }
    if (len)
        memcpy(c->data + c->data_len, s, len);
    c->data_len += len;
    c->off[i + 1] = (int32_t)c->data_len;
    return 0;
}

static inline void sb_null(rel_col *c, int64_t i)
{
    c->off[i + 1] = (int32_t)c->data_len;
}

static int nomem(ectx *cx)
{
    return fail(&cx->w, EMBER_ENOMEM, "out of memory evaluating an expression");
}

/* Validity of a NULL-propagating function of args a[0..na) with result type
 * t: returns 1 when every row is NULL (out set to an all-NULL t), -1 when
 * out of memory, else 0 with *valid / *nulls (rows = 1 when all args are
 * scalar). */
static int prop_valid(node *nd, ectx *cx, const vec *a, int na, int64_t rows,
                      ember_type t, vec *out, const uint8_t **valid,
                      int64_t *nulls)
{
    const uint8_t *one = NULL;
    int many = 0;
    for (int k = 0; k < na; k++) {
        if (a[k].nulls == 0)
            continue;
        if (a[k].scalar || a[k].nulls == cx->n) {
            vec_null(out, t, cx->n);
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
        uint8_t *b = res_valid(nd, rows);
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
    *nulls = count_nulls(*valid, rows);
    return 0;
}

static int all_scalar(const vec *a, int na)
{
    for (int k = 0; k < na; k++)
        if (!a[k].scalar)
            return 0;
    return 1;
}

/* r[i] = EXPR(x, y) with x from vec A, y from vec B (columns or scalars) */
#define BINLOOP(RT, AT, BT, A, B, R, N, EXPR)                                  \
    do {                                                                       \
        const AT *pa_ = (const AT *)(A)->data;                                 \
        const BT *pb_ = (const BT *)(B)->data;                                 \
        RT *r_ = (RT *)(R);                                                    \
        if (!(A)->scalar && !(B)->scalar) {                                    \
            for (int64_t i_ = 0; i_ < (N); i_++) {                             \
                AT x = pa_[i_];                                                \
                BT y = pb_[i_];                                                \
                r_[i_] = (RT)(EXPR);                                           \
            }                                                                  \
        } else if (!(A)->scalar) {                                             \
            BT y = pb_[0];                                                     \
            for (int64_t i_ = 0; i_ < (N); i_++) {                             \
                AT x = pa_[i_];                                                \
                r_[i_] = (RT)(EXPR);                                           \
            }                                                                  \
        } else if (!(B)->scalar) {                                             \
            AT x = pa_[0];                                                     \
            for (int64_t i_ = 0; i_ < (N); i_++) {                             \
                BT y = pb_[i_];                                                \
                r_[i_] = (RT)(EXPR);                                           \
            }                                                                  \
        } else {                                                               \
            AT x = pa_[0];                                                     \
            BT y = pb_[0];                                                     \
            r_[0] = (RT)(EXPR);                                                \
        }                                                                      \
    } while (0)

#define UNLOOP(RT, AT, A, R, ROWS, EXPR)                                       \
    do {                                                                       \
        const AT *pa_ = (const AT *)(A)->data;                                 \
        RT *r_ = (RT *)(R);                                                    \
        for (int64_t i_ = 0; i_ < (ROWS); i_++) {                              \
            AT x = pa_[i_];                                                    \
            r_[i_] = (RT)(EXPR);                                               \
        }                                                                      \
    } while (0)

/* is row i of b (an int, bigint or double divisor) zero? */
static inline int zero_at(const vec *b, int64_t i)
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
static int zero_to_null(node *nd, const vec *b, int64_t rows,
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
        vec tmp = {0};
        tmp.valid = *valid;
        if (!(v = res_valid_from(nd, &tmp, rows)))
            return -1;
    } else {
        v = nd->buf.valid;
    }
    for (int64_t i = 0; i < rows; i++)
        if (zero_at(b, i))
            CLRBIT(v, i);
    *valid = v;
    *nulls = count_nulls(v, rows);
    return 0;
}

static int scalar_zero(const vec *b)
{
    return zero_at(b, 0);
}

static int eval_arith(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0], *b = nd->nargs > 1 ? &nd->av[1] : NULL;
    int sc = all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    void *r;
    int t = nd->type, p;
    p = prop_valid(nd, cx, nd->av, nd->nargs, rows, (ember_type)t, out, &valid,
                   &nulls);
    if (p)
        return p < 0 ? nomem(cx) : 0;
    if (b && (nd->op == OP_MOD || nd->op == OP_DIV) && b->scalar &&
        scalar_zero(b)) {
        vec_null(out, (ember_type)t, cx->n);
        return 0;
    }
    if (!(r = res_fixed(nd, (ember_type)t, rows)))
        return nomem(cx);
#define ARITH_INT(T, UT)                                                       \
    switch (nd->op) {                                                          \
    case OP_ADD:                                                               \
        BINLOOP(T, T, T, a, b, r, rows, (UT)x + (UT)y);                        \
        break;                                                                 \
    case OP_SUB:                                                               \
        BINLOOP(T, T, T, a, b, r, rows, (UT)x - (UT)y);                        \
        break;                                                                 \
    case OP_MUL:                                                               \
        BINLOOP(T, T, T, a, b, r, rows, (UT)x *(UT)y);                         \
        break;                                                                 \
    case OP_MOD:                                                               \
        BINLOOP(T, T, T, a, b, r, rows, (y == 0 || y == -1) ? 0 : x % y);      \
        break;                                                                 \
    case OP_NEG:                                                               \
        UNLOOP(T, T, a, r, rows, (UT)0 - (UT)x);                               \
        break;                                                                 \
    case OP_ABS:                                                               \
        UNLOOP(T, T, a, r, rows, x < 0 ? (UT)0 - (UT)x : (UT)x);               \
        break;                                                                 \
    }
    if (t == EMBER_TYPE_INT32) {
        ARITH_INT(int32_t, uint32_t)
    } else if (t == EMBER_TYPE_INT64) {
        ARITH_INT(int64_t, uint64_t)
    } else {
        switch (nd->op) {
        case OP_ADD:
            BINLOOP(double, double, double, a, b, r, rows, x + y);
            break;
        case OP_SUB:
            BINLOOP(double, double, double, a, b, r, rows, x - y);
            break;
        case OP_MUL:
            BINLOOP(double, double, double, a, b, r, rows, x *y);
            break;
        case OP_MOD:
            BINLOOP(double, double, double, a, b, r, rows,
                    y == 0 ? 0 : fmod(x, y));
            break;
        case OP_DIV:
            BINLOOP(double, double, double, a, b, r, rows, y == 0 ? 0 : x / y);
            break;
        case OP_NEG:
            UNLOOP(double, double, a, r, rows, -x);
            break;
        case OP_ABS:
            UNLOOP(double, double, a, r, rows, fabs(x));
            break;
        }
    }
#undef ARITH_INT
    if ((nd->op == OP_MOD || nd->op == OP_DIV) &&
        zero_to_null(nd, b, rows, &valid, &nulls))
        return nomem(cx);
    vec_set(out, (ember_type)t, sc, cx->n, valid, nulls, NULL, r);
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
static void cmp_rows(const vec *a, const vec *b, int64_t rows, int eqonly,
                     int8_t *r)
{
    switch (a->type) {
    case EMBER_TYPE_BOOL:
        BINLOOP(int8_t, uint8_t, uint8_t, a, b, r, rows, (x > y) - (x < y));
        break;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        BINLOOP(int8_t, int32_t, int32_t, a, b, r, rows, (x > y) - (x < y));
        break;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        BINLOOP(int8_t, int64_t, int64_t, a, b, r, rows, (x > y) - (x < y));
        break;
    case EMBER_TYPE_DOUBLE:
        BINLOOP(int8_t, double, double, a, b, r, rows, dcmp(x, y));
        break;
    default:
        for (int64_t i = 0; i < rows; i++) {
            int32_t la, lb;
            const char *sa = vstr(a, i, &la), *sb = vstr(b, i, &lb);
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

static int eval_cmp(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0], *b = &nd->av[1];
    int sc = all_scalar(nd->av, 2);
    int64_t rows = sc ? 1 : cx->n, nulls = 0;
    const uint8_t *valid = NULL;
    uint8_t *r;
    int op = nd->op;
    if (op != OP_EQNS) {
        int p = prop_valid(nd, cx, nd->av, 2, rows, EMBER_TYPE_BOOL, out,
                           &valid, &nulls);
        if (p)
            return p < 0 ? nomem(cx) : 0;
    }
    if (!(r = res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return nomem(cx);
    if (a->type == EMBER_TYPE_NULL || b->type == EMBER_TYPE_NULL) {
        /* only eqns gets here: true where both are NULL */
        for (int64_t i = 0; i < rows; i++)
            r[i] = (uint8_t)(vnull(a, i) && vnull(b, i));
        vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, NULL, 0, NULL, r);
        return 0;
    }
    cmp_rows(a, b, rows, op == OP_EQ || op == OP_NE || op == OP_EQNS,
             (int8_t *)r);
    if (op == OP_EQNS) {
        for (int64_t i = 0; i < rows; i++) {
            int na = vnull(a, i), nb = vnull(b, i);
            r[i] = (uint8_t)(na || nb ? na && nb : r[i] == 0);
        }
    } else {
        const uint8_t *lut = cmp_lut[op - OP_EQ];
        for (int64_t i = 0; i < rows; i++)
            r[i] = lut[(int8_t)r[i] + 1];
    }
    vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, valid, nulls, NULL, r);
    return 0;
}

/* ------------------------------------------------------------- logic */

static int eval_logic(node *nd, ectx *cx, vec *out)
{
    int sc = all_scalar(nd->av, nd->nargs), anynull = 0;
    int64_t rows = sc ? 1 : cx->n;
    uint8_t *r, *v;
    int isand = nd->op == OP_AND;
    if (!(r = res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return nomem(cx);
    if (nd->op == OP_NOT) {
        const vec *a = &nd->av[0];
        if (all_null(a, cx->n, EMBER_TYPE_BOOL, out))
            return 0;
        UNLOOP(uint8_t, uint8_t, a, r, rows, !x);
        vec_like(out, EMBER_TYPE_BOOL, a, cx->n, NULL, r);
        return 0;
    }
    for (int k = 0; k < nd->nargs; k++)
        anynull |= nd->av[k].nulls > 0;
    if (!anynull) {
        vec cur = {0};
        cur.scalar = sc;
        cur.data = r;
        for (int64_t i = 0; i < rows; i++)
            r[i] = ((const uint8_t *)nd->av[0].data)[ix(&nd->av[0], i)] != 0;
        for (int k = 1; k < nd->nargs; k++) {
            const vec *b = &nd->av[k];
            if (isand)
                BINLOOP(uint8_t, uint8_t, uint8_t, &cur, b, r, rows,
                        x & (y != 0));
            else
                BINLOOP(uint8_t, uint8_t, uint8_t, &cur, b, r, rows,
                        x | (y != 0));
        }
        vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, NULL, 0, NULL, r);
        return 0;
    }
    if (!(v = res_valid(nd, rows)))
        return nomem(cx);
    memset(v, 0xff, (size_t)(rows + 7) / 8);
    for (int64_t i = 0; i < rows; i++) {
        int decided = 0, null = 0;
        for (int k = 0; k < nd->nargs; k++) {
            const vec *a = &nd->av[k];
            if (vnull(a, i))
                null = 1;
            else if ((((const uint8_t *)a->data)[ix(a, i)] != 0) != isand)
                decided = 1;
        }
        /* and: a false decides false; or: a true decides true */
        r[i] = (uint8_t)(decided ? !isand : isand);
        if (!decided && null)
            CLRBIT(v, i);
    }
    vec_set(out, EMBER_TYPE_BOOL, sc, cx->n, v, count_nulls(v, rows), NULL, r);
    return 0;
}

/* ---------------------------------------------- is_null, in, like */

static int eval_isnull(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int want = nd->op == OP_ISNULL;
    int64_t rows = a->scalar ? 1 : cx->n;
    uint8_t *r;
    if (!(r = res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return nomem(cx);
    if (!a->valid)
        memset(r, !want, (size_t)rows);
    else
        for (int64_t i = 0; i < rows; i++)
            r[i] = (uint8_t)(BIT(a->valid, i) != want);
    vec_set(out, EMBER_TYPE_BOOL, a->scalar, cx->n, NULL, 0, NULL, r);
    return 0;
}

/* compare row i of a value of type t (data/off) with literal l:
 * <0, 0, >0; *bad set when the types cannot be compared */
static int cmp_lit(ember_type t, const void *data, const int32_t *off,
                   int64_t i, const node *l, int *bad)
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

static int eval_in(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    int litnull = 0, bad = 0;
    uint8_t *r, *v;
    for (int k = 1; k < nd->nargs; k++)
        litnull |= nd->args[k]->lnull;
    if (all_null(a, cx->n, EMBER_TYPE_BOOL, out))
        return 0;
    if (!(r = res_fixed(nd, EMBER_TYPE_BOOL, rows)) ||
        !(v = res_valid_from(nd, a, rows)))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int found = 0;
        if (a->valid && !BIT(a->valid, i)) {
            r[i] = 0;
            continue;
        }
        for (int k = 1; k < nd->nargs && !found; k++)
            found = !nd->args[k]->lnull && cmp_lit(a->type, a->data, a->off, i,
                                                   nd->args[k], &bad) == 0;
        r[i] = (uint8_t)found;
        if (!found && litnull)
            CLRBIT(v, i);
    }
    if (bad)
        return fail(&cx->w, EMBER_EINVAL,
                    "in: the list's literals do not match type %s",
                    tname(a->type));
    vec_set(out, EMBER_TYPE_BOOL, a->scalar, cx->n, v, count_nulls(v, rows),
            NULL, r);
    return 0;
}

static int eval_like(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    uint8_t *r;
    if (all_null(a, cx->n, EMBER_TYPE_BOOL, out))
        return 0;
    if (!(r = res_fixed(nd, EMBER_TYPE_BOOL, rows)))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int32_t len;
        const char *s = vstr(a, i, &len);
        r[i] = (uint8_t)like_match(nd->like, (const uint8_t *)s, (size_t)len);
    }
    vec_like(out, EMBER_TYPE_BOOL, a, cx->n, NULL, r);
    return 0;
}

/* --------------------------------------------------------------- cast */

static int cast_to_string(node *nd, ectx *cx, const vec *a, int64_t rows,
                          vec *out)
{
    rel_col *c = &nd->buf;
    char t[REL_FMT_MAX];
    if (sb_begin(nd, rows, (size_t)rows * 8))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        size_t n = 0;
        if (vnull(a, i)) {
            sb_null(c, i);
            continue;
        }
        switch (a->type) {
        case EMBER_TYPE_BOOL:
            n = (size_t)sprintf(
                t, "%s", ((const uint8_t *)a->data)[i] ? "true" : "false");
            break;
        case EMBER_TYPE_INT32:
            n = rel_fmt_i64(((const int32_t *)a->data)[i], t);
            break;
        case EMBER_TYPE_INT64:
            n = rel_fmt_i64(((const int64_t *)a->data)[i], t);
            break;
        case EMBER_TYPE_DOUBLE:
            n = rel_fmt_double(((const double *)a->data)[i], t);
            break;
        case EMBER_TYPE_DATE32:
            n = rel_fmt_date(((const int32_t *)a->data)[i], t);
            break;
        case EMBER_TYPE_TIMESTAMP:
            n = rel_fmt_ts(((const int64_t *)a->data)[i], t);
            break;
        default:
            break;
        }
        if (sb_put(c, i, t, n))
            return nomem(cx);
    }
    vec_like(out, EMBER_TYPE_STRING, a, cx->n, c->off, c->data);
    return 0;
}

static int cast_from_string(node *nd, ectx *cx, const vec *a, int64_t rows,
                            vec *out)
{
    int t = nd->type, w = rel_type_width((ember_type)t);
    uint8_t *r, *v;
    if (!(r = res_fixed(nd, (ember_type)t, rows)) ||
        !(v = res_valid_from(nd, a, rows)))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int32_t len;
        const char *s;
        int bad = 0;
        int64_t iv = 0;
        if (a->valid && !BIT(a->valid, i)) {
            memset(r + i * w, 0, (size_t)w);
            continue;
        }
        s = vstr(a, i, &len);
        switch (t) {
        case EMBER_TYPE_BOOL:
            bad = parse_bool(s, (size_t)len, r + i);
            break;
        case EMBER_TYPE_INT32:
            bad = parse_i64(s, (size_t)len, INT32_MIN, INT32_MAX, &iv);
            ((int32_t *)r)[i] = (int32_t)iv;
            break;
        case EMBER_TYPE_INT64:
            bad = parse_i64(s, (size_t)len, INT64_MIN, INT64_MAX, &iv);
            ((int64_t *)r)[i] = iv;
            break;
        case EMBER_TYPE_DOUBLE:
            bad = parse_f64(nd, s, (size_t)len, &((double *)r)[i]);
            break;
        case EMBER_TYPE_DATE32:
            bad = parse_date(s, (size_t)len, &((int32_t *)r)[i]);
            break;
        case EMBER_TYPE_TIMESTAMP:
            bad = parse_ts(s, (size_t)len, &((int64_t *)r)[i]);
            break;
        }
        if (bad) {
            memset(r + i * w, 0, (size_t)w);
            CLRBIT(v, i);
        }
    }
    vec_set(out, (ember_type)t, a->scalar, cx->n, v, count_nulls(v, rows), NULL,
            r);
    return 0;
}

#define CONV(ST, DT, EXPR) UNLOOP(DT, ST, a, r, rows, EXPR)

/* double -> integer, NULL when out of range */
#define D2I(DT, LO, HI)                                                        \
    do {                                                                       \
        const double *s_ = a->data;                                            \
        for (int64_t i = 0; i < rows; i++) {                                   \
            double d = s_[i];                                                  \
            if (d > (LO) && d < (HI)) {                                        \
                ((DT *)r)[i] = (DT)d;                                          \
            } else {                                                           \
                ((DT *)r)[i] = 0;                                              \
                if (!v && !(v = res_valid_from(nd, a, rows)))                  \
                    return nomem(cx);                                          \
                CLRBIT(v, i);                                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

static int eval_cast(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int from = a->type, to = nd->type;
    int64_t rows = a->scalar ? 1 : cx->n;
    uint8_t *v = NULL;
    void *r;
    if (from == to || (from == EMBER_TYPE_BINARY && to == EMBER_TYPE_STRING)) {
        *out = *a;
        out->type = (ember_type)to;
        return 0;
    }
    if (all_null(a, cx->n, (ember_type)to, out))
        return 0;
    if (to == EMBER_TYPE_STRING)
        return cast_to_string(nd, cx, a, rows, out);
    if (from == EMBER_TYPE_STRING || from == EMBER_TYPE_BINARY)
        return cast_from_string(nd, cx, a, rows, out);
    if (!(r = res_fixed(nd, (ember_type)to, rows)))
        return nomem(cx);
    switch (from * 16 + to) {
    /* boolean */
    case EMBER_TYPE_BOOL * 16 + EMBER_TYPE_INT32:
        CONV(uint8_t, int32_t, x != 0);
        break;
    case EMBER_TYPE_BOOL * 16 + EMBER_TYPE_INT64:
        CONV(uint8_t, int64_t, x != 0);
        break;
    case EMBER_TYPE_BOOL * 16 + EMBER_TYPE_DOUBLE:
        CONV(uint8_t, double, x != 0);
        break;
    /* int */
    case EMBER_TYPE_INT32 * 16 + EMBER_TYPE_BOOL:
        CONV(int32_t, uint8_t, x != 0);
        break;
    case EMBER_TYPE_INT32 * 16 + EMBER_TYPE_INT64:
        CONV(int32_t, int64_t, x);
        break;
    case EMBER_TYPE_INT32 * 16 + EMBER_TYPE_DOUBLE:
        CONV(int32_t, double, x);
        break;
    case EMBER_TYPE_INT32 * 16 + EMBER_TYPE_TIMESTAMP:
        CONV(int32_t, int64_t, (int64_t)x * REL_US_PER_SEC);
        break;
    /* bigint */
    case EMBER_TYPE_INT64 * 16 + EMBER_TYPE_BOOL:
        CONV(int64_t, uint8_t, x != 0);
        break;
    case EMBER_TYPE_INT64 * 16 + EMBER_TYPE_INT32:
        CONV(int64_t, int32_t, (uint32_t)(uint64_t)x);
        break;
    case EMBER_TYPE_INT64 * 16 + EMBER_TYPE_DOUBLE:
        CONV(int64_t, double, x);
        break;
    case EMBER_TYPE_INT64 * 16 + EMBER_TYPE_TIMESTAMP:
        CONV(int64_t, int64_t, (uint64_t)x * (uint64_t)REL_US_PER_SEC);
        break;
    /* double */
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_BOOL:
        CONV(double, uint8_t, x != 0);
        break;
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_INT32:
        D2I(int32_t, -2147483649.0, 2147483648.0);
        break;
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_INT64:
        D2I(int64_t, -9223372036854777856.0, 9223372036854775808.0);
        break;
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_TIMESTAMP: {
        const double *s = a->data;
        for (int64_t i = 0; i < rows; i++) {
            double d = s[i] * (double)REL_US_PER_SEC;
            if (d > -9223372036854777856.0 && d < 9223372036854775808.0) {
                ((int64_t *)r)[i] = (int64_t)d;
            } else {
                ((int64_t *)r)[i] = 0;
                if (!v && !(v = res_valid_from(nd, a, rows)))
                    return nomem(cx);
                CLRBIT(v, i);
            }
        }
        break;
    }
    /* date, timestamp */
    case EMBER_TYPE_DATE32 * 16 + EMBER_TYPE_TIMESTAMP:
        CONV(int32_t, int64_t, (int64_t)x * REL_US_PER_DAY);
        break;
    case EMBER_TYPE_TIMESTAMP * 16 + EMBER_TYPE_DATE32:
        CONV(int64_t, int32_t, rel_floordiv(x, REL_US_PER_DAY));
        break;
    case EMBER_TYPE_TIMESTAMP * 16 + EMBER_TYPE_BOOL:
        CONV(int64_t, uint8_t, x != 0);
        break;
    case EMBER_TYPE_TIMESTAMP * 16 + EMBER_TYPE_INT32:
        CONV(int64_t, int32_t,
             (uint32_t)(uint64_t)rel_floordiv(x, REL_US_PER_SEC));
        break;
    case EMBER_TYPE_TIMESTAMP * 16 + EMBER_TYPE_INT64:
        CONV(int64_t, int64_t, rel_floordiv(x, REL_US_PER_SEC));
        break;
    case EMBER_TYPE_TIMESTAMP * 16 + EMBER_TYPE_DOUBLE:
        CONV(int64_t, double, (double)x / (double)REL_US_PER_SEC);
        break;
    default:
        return fail(&cx->w, EMBER_EINVAL, "cast: cannot cast %s to %s",
                    tname(from), tname(to));
    }
    if (v)
        vec_set(out, (ember_type)to, a->scalar, cx->n, v, count_nulls(v, rows),
                NULL, r);
    else
        vec_like(out, (ember_type)to, a, cx->n, NULL, r);
    return 0;
}

/* ------------------------------------------------------ case, coalesce */

/* result row i = row i of src[pick[i]] (pick < 0: NULL) */
static int build_pick(node *nd, ectx *cx, const vec *src, const int16_t *pick,
                      int64_t rows, int sc, vec *out)
{
    int t = nd->type, w = rel_type_width((ember_type)t);
    uint8_t *v = res_valid(nd, rows);
    if (!v)
        return nomem(cx);
    memset(v, 0xff, (size_t)(rows + 7) / 8);
    if (t == EMBER_TYPE_NULL) {
        vec_null(out, EMBER_TYPE_NULL, cx->n);
        return 0;
    }
    if (rel_type_varwidth((ember_type)t)) {
        size_t bytes = 0;
        rel_col *c = &nd->buf;
        for (int64_t i = 0; i < rows; i++)
            if (pick[i] >= 0 && !vnull(&src[pick[i]], i)) {
                int32_t len;
                vstr(&src[pick[i]], i, &len);
                bytes += (size_t)len;
            }
        if (sb_begin(nd, rows, bytes))
            return nomem(cx);
        for (int64_t i = 0; i < rows; i++) {
            if (pick[i] < 0 || vnull(&src[pick[i]], i)) {
                CLRBIT(v, i);
                sb_null(c, i);
            } else {
                int32_t len;
                const char *s = vstr(&src[pick[i]], i, &len);
                sb_put(c, i, s, (size_t)len);
            }
        }
        vec_set(out, (ember_type)t, sc, cx->n, v, count_nulls(v, rows), c->off,
                c->data);
        return 0;
    }
    {
        uint8_t *r = res_fixed(nd, (ember_type)t, rows);
        if (!r)
            return nomem(cx);
        for (int64_t i = 0; i < rows; i++) {
            const vec *s = pick[i] >= 0 ? &src[pick[i]] : NULL;
            if (!s || vnull(s, i)) {
                CLRBIT(v, i);
                memset(r + i * w, 0, (size_t)w);
            } else {
                memcpy(r + i * w, (const uint8_t *)s->data + ix(s, i) * w,
                       (size_t)w);
            }
        }
        vec_set(out, (ember_type)t, sc, cx->n, v, count_nulls(v, rows), NULL,
                r);
    }
    return 0;
}

static int eval_choose(node *nd, ectx *cx, vec *out)
{
    int sc = all_scalar(nd->av, nd->nargs), na = nd->nargs;
    int64_t rows = sc ? 1 : cx->n;
    int16_t *pick;
    if (na > 30000)
        return fail(&cx->w, EMBER_ETOOBIG, "%s: too many arguments",
                    opname(nd->op));
    if (nd->op == OP_COALESCE && nd->av[0].nulls == 0 &&
        (int)nd->av[0].type == nd->type) {
        *out = nd->av[0];
        return 0;
    }
    if (tmp_need(nd, (size_t)rows * sizeof *pick))
        return nomem(cx);
    pick = (int16_t *)nd->tmp;
    if (nd->op == OP_COALESCE) {
        for (int64_t i = 0; i < rows; i++) {
            int k = 0;
            while (k < na && vnull(&nd->av[k], i))
                k++;
            pick[i] = (int16_t)(k < na ? k : -1);
        }
    } else {
        int els = na % 2 ? na - 1 : -1;
        for (int64_t i = 0; i < rows; i++)
            pick[i] = -2;
        for (int k = 0; k + 1 < na; k += 2) {
            const vec *c = &nd->av[k];
            const uint8_t *d = c->data;
            for (int64_t i = 0; i < rows; i++)
                if (pick[i] == -2 && !vnull(c, i) && d[ix(c, i)])
                    pick[i] = (int16_t)(k + 1);
        }
        for (int64_t i = 0; i < rows; i++)
            if (pick[i] == -2)
                pick[i] = (int16_t)els;
    }
    return build_pick(nd, cx, nd->av, pick, rows, sc, out);
}

/* ------------------------------------------------------------ strings */

static int eval_case_conv(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    rel_col *c = &nd->buf;
    int32_t base = a->off[0];
    size_t bytes = (size_t)(a->off[rows] - base);
    const uint8_t *s = (const uint8_t *)a->data + base;
    int up = nd->op == OP_UPPER;
    if (all_null(a, cx->n, EMBER_TYPE_STRING, out))
        return 0;
    if (sb_begin(nd, rows, bytes))
        return nomem(cx);
    for (int64_t i = 0; i <= rows; i++)
        c->off[i] = a->off[i] - base;
    for (size_t k = 0; k < bytes; k++) {
        uint8_t ch = s[k];
        if (up)
            c->data[k] = (uint8_t)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
        else
            c->data[k] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    c->data_len = bytes;
    vec_like(out, EMBER_TYPE_STRING, a, cx->n, c->off, c->data);
    return 0;
}

static int eval_length(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    int32_t *r;
    if (all_null(a, cx->n, EMBER_TYPE_INT32, out))
        return 0;
    if (!(r = res_fixed(nd, EMBER_TYPE_INT32, rows)))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        const uint8_t *s = (const uint8_t *)a->data + a->off[i];
        int32_t len = a->off[i + 1] - a->off[i], n = 0;
        for (int32_t k = 0; k < len; k++)
            n += (s[k] & 0xc0) != 0x80;
        r[i] = n;
    }
    vec_like(out, EMBER_TYPE_INT32, a, cx->n, NULL, r);
    return 0;
}

static int eval_trim(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    rel_col *c = &nd->buf;
    int l = nd->op != OP_RTRIM, rt = nd->op != OP_LTRIM;
    if (all_null(a, cx->n, EMBER_TYPE_STRING, out))
        return 0;
    if (sb_begin(nd, rows, (size_t)(a->off[rows] - a->off[0])))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        const char *s = (const char *)a->data + a->off[i];
        int32_t b = 0, e = a->off[i + 1] - a->off[i];
        if (l)
            while (b < e && s[b] == ' ')
                b++;
        if (rt)
            while (e > b && s[e - 1] == ' ')
                e--;
        sb_put(c, i, s + b, (size_t)(e - b));
    }
    vec_like(out, EMBER_TYPE_STRING, a, cx->n, c->off, c->data);
    return 0;
}

static inline int64_t vint(const vec *v, int64_t i)
{
    int64_t k = ix(v, i);
    return v->type == EMBER_TYPE_INT64 ? ((const int64_t *)v->data)[k]
                                       : ((const int32_t *)v->data)[k];
}

/* byte offset of character `ch` (0-based) in s, or len */
static int32_t char_off(const uint8_t *s, int32_t len, int64_t ch)
{
    int32_t p = 0;
    while (ch > 0 && p < len) {
        p += (int32_t)u8len(s[p]);
        ch--;
    }
    return p < len ? p : len;
}

static int eval_substr(node *nd, ectx *cx, vec *out)
{
    int sc = all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    rel_col *c = &nd->buf;
    const vec *a = &nd->av[0];
    int p = prop_valid(nd, cx, nd->av, nd->nargs, rows, EMBER_TYPE_STRING, out,
                       &valid, &nulls);
    if (p)
        return p < 0 ? nomem(cx) : 0;
    if (sb_begin(nd, rows, (size_t)(a->off[a->scalar ? 1 : rows] - a->off[0])))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int32_t len, nchars = 0;
        const uint8_t *s;
        int64_t pos, cnt, start, end;
        if (valid && !BIT(valid, i)) {
            sb_null(c, i);
            continue;
        }
        s = (const uint8_t *)vstr(a, i, &len);
        pos = vint(&nd->av[1], i);
        cnt = nd->nargs > 2 ? vint(&nd->av[2], i) : INT32_MAX;
        for (int32_t k = 0; k < len; k++)
            nchars += (s[k] & 0xc0) != 0x80;
        /* Spark's UTF8String.substringSQL */
        start = pos > 0 ? pos - 1 : pos < 0 ? nchars + pos : 0;
        end = cnt >= INT32_MAX || start + cnt > INT32_MAX ? INT32_MAX
                                                          : start + cnt;
        if (start < 0)
            start = 0;
        if (start >= end || start >= nchars) {
            sb_put(c, i, "", 0);
        } else {
            int32_t b = char_off(s, len, start);
            int32_t e = end >= nchars ? len : char_off(s, len, end);
            sb_put(c, i, s + b, (size_t)(e - b));
        }
    }
    vec_set(out, EMBER_TYPE_STRING, sc, cx->n, valid, nulls, c->off, c->data);
    return 0;
}

static int eval_concat(node *nd, ectx *cx, vec *out)
{
    int sc = all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    rel_col *c = &nd->buf;
    size_t bytes = 0;
    int p = prop_valid(nd, cx, nd->av, nd->nargs, rows, EMBER_TYPE_STRING, out,
                       &valid, &nulls);
    if (p)
        return p < 0 ? nomem(cx) : 0;
    for (int k = 0; k < nd->nargs; k++) {
        const vec *a = &nd->av[k];
        size_t b = (size_t)(a->off[a->scalar ? 1 : rows] - a->off[0]);
        bytes += a->scalar ? b * (size_t)rows : b;
    }
    if (sb_begin(nd, rows, bytes))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        if (valid && !BIT(valid, i)) {
            sb_null(c, i);
            continue;
        }
        for (int k = 0; k < nd->nargs; k++) {
            int32_t len;
            const char *s = vstr(&nd->av[k], i, &len);
            if (len) {
                memcpy(c->data + c->data_len, s, (size_t)len);
                c->data_len += (size_t)len;
            }
        }
        c->off[i + 1] = (int32_t)c->data_len;
    }
    vec_set(out, EMBER_TYPE_STRING, sc, cx->n, valid, nulls, c->off, c->data);
    return 0;
}

/* -------------------------------------------------------------- dates */

static int eval_datepart(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0];
    int64_t rows = a->scalar ? 1 : cx->n;
    int32_t *r;
    if (all_null(a, cx->n, EMBER_TYPE_INT32, out))
        return 0;
    if (!(r = res_fixed(nd, EMBER_TYPE_INT32, rows)))
        return nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int64_t days =
            a->type == EMBER_TYPE_TIMESTAMP
                ? rel_floordiv(((const int64_t *)a->data)[i], REL_US_PER_DAY)
                : ((const int32_t *)a->data)[i];
        int64_t y;
        int m, d;
        rel_civil_from_days(days, &y, &m, &d);
        r[i] = nd->op == OP_YEAR ? (int32_t)y : nd->op == OP_MONTH ? m : d;
    }
    vec_like(out, EMBER_TYPE_INT32, a, cx->n, NULL, r);
    return 0;
}

static int eval_dateadd(node *nd, ectx *cx, vec *out)
{
    const vec *a = &nd->av[0], *b = &nd->av[1];
    int sc = all_scalar(nd->av, 2);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    int32_t *r;
    int sub = nd->op == OP_DATESUB;
    int p = prop_valid(nd, cx, nd->av, 2, rows, EMBER_TYPE_DATE32, out, &valid,
                       &nulls);
    if (p)
        return p < 0 ? nomem(cx) : 0;
    if (!(r = res_fixed(nd, EMBER_TYPE_DATE32, rows)))
        return nomem(cx);
    if (b->type == EMBER_TYPE_INT64)
        BINLOOP(int32_t, int32_t, int64_t, a, b, r, rows,
                (uint32_t)x + (sub ? 0 - (uint32_t)y : (uint32_t)y));
    else
        BINLOOP(int32_t, int32_t, int32_t, a, b, r, rows,
                (uint32_t)x + (sub ? 0 - (uint32_t)y : (uint32_t)y));
    vec_set(out, EMBER_TYPE_DATE32, sc, cx->n, valid, nulls, NULL, r);
    return 0;
}

/* ------------------------------------------------------------ dispatch */

static int eval(node *nd, ectx *cx, vec *out)
{
    switch (nd->op) {
    case OP_COL: {
        const ember_column *c;
        if (nd->col >= cx->ncols)
            return fail(&cx->w, EMBER_EINVAL,
                        "column %d out of range (the batch has %d columns)",
                        nd->col, cx->ncols);
        c = &cx->cols[nd->col];
        if (c->type == EMBER_TYPE_NULL) {
            vec_null(out, EMBER_TYPE_NULL, cx->n);
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
            return fail(&cx->w, EMBER_EINVAL,
                        "column %d: string offsets do not start at 0", nd->col);
        return 0;
    }
    case OP_LIT:
        if (nd->lnull) {
            vec_null(out, (ember_type)nd->type, cx->n);
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
        int rc = eval(nd->args[i], cx, &nd->av[i]);
        if (rc)
            return rc;
        nd->at[i] = nd->av[i].type;
    }
    if (check_node(nd, nd->at, &cx->w))
        return EMBER_EINVAL;
    if (nd->op == OP_EQ || nd->op == OP_NE || nd->op == OP_LT ||
        nd->op == OP_LE || nd->op == OP_GT || nd->op == OP_GE ||
        nd->op == OP_EQNS) {
        /* a NULL-typed side compares as the other side's type */
        if (nd->av[0].type == EMBER_TYPE_NULL && nd->op != OP_EQNS)
            nd->av[0].type = nd->av[1].type;
        if (nd->av[1].type == EMBER_TYPE_NULL && nd->op != OP_EQNS)
            nd->av[1].type = nd->av[0].type;
    }
    switch (nd->op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_MOD:
    case OP_DIV:
    case OP_NEG:
    case OP_ABS:
        return eval_arith(nd, cx, out);
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_EQNS:
        return eval_cmp(nd, cx, out);
    case OP_AND:
    case OP_OR:
    case OP_NOT:
        return eval_logic(nd, cx, out);
    case OP_ISNULL:
    case OP_ISNOTNULL:
        return eval_isnull(nd, cx, out);
    case OP_IN:
        return eval_in(nd, cx, out);
    case OP_LIKE:
        return eval_like(nd, cx, out);
    case OP_CAST:
        return eval_cast(nd, cx, out);
    case OP_TODATE:
        if (nd->av[0].type == EMBER_TYPE_DATE32) {
            *out = nd->av[0];
            return 0;
        }
        return eval_cast(nd, cx, out);
    case OP_CASE:
    case OP_COALESCE:
        return eval_choose(nd, cx, out);
    case OP_LOWER:
    case OP_UPPER:
        return eval_case_conv(nd, cx, out);
    case OP_LENGTH:
        return eval_length(nd, cx, out);
    case OP_TRIM:
    case OP_LTRIM:
    case OP_RTRIM:
        return eval_trim(nd, cx, out);
    case OP_SUBSTR:
        return eval_substr(nd, cx, out);
    case OP_CONCAT:
        return eval_concat(nd, cx, out);
    case OP_YEAR:
    case OP_MONTH:
    case OP_DAY:
        return eval_datepart(nd, cx, out);
    case OP_DATEADD:
    case OP_DATESUB:
        return eval_dateadd(nd, cx, out);
    default:
        return fail(&cx->w, EMBER_EINVAL, "unknown node");
    }
}

/* ========================================================== operators */

/* The input batch's columns and names, in scratch arrays of the state. */
typedef struct inbatch {
    ember_column *cols;
    const char **names;
    int cap, ncols;
    int64_t n;
} inbatch;

static int inbatch_load(inbatch *ib, const ember_batch *in, const where *w)
{
    int nc = rel_host->batch_num_columns(in);
    if (nc < 0)
        nc = 0;
    if (nc + 1 > ib->cap) {
        ember_column *c = realloc(ib->cols, (size_t)(nc + 1) * sizeof *c);
        const char **nm;
        if (!c)
            return fail(w, EMBER_ENOMEM, "out of memory");
        ib->cols = c;
        nm = realloc(ib->names, (size_t)(nc + 1) * sizeof *nm);
        if (!nm)
            return fail(w, EMBER_ENOMEM, "out of memory");
        ib->names = nm;
        ib->cap = nc + 1;
    }
    ib->ncols = nc;
    ib->n = rel_host->batch_num_rows(in);
    for (int i = 0; i < nc; i++) {
        int rc = rel_host->batch_column(in, i, &ib->cols[i]);
        if (rc)
            return fail(w, rc, "cannot read column %d of the input", i);
        ib->names[i] = rel_host->batch_column_name(in, i);
    }
    return 0;
}

static void inbatch_free(inbatch *ib)
{
    free(ib->cols);
    free(ib->names);
}

/* a scalar vec as a column of n rows in c */
static int materialize(rel_col *c, const vec *v, int64_t n)
{
    int w = rel_type_width(v->type);
    relcol_free(c);
    relcol_init(c, v->type);
    if (v->type == EMBER_TYPE_NULL)
        return 0;
    if (vnull(v, 0)) {
        for (int64_t i = 0; i < n; i++)
            if (relcol_append_null(c))
                return EMBER_ENOMEM;
        return 0;
    }
    if (rel_type_varwidth(v->type)) {
        int32_t len;
        const char *s = vstr(v, 0, &len);
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

static void vec_view(const vec *v, ember_column *out)
{
    out->type = v->type;
    out->length = v->n;
    out->null_count = v->nulls;
    out->validity = v->nulls ? v->valid : NULL;
    out->offsets = v->off;
    out->data = v->data;
}

/* --------------------------------------------------------- rel.filter */

static const ember_param_desc filter_params[] = {
    {"cond", EMBER_PARAM_STRING, NULL,
     "boolean expression (S-expression); rows where it is true pass"},
};

typedef struct filter_st {
    node *cond;
    inbatch ib;
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
    node_free(f->cond);
    inbatch_free(&f->ib);
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
    where w = {"rel.filter", "cond", err};
    filter_st *f = calloc(1, sizeof *f);
    (void)ti;
    if (!f)
        return fail(&w, EMBER_ENOMEM, "out of memory");
    f->cond = compile_text(host->param_str(p, "cond"), &w);
    if (!f->cond) {
        filter_close(f);
        return err ? (err->code ? err->code : EMBER_EINVAL) : EMBER_EINVAL;
    }
    if (f->cond->type >= 0 && f->cond->type != EMBER_TYPE_BOOL &&
        f->cond->type != EMBER_TYPE_NULL) {
        fail(&w, EMBER_EINVAL, "the condition has type %s, not boolean",
             tname(f->cond->type));
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
    ectx x = {0};
    vec v;
    int64_t n, k = 0;
    int rc;
    x.w = (where){"rel.filter", NULL, err};
    if ((rc = inbatch_load(&f->ib, in, &x.w)))
        return rc;
    n = f->ib.n;
    if (n == 0)
        return 0;
    x.cols = f->ib.cols;
    x.ncols = f->ib.ncols;
    x.n = n;
    if ((rc = eval(f->cond, &x, &v)))
        return rc;
    if (v.type != EMBER_TYPE_BOOL && v.type != EMBER_TYPE_NULL)
        return fail(&x.w, EMBER_EINVAL,
                    "the condition has type %s, not "
                    "boolean",
                    tname(v.type));
    if (v.scalar) {
        if (vnull(&v, 0) || !((const uint8_t *)v.data)[0])
            return 0;
        return rel_emit_batch(in, emit, ud, err);
    }
    if (n > f->selcap) {
        int32_t *s = realloc(f->sel, (size_t)n * sizeof *s);
        if (!s)
            return fail(&x.w, EMBER_ENOMEM, "out of memory");
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
                k += (d[i] != 0) & BIT(v.valid, i);
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
            return fail(&x.w, EMBER_ENOMEM, "out of memory");
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
            return fail(&x.w, EMBER_ENOMEM, "out of memory");
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
    node **exprs;
    rel_col *mat; /* materialized scalars */
    ember_column *views;
    vec *vals;
    inbatch ib;
} project_st;

static void project_close(void *state)
{
    project_st *pj = state;
    if (!pj)
        return;
    for (int i = 0; i < pj->n; i++) {
        free(pj->names ? pj->names[i] : NULL);
        node_free(pj->exprs ? pj->exprs[i] : NULL);
        if (pj->mat)
            relcol_free(&pj->mat[i]);
    }
    free(pj->names);
    free(pj->exprs);
    free(pj->mat);
    free(pj->views);
    free(pj->vals);
    inbatch_free(&pj->ib);
    free(pj);
}

static int project_open(const ember_host *host, const ember_params *p,
                        const ember_task_info *ti, void **state,
                        ember_error *err)
{
    where w = {"rel.project", "exprs", err};
    ember_error e = {0, ""};
    project_st *pj = calloc(1, sizeof *pj);
    rel_sx *x;
    int rc = EMBER_EINVAL;
    (void)ti;
    if (!pj)
        return fail(&w, EMBER_ENOMEM, "out of memory");
    x = rel_sx_parse(host->param_str(p, "exprs"), &e);
    if (!x) {
        fail(&w, EMBER_EINVAL, "%s", e.msg);
        goto bad;
    }
    if (x->kind != SX_LIST || x->n == 0) {
        fail(&w, EMBER_EINVAL,
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
        rc = fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        relcol_init(&pj->mat[i], EMBER_TYPE_NULL);
        if (!rel_sx_head(it, "as") || it->n != 3 ||
            (it->items[1]->kind != SX_STR && it->items[1]->kind != SX_SYM)) {
            fail(&w, EMBER_EINVAL, "item %d: expected (as \"name\" EXPR)",
                 i + 1);
            goto bad;
        }
        pj->names[i] = strdup(it->items[1]->s);
        if (!pj->names[i]) {
            rc = fail(&w, EMBER_ENOMEM, "out of memory");
            goto bad;
        }
        pj->exprs[i] = compile(it->items[2], &w, 0);
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
    ectx x = {0};
    int rc;
    x.w = (where){"rel.project", NULL, err};
    if ((rc = inbatch_load(&pj->ib, in, &x.w)))
        return rc;
    if (pj->ib.n == 0)
        return 0;
    x.cols = pj->ib.cols;
    x.ncols = pj->ib.ncols;
    x.n = pj->ib.n;
    for (int i = 0; i < pj->n; i++) {
        vec *v = &pj->vals[i];
        if ((rc = eval(pj->exprs[i], &x, v)))
            return rc;
        if (v->scalar) {
            if (materialize(&pj->mat[i], v, x.n))
                return fail(&x.w, EMBER_ENOMEM, "out of memory");
            relcol_view(&pj->mat[i], &pj->views[i]);
            if (v->type == EMBER_TYPE_NULL) {
                pj->views[i].length = x.n;
                pj->views[i].null_count = x.n;
            }
        } else {
            vec_view(v, &pj->views[i]);
        }
    }
    return rel_emit_views(pj->views, (const char *const *)pj->names, pj->n,
                          emit, ud, err);
}

/* -------------------------------------------------------- rel.explode */

static const ember_param_desc explode_params[] = {
    {"expr", EMBER_PARAM_STRING, NULL,
     "(split S \"regex\"): S a string expression, Java regex syntax"},
    {"keep", EMBER_PARAM_STRING, "()", "input column indices to carry"},
    {"name", EMBER_PARAM_STRING, "col", "name of the output column"},
};

enum { SPLIT_BYTE, SPLIT_STR, SPLIT_SET, SPLIT_EMPTY, SPLIT_RE };

typedef struct explode_st {
    node *s;
    int nkeep;
    int *keep;
    char **names; /* nkeep + 1, copied at the first batch */
    int mode;
    char *sep;
    size_t seplen;
    uint8_t set[256];
    int plus;
    regex_t re;
    int have_re;
    rel_col *out; /* nkeep + 1 */
    int32_t *sel; /* input row of each pending output row */
    int64_t pend, selcap;
    char *scratch;
    size_t scap;
    inbatch ib;
} explode_st;

static void explode_close(void *state)
{
    explode_st *e = state;
    if (!e)
        return;
    node_free(e->s);
    free(e->keep);
    if (e->names)
        for (int i = 0; i <= e->nkeep; i++)
            free(e->names[i]);
    free(e->names);
    free(e->sep);
    if (e->have_re)
        regfree(&e->re);
    if (e->out)
        for (int i = 0; i <= e->nkeep; i++)
            relcol_free(&e->out[i]);
    free(e->out);
    free(e->sel);
    free(e->scratch);
    inbatch_free(&e->ib);
    free(e);
}

static int class_of(char c, uint8_t *set)
{
    memset(set, 0, 256);
    switch (c) {
    case 's':
        set[' '] = set['\t'] = set['\n'] = set['\v'] = set['\f'] = set['\r'] =
            1;
        return 0;
    case 'd':
        for (int i = '0'; i <= '9'; i++)
            set[i] = 1;
        return 0;
    case 'w':
        for (int i = 0; i < 256; i++)
            set[i] = (uint8_t)(i < 128 && (isalnum(i) || i == '_'));
        return 0;
    default:
        return -1;
    }
}

static int escaped_literal(char c, char *out)
{
    switch (c) {
    case 't':
        *out = '\t';
        return 0;
    case 'n':
        *out = '\n';
        return 0;
    case 'r':
        *out = '\r';
        return 0;
    case 'f':
        *out = '\f';
        return 0;
    default:
        if (isalnum((unsigned char)c))
            return -1;
        *out = c;
        return 0;
    }
}

/* Java regex -> POSIX ERE: \s \d \w (and \S \D \W outside brackets),
 * escaped punctuation, \t \n \r \f. */
static int translate_re(const char *p, char **out, const where *w)
{
    size_t n = strlen(p), k = 0;
    char *o = malloc(n * 12 + 1);
    int inb = 0;
    if (!o)
        return fail(w, EMBER_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[++i], lit;
            const char *cls = NULL;
            switch (d) {
            case 's':
                cls = inb ? "[:space:]" : "[[:space:]]";
                break;
            case 'd':
                cls = inb ? "[:digit:]" : "[[:digit:]]";
                break;
            case 'w':
                cls = inb ? "[:alnum:]_" : "[[:alnum:]_]";
                break;
            case 'S':
                cls = inb ? NULL : "[^[:space:]]";
                break;
            case 'D':
                cls = inb ? NULL : "[^[:digit:]]";
                break;
            case 'W':
                cls = inb ? NULL : "[^[:alnum:]_]";
                break;
            default:
                break;
            }
            if (cls) {
                size_t l = strlen(cls);
                memcpy(o + k, cls, l);
                k += l;
                continue;
            }
            if (escaped_literal(d, &lit) ||
                (inb &&
                 (lit == ']' || lit == '^' || lit == '-' || lit == '['))) {
                free(o);
                return fail(w, EMBER_EINVAL,
                            "split: unsupported regex escape '\\%c'", d);
            }
            if (inb || isalnum((unsigned char)lit) || lit == '\t' ||
                lit == '\n' || lit == '\r' || lit == '\f' || lit == ' ')
                o[k++] = lit;
            else if (strchr(".[]{}()*+?^$|\\", lit)) {
                o[k++] = '\\';
                o[k++] = lit;
            } else {
                o[k++] = lit;
            }
            continue;
        }
        if (c == '\\') {
            free(o);
            return fail(w, EMBER_EINVAL, "split: regex ends with '\\'");
        }
        if (!inb && c == '[') {
            inb = 1;
            o[k++] = c;
            if (i + 1 < n && p[i + 1] == '^')
                o[k++] = p[++i];
            if (i + 1 < n && p[i + 1] == ']')
                o[k++] = p[++i];
            continue;
        }
        if (inb && c == ']')
            inb = 0;
        o[k++] = c;
    }
    o[k] = 0;
    *out = o;
    return 0;
}

static int explode_pattern(explode_st *e, const char *p, size_t n,
                           const where *w)
{
    char *lit = malloc(n + 1);
    size_t k = 0;
    int plain = 1;
    if (!lit)
        return fail(w, EMBER_ENOMEM, "out of memory");
    if (n == 0) {
        free(lit);
        e->mode = SPLIT_EMPTY;
        return 0;
    }
    /* a class run: \s+, " +", x+, \d, ... */
    if ((n == 2 || n == 3) && p[0] == '\\' && (n == 2 || p[2] == '+') &&
        class_of(p[1], e->set) == 0) {
        free(lit);
        e->mode = SPLIT_SET;
        e->plus = n == 3;
        return 0;
    }
    if (n == 2 && p[1] == '+' && !strchr(".[]{}()*+?^$|\\", p[0])) {
        free(lit);
        memset(e->set, 0, sizeof e->set);
        e->set[(uint8_t)p[0]] = 1;
        e->mode = SPLIT_SET;
        e->plus = 1;
        return 0;
    }
    for (size_t i = 0; i < n && plain; i++) {
        if (p[i] == '\\') {
            if (i + 1 == n || escaped_literal(p[i + 1], &lit[k]))
                plain = 0;
            else
                k++, i++;
        } else if (strchr(".[]{}()*+?^$|", p[i])) {
            plain = 0;
        } else {
            lit[k++] = p[i];
        }
    }
    if (plain) {
        e->sep = lit;
        e->seplen = k;
        e->mode = k == 1 ? SPLIT_BYTE : SPLIT_STR;
        return 0;
    }
    free(lit);
    {
        char *ere = NULL;
        int rc;
        if (translate_re(p, &ere, w))
            return EMBER_EINVAL;
        rc = regcomp(&e->re, ere, REG_EXTENDED);
        if (rc) {
            char msg[256];
            regerror(rc, &e->re, msg, sizeof msg);
            free(ere);
            return fail(w, EMBER_EINVAL, "split: bad regex \"%s\": %s", p, msg);
        }
        free(ere);
        e->have_re = 1;
        e->mode = SPLIT_RE;
    }
    return 0;
}

static int explode_open(const ember_host *host, const ember_params *p,
                        const ember_task_info *ti, void **state,
                        ember_error *err)
{
    where w = {"rel.explode", "expr", err};
    ember_error e0 = {0, ""};
    explode_st *e = calloc(1, sizeof *e);
    rel_sx *x = NULL, *k = NULL;
    int rc = EMBER_EINVAL, pos;
    (void)ti;
    if (!e)
        return fail(&w, EMBER_ENOMEM, "out of memory");
    x = rel_sx_parse(host->param_str(p, "expr"), &e0);
    if (!x) {
        fail(&w, EMBER_EINVAL, "%s", e0.msg);
        goto bad;
    }
    if (!rel_sx_head(x, "split") || x->n != 3 || x->items[2]->kind != SX_STR) {
        fail(&w, EMBER_EINVAL, "expected (split S \"regex\")");
        goto bad;
    }
    if (!(e->s = compile(x->items[1], &w, 0)))
        goto bad;
    if (e->s->type >= 0 && e->s->type != EMBER_TYPE_STRING &&
        e->s->type != EMBER_TYPE_NULL) {
        fail(&w, EMBER_EINVAL, "split: S has type %s, not string",
             tname(e->s->type));
        goto bad;
    }
    if (explode_pattern(e, x->items[2]->s, x->items[2]->len, &w))
        goto bad;
    w.param = "keep";
    k = rel_sx_parse(host->param_str(p, "keep"), &e0);
    if (!k) {
        fail(&w, EMBER_EINVAL, "%s", e0.msg);
        goto bad;
    }
    if (k->kind != SX_LIST) {
        fail(&w, EMBER_EINVAL, "expected a list of column indices");
        goto bad;
    }
    e->nkeep = k->n;
    e->keep = calloc((size_t)k->n + 1, sizeof *e->keep);
    e->names = calloc((size_t)k->n + 1, sizeof *e->names);
    e->out = calloc((size_t)k->n + 1, sizeof *e->out);
    if (!e->keep || !e->names || !e->out) {
        rc = fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    if ((pos = rel_sx_indices(k, INT32_MAX, e->keep)) != 0) {
        fail(&w, EMBER_EINVAL, "item %d is not a column index", pos);
        goto bad;
    }
    for (int i = 0; i <= e->nkeep; i++)
        relcol_init(&e->out[i], EMBER_TYPE_NULL);
    e->out[e->nkeep].type = EMBER_TYPE_STRING;
    e->names[e->nkeep] = strdup(host->param_str(p, "name"));
    if (!e->names[e->nkeep]) {
        rc = fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    rel_sx_free(x);
    rel_sx_free(k);
    *state = e;
    return 0;
bad:
    rel_sx_free(x);
    rel_sx_free(k);
    explode_close(e);
    if (err && err->code)
        rc = err->code;
    return rc;
}

/* gather the kept columns of the pending rows from the current batch */
static int explode_flush_keep(explode_st *e)
{
    for (int i = 0; i < e->nkeep; i++)
        if (relcol_gather(&e->out[i], &e->ib.cols[e->keep[i]], e->sel, e->pend))
            return EMBER_ENOMEM;
    e->pend = 0;
    return 0;
}

static int explode_emit(explode_st *e, ember_emit_fn emit, void *ud,
                        ember_error *err)
{
    return rel_emit(e->out, (const char *const *)e->names, e->nkeep + 1, emit,
                    ud, err);
}

/* one output row: piece s[0..len) of input row `row` */
static inline int piece(explode_st *e, const char *s, size_t len, int64_t row)
{
    rel_col *c = &e->out[e->nkeep];
    if (e->pend == e->selcap) {
        int64_t cap = e->selcap ? e->selcap * 2 : 1024;
        int32_t *p = realloc(e->sel, (size_t)cap * sizeof *p);
        if (!p)
            return EMBER_ENOMEM;
        e->sel = p;
        e->selcap = cap;
    }
    e->sel[e->pend++] = (int32_t)row;
    if ((size_t)c->n + 2 > c->off_cap || c->data_len + len > c->data_cap)
        return relcol_append_str(c, s, len);
    memcpy(c->data + c->data_len, s, len);
    c->data_len += len;
    c->off[++c->n] = (int32_t)c->data_len;
    return 0;
}

/* Java's String.split(regex, -1) of s[0..len) */
static int split_row(explode_st *e, const char *s, size_t len, int64_t row)
{
    size_t a = 0;
    int rc = 0;
    switch (e->mode) {
    case SPLIT_BYTE: {
        char sep = e->sep[0];
        const char *p = s, *end = s + len, *q;
        while ((q = memchr(p, sep, (size_t)(end - p)))) {
            if ((rc = piece(e, p, (size_t)(q - p), row)))
                return rc;
            p = q + 1;
        }
        return piece(e, p, (size_t)(end - p), row);
    }
    case SPLIT_STR: {
        const char *p = s, *end = s + len, *q;
        while ((size_t)(end - p) >= e->seplen &&
               (q = memmem(p, (size_t)(end - p), e->sep, e->seplen))) {
            if ((rc = piece(e, p, (size_t)(q - p), row)))
                return rc;
            p = q + e->seplen;
        }
        return piece(e, p, (size_t)(end - p), row);
    }
    case SPLIT_SET: {
        const uint8_t *u = (const uint8_t *)s, *set = e->set;
        size_t i = 0;
        while (i < len) {
            if (!set[u[i]]) {
                i++;
                continue;
            }
            if ((rc = piece(e, s + a, i - a, row)))
                return rc;
            i++;
            if (e->plus)
                while (i < len && set[u[i]])
                    i++;
            a = i;
        }
        return piece(e, s + a, len - a, row);
    }
    case SPLIT_EMPTY: {
        size_t i = 0;
        if (len == 0)
            return piece(e, s, 0, row);
        while (i < len) {
            size_t l = u8len((uint8_t)s[i]);
            if (i + l > len)
                l = len - i;
            if ((rc = piece(e, s + i, l, row)))
                return rc;
            i += l;
        }
        return piece(e, s + len, 0, row);
    }
    default: {
        size_t pos = 0;
        int added = 0;
        if (e->scap < len + 1) {
            size_t cap = e->scap ? e->scap : 256;
            char *p;
            while (cap < len + 1)
                cap *= 2;
            if (!(p = realloc(e->scratch, cap)))
                return EMBER_ENOMEM;
            e->scratch = p;
            e->scap = cap;
        }
        memcpy(e->scratch, s, len);
        e->scratch[len] = 0;
        while (pos <= len) {
            regmatch_t m;
            size_t ms, me;
            if (regexec(&e->re, e->scratch + pos, 1, &m,
                        pos ? REG_NOTBOL : 0) != 0)
                break;
            ms = pos + (size_t)m.rm_so;
            me = pos + (size_t)m.rm_eo;
            if (!(ms == 0 && me == 0)) {
                if ((rc = piece(e, s + a, ms - a, row)))
                    return rc;
                a = me;
                added = 1;
            }
            pos = me;
            if (me == ms)
                pos += pos < len ? u8len((uint8_t)s[pos]) : 1;
        }
        if (!added)
            return piece(e, s, len, row);
        return piece(e, s + a, len - a, row);
    }
    }
}

static int explode_push(void *state, const ember_batch *in, ember_emit_fn emit,
                        void *ud, ember_error *err)
{
    explode_st *e = state;
    ectx x = {0};
    vec v;
    int rc;
    x.w = (where){"rel.explode", NULL, err};
    if ((rc = inbatch_load(&e->ib, in, &x.w)))
        return rc;
    if (e->ib.n == 0)
        return 0;
    for (int i = 0; i < e->nkeep; i++) {
        ember_type t;
        if (e->keep[i] >= e->ib.ncols)
            return fail(&x.w, EMBER_EINVAL,
                        "keep: column %d out of range (the batch has %d "
                        "columns)",
                        e->keep[i], e->ib.ncols);
        t = e->ib.cols[e->keep[i]].type;
        if (!e->names[i]) {
            e->names[i] = strdup(e->ib.names[e->keep[i]]);
            if (!e->names[i])
                return fail(&x.w, EMBER_ENOMEM, "out of memory");
            relcol_init(&e->out[i], t);
        } else if (e->out[i].type != t) {
            if (e->out[i].n > 0)
                return fail(&x.w, EMBER_EINVAL,
                            "keep: column %d changed type from %s to %s",
                            e->keep[i], tname(e->out[i].type), tname(t));
            relcol_free(&e->out[i]);
            relcol_init(&e->out[i], t);
        }
    }
    x.cols = e->ib.cols;
    x.ncols = e->ib.ncols;
    x.n = e->ib.n;
    if ((rc = eval(e->s, &x, &v)))
        return rc;
    if (v.type == EMBER_TYPE_NULL)
        return 0;
    if (v.type != EMBER_TYPE_STRING)
        return fail(&x.w, EMBER_EINVAL, "split: S has type %s, not string",
                    tname(v.type));
    for (int64_t i = 0; i < x.n; i++) {
        int32_t len;
        const char *s;
        if (vnull(&v, i))
            continue;
        s = vstr(&v, i, &len);
        if ((rc = split_row(e, s, (size_t)len, i))) {
            e->pend = 0;
            for (int k = 0; k <= e->nkeep; k++)
                relcol_reset(&e->out[k]);
            return fail(&x.w, rc, "cannot split: %s", rel_host->strerror(rc));
        }
        if (e->out[e->nkeep].n >= OUT_ROWS) {
            if (explode_flush_keep(e))
                return fail(&x.w, EMBER_ENOMEM, "out of memory");
            if ((rc = explode_emit(e, emit, ud, err)))
                return rc;
        }
    }
    if (explode_flush_keep(e))
        return fail(&x.w, EMBER_ENOMEM, "out of memory");
    return 0;
}

static int explode_finish(void *state, ember_emit_fn emit, void *ud,
                          ember_error *err)
{
    explode_st *e = state;
    if (e->out[e->nkeep].n == 0)
        return 0;
    for (int i = 0; i < e->nkeep; i++)
        if (!e->names[i])
            return 0;
    return explode_emit(e, emit, ud, err);
}

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
    node **bounds; /* nbounds * nkeys literals */
    int *desc, *nfirst;
    int64_t rr;
    int32_t *part;
    uint64_t *h;
    int64_t cap;
    ember_column *views;
    const char **names;
    int vcap;
    inbatch ib;
} partition_st;

static void partition_close(void *state)
{
    partition_st *pt = state;
    if (!pt)
        return;
    if (pt->bounds)
        for (int i = 0; i < pt->nbounds * pt->nkeys; i++)
            node_free(pt->bounds[i]);
    free(pt->bounds);
    free(pt->keys);
    free(pt->desc);
    free(pt->nfirst);
    free(pt->part);
    free(pt->h);
    free(pt->views);
    free(pt->names);
    inbatch_free(&pt->ib);
    free(pt);
}

static rel_sx *parse_list(const ember_host *host, const ember_params *p,
                          where *w, const char *param)
{
    ember_error e = {0, ""};
    rel_sx *x;
    w->param = param;
    x = rel_sx_parse(host->param_str(p, param), &e);
    if (!x) {
        fail(w, EMBER_EINVAL, "%s", e.msg);
        return NULL;
    }
    if (x->kind != SX_LIST) {
        fail(w, EMBER_EINVAL, "expected a list");
        rel_sx_free(x);
        return NULL;
    }
    return x;
}

static int partition_open(const ember_host *host, const ember_params *p,
                          const ember_task_info *ti, void **state,
                          ember_error *err)
{
    where w = {"rel.partition", "mode", err};
    partition_st *pt = calloc(1, sizeof *pt);
    const char *mode = host->param_str(p, "mode");
    int64_t n = host->param_int(p, "n");
    rel_sx *keys = NULL, *bounds = NULL, *orders = NULL;
    int rc = EMBER_EINVAL, pos;
    if (!pt)
        return fail(&w, EMBER_ENOMEM, "out of memory");
    if (strcmp(mode, "hash") == 0)
        pt->mode = PM_HASH;
    else if (strcmp(mode, "range") == 0)
        pt->mode = PM_RANGE;
    else if (strcmp(mode, "single") == 0)
        pt->mode = PM_SINGLE;
    else if (strcmp(mode, "roundrobin") == 0)
        pt->mode = PM_RR;
    else {
        fail(&w, EMBER_EINVAL,
             "unknown mode '%s' (hash, range, single, roundrobin)", mode);
        goto bad;
    }
    if (n < 1 || n > INT32_MAX) {
        w.param = "n";
        fail(&w, EMBER_EINVAL, "must be >= 1, got %lld", (long long)n);
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
        rc = fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    if ((pos = rel_sx_indices(keys, INT32_MAX, pt->keys)) != 0) {
        fail(&w, EMBER_EINVAL, "item %d is not a column index", pos);
        goto bad;
    }
    for (int i = 0; i < keys->n; i++)
        pt->nfirst[i] = 1; /* asc nulls_first by default, as Spark */
    if ((pt->mode == PM_HASH || pt->mode == PM_RANGE) && pt->nkeys == 0) {
        fail(&w, EMBER_EINVAL, "mode %s needs at least one key", mode);
        goto bad;
    }
    if (pt->mode == PM_RANGE) {
        w.param = "orders";
        if (orders->n != 0 && orders->n != pt->nkeys) {
            fail(&w, EMBER_EINVAL, "%d orders for %d keys", orders->n,
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
                fail(&w, EMBER_EINVAL,
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
            fail(&w, EMBER_EINVAL, "%d bounds for %d partitions (at most %d)",
                 bounds->n, pt->n, pt->n - 1);
            goto bad;
        }
        pt->nbounds = bounds->n;
        pt->bounds =
            calloc((size_t)(bounds->n * pt->nkeys) + 1, sizeof *pt->bounds);
        if (!pt->bounds) {
            pt->nbounds = 0;
            rc = fail(&w, EMBER_ENOMEM, "out of memory");
            goto bad;
        }
        for (int b = 0; b < bounds->n; b++) {
            const rel_sx *t = bounds->items[b];
            if (t->kind != SX_LIST || t->n != pt->nkeys) {
                fail(&w, EMBER_EINVAL,
                     "bound %d: expected a list of %d "
                     "literals",
                     b + 1, pt->nkeys);
                goto bad;
            }
            for (int k = 0; k < pt->nkeys; k++) {
                node *l = compile(t->items[k], &w, 0);
                if (!l)
                    goto bad;
                pt->bounds[b * pt->nkeys + k] = l;
                if (l->op != OP_LIT) {
                    fail(&w, EMBER_EINVAL, "bound %d: item %d is not a lit",
                         b + 1, k + 1);
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
                     int64_t i, const node *l, int *bad)
{
    int an = rel_isnull(c, i), bn = l->lnull, r;
    if (an || bn) {
        if (an && bn)
            return 0;
        r = an ? -1 : 1; /* null first */
        return pt->nfirst[k] ? r : -r;
    }
    r = cmp_lit(c->type, c->data, c->offsets, i, l, bad);
    r = (r > 0) - (r < 0);
    return pt->desc[k] ? -r : r;
}

static int partition_push(void *state, const ember_batch *in,
                          ember_emit_fn emit, void *ud, ember_error *err)
{
    partition_st *pt = state;
    where w = {"rel.partition", NULL, err};
    int64_t n;
    int nc, rc;
    if ((rc = inbatch_load(&pt->ib, in, &w)))
        return rc;
    n = pt->ib.n;
    nc = pt->ib.ncols;
    if (n == 0)
        return 0;
    for (int k = 0; k < pt->nkeys; k++)
        if (pt->keys[k] >= nc)
            return fail(&w, EMBER_EINVAL,
                        "keys: column %d out of range (the batch has %d "
                        "columns)",
                        pt->keys[k], nc);
    if (n > pt->cap) {
        int32_t *pp = realloc(pt->part, (size_t)n * sizeof *pp);
        uint64_t *hh;
        if (!pp)
            return fail(&w, EMBER_ENOMEM, "out of memory");
        pt->part = pp;
        hh = realloc(pt->h, (size_t)n * sizeof *hh);
        if (!hh)
            return fail(&w, EMBER_ENOMEM, "out of memory");
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
            return fail(&w, EMBER_EINVAL,
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
            return fail(&w, EMBER_ENOMEM, "out of memory");
        pt->views = v;
        nm = realloc(pt->names, (size_t)(nc + 1) * sizeof *nm);
        if (!nm)
            return fail(&w, EMBER_ENOMEM, "out of memory");
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

/* ---------------------------------------------------------- rel.limit */

static const ember_param_desc limit_params[] = {
    {"n", EMBER_PARAM_INT, NULL, "rows to pass (>= 0)"},
};

typedef struct limit_st {
    int64_t left;
    inbatch ib;
} limit_st;

static void limit_close(void *state)
{
    limit_st *l = state;
    if (!l)
        return;
    inbatch_free(&l->ib);
    free(l);
}

static int limit_open(const ember_host *host, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    where w = {"rel.limit", "n", err};
    limit_st *l;
    int64_t n = host->param_int(p, "n");
    (void)ti;
    if (n < 0)
        return fail(&w, EMBER_EINVAL, "must be >= 0, got %lld", (long long)n);
    if (!(l = calloc(1, sizeof *l)))
        return fail(&w, EMBER_ENOMEM, "out of memory");
    l->left = n;
    *state = l;
    return 0;
}

static int limit_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    limit_st *l = state;
    where w = {"rel.limit", NULL, err};
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
        if ((rc = inbatch_load(&l->ib, in, &w)))
            return rc;
        for (int i = 0; i < l->ib.ncols; i++) {
            ember_column *c = &l->ib.cols[i];
            c->length = l->left;
            c->null_count = c->type == EMBER_TYPE_NULL
                                ? l->left
                                : count_nulls(c->validity, l->left);
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
    {sizeof(ember_op_desc), "rel.explode",
     "one row per element of split(string, regex)", EMBER_OP_TRANSFORM,
     explode_params, sizeof explode_params / sizeof explode_params[0], NULL,
     explode_open, NULL, explode_push, explode_finish, explode_close, NULL},
    {sizeof(ember_op_desc), "rel.partition",
     "append each row's target partition as __part", EMBER_OP_TRANSFORM,
     partition_params, sizeof partition_params / sizeof partition_params[0],
     NULL, partition_open, NULL, partition_push, NULL, partition_close, NULL},
    {sizeof(ember_op_desc), "rel.limit", "the first n rows", EMBER_OP_TRANSFORM,
     limit_params, sizeof limit_params / sizeof limit_params[0], NULL,
     limit_open, NULL, limit_push, NULL, limit_close, NULL},
};

/* Register the operators of this file (rel_host is set). */
int rel_register_expr(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, ops, sizeof ops / sizeof ops[0], err);
}
