/*
 * expr_int.h -- op_relational's expression engine: the internals its
 * files share and the interface of the operators built on it; callable
 * only by them.
 *
 *   expr_compile.c  S-expression -> a tree of expr_nodes: function names
 *                   resolved, literals decoded, LIKE patterns compiled,
 *                   types checked where they are known;
 *   expr_eval.c     vectorized evaluation: expr_vecs and result buffers,
 *                   arithmetic, comparisons, logic, IS NULL / IN / LIKE,
 *                   CASE / COALESCE, the dispatch; and the input-batch
 *                   helpers of the operators;
 *   expr_func.c     string, date and cast functions, with the lenient
 *                   (Spark cast) text parsers casts and literals use;
 *   rowwise.c       rel.filter, rel.project, rel.limit, and the
 *                   registration of the five operators below;
 *   explode.c       rel.explode;
 *   partition.c     rel.partition.
 *
 * Expressions arrive as S-expressions (docs/dataframe-internals.md) and are
 * compiled once at open() into a tree of expr_nodes whose function names
 * are resolved to EXPR_* codes and whose literals are decoded.  Evaluation
 * is vectorized: each node evaluates over the whole batch into an expr_vec
 * (a typed column view: a borrowed input column, a scalar for literals, or
 * the node's own rel_col buffer, reused from batch to batch), with the
 * switch on types outside the loops.  Scalars are never expanded into
 * columns inside the tree; only a projected scalar is materialized.
 *
 * Types are checked at open() where they are known (calls, literals) and
 * again per batch once the input columns' types are known.
 *
 * Threads: an operator instance (and its trees) is used by one task thread
 * at a time; nothing here is global but constant tables.
 */
#ifndef EMBER_REL_EXPR_INT_H
#define EMBER_REL_EXPR_INT_H

#include "rel.h"

#include <stddef.h>
#include <stdint.h>

/* ============================================================= vectors */

/* A typed column view over the rows of one batch.  A scalar holds one
 * value (row 0) standing for every row; its nulls is 0 or n. */
typedef struct expr_vec {
    ember_type type;
    int scalar;
    int64_t n;            /* rows of the batch */
    int64_t nulls;        /* NULL rows */
    const uint8_t *valid; /* NULL: no nulls */
    const int32_t *off;   /* var-width types */
    const void *data;
} expr_vec;

#define EXPR_BIT(b, i) (((b)[(i) >> 3] >> ((i)&7)) & 1)
#define EXPR_CLRBIT(b, i) ((b)[(i) >> 3] &= (uint8_t) ~(1u << ((i)&7)))

/* row i's index in v's data (0 for a scalar) */
static inline int64_t expr_ix(const expr_vec *v, int64_t i)
{
    return v->scalar ? 0 : i;
}

/* is row i of v NULL? */
static inline int expr_vnull(const expr_vec *v, int64_t i)
{
    int64_t k = v->scalar ? 0 : i;
    return v->valid && !EXPR_BIT(v->valid, k);
}

/* row i of a string or binary v: its bytes and *len */
static inline const char *expr_vstr(const expr_vec *v, int64_t i, int32_t *len)
{
    int64_t k = v->scalar ? 0 : i;
    *len = v->off[k + 1] - v->off[k];
    return (const char *)v->data + v->off[k];
}

/* length of the UTF-8 sequence that starts with byte c */
static inline size_t expr_u8len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* ================================================================ nodes */

/* Function codes (the S-expression names are expr_compile.c's table). */
enum {
    EXPR_COL,
    EXPR_LIT,
    EXPR_ADD,
    EXPR_SUB,
    EXPR_MUL,
    EXPR_MOD,
    EXPR_DIV,
    EXPR_NEG,
    EXPR_ABS,
    EXPR_EQ,
    EXPR_NE,
    EXPR_LT,
    EXPR_LE,
    EXPR_GT,
    EXPR_GE,
    EXPR_EQNS,
    EXPR_AND,
    EXPR_OR,
    EXPR_NOT,
    EXPR_ISNULL,
    EXPR_ISNOTNULL,
    EXPR_IN,
    EXPR_LIKE,
    EXPR_CAST,
    EXPR_CASE,
    EXPR_COALESCE,
    EXPR_LOWER,
    EXPR_UPPER,
    EXPR_LENGTH,
    EXPR_TRIM,
    EXPR_LTRIM,
    EXPR_RTRIM,
    EXPR_SUBSTR,
    EXPR_CONCAT,
    EXPR_YEAR,
    EXPR_MONTH,
    EXPR_DAY,
    EXPR_TODATE,
    EXPR_DATEADD,
    EXPR_DATESUB
};

struct expr_likepat; /* a compiled LIKE pattern (expr_compile.c) */
typedef struct expr_node {
    int op;
    int type; /* result type; EXPR_COL: -1 (the batch decides) */
    int nargs;
    struct expr_node **args;
    expr_vec *av; /* arguments' values during evaluation */
    int *at;      /* arguments' types during checks */
    int col;      /* EXPR_COL */
    /* EXPR_LIT */
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
    struct expr_likepat *like; /* EXPR_LIKE */
    rel_col buf;               /* result storage, reused */
    uint8_t *tmp;              /* scratch */
    size_t tmpcap;
} expr_node;

/* Where an error is reported: the operator and its parameter. */
typedef struct expr_where {
    const char *op;
    const char *param;
    ember_error *err;
} expr_where;

/* Set err to "OP: parameter PARAM: MESSAGE" (or "OP: MESSAGE") and return
 * code. */
int expr_fail(const expr_where *w, int code, const char *fmt, ...)
    EMBER_PRINTF(3, 4);

/* ------------------------------------------------- expr_compile.c */

/* Compile S-expression x (depth: of x in the whole expression, for the
 * nesting limit).  Returns a new tree (free with expr_node_free) or NULL
 * with the error set through w. */
expr_node *expr_compile(const rel_sx *x, const expr_where *w, int depth);
/* Parse and compile the expression text of parameter `w->param`. */
expr_node *expr_compile_text(const char *text, const expr_where *w);
void expr_node_free(expr_node *nd);
/* Check nd's argument types at[] (-1: not known yet) against its function;
 * EMBER_EINVAL with the error set through w. */
int expr_check(const expr_node *nd, const int *at, const expr_where *w);
/* A type's name ("?" for -1) and a function code's name. */
const char *expr_tname(int t);
const char *expr_opname(int op);
/* Does s[0..sl) match the LIKE pattern lp? */
int expr_like_match(const struct expr_likepat *lp, const uint8_t *s, size_t sl);

/* ------------------------------------------------------- expr_eval.c */

/* What an evaluation reads: the batch's columns, its rows, where errors
 * go. */
typedef struct expr_ctx {
    const ember_column *cols;
    int ncols;
    int64_t n;
    expr_where w;
} expr_ctx;

/* Evaluate nd over the batch cx into out (valid until nd is evaluated
 * again).  Returns 0 or an error set through cx->w. */
int expr_eval(expr_node *nd, expr_ctx *cx, expr_vec *out);

/* out = an all-NULL scalar of type t standing for n rows */
void expr_vec_null(expr_vec *out, ember_type t, int64_t n);
/* NULL rows among the first n of bitmap v (0 when v is NULL) */
int64_t expr_count_nulls(const uint8_t *v, int64_t n);
/* the fields of out once the node computed `rows` rows (1 for scalars) */
static inline void expr_vec_set(expr_vec *out, ember_type t, int scalar,
                                int64_t n, const uint8_t *valid,
                                int64_t nulls_rows, const int32_t *off,
                                const void *data)
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
static inline void expr_vec_like(expr_vec *out, ember_type t, const expr_vec *a,
                                 int64_t n, const int32_t *off,
                                 const void *data)
{
    expr_vec_set(out, t, a->scalar, n, a->valid, a->scalar ? 0 : a->nulls, off,
                 data);
}

/* Is every row of a NULL?  Then out is an all-NULL t (n rows). */
static inline int expr_all_null(const expr_vec *a, int64_t n, ember_type t,
                                expr_vec *out)
{
    if (a->nulls != n)
        return 0;
    expr_vec_null(out, t, n);
    return 1;
}

static inline int expr_all_scalar(const expr_vec *a, int na)
{
    for (int k = 0; k < na; k++)
        if (!a[k].scalar)
            return 0;
    return 1;
}

/* Result buffers of a node, reused from batch to batch (NULL / nonzero
 * when out of memory): nd->buf for `rows` fixed-width values of type t;
 * its validity bitmap (contents undefined), or one initialised from v's;
 * nd->tmp with room for `bytes`. */
void *expr_res_fixed(expr_node *nd, ember_type t, int64_t rows);
uint8_t *expr_res_valid(expr_node *nd, int64_t rows);
uint8_t *expr_res_valid_from(expr_node *nd, const expr_vec *v, int64_t rows);
int expr_tmp_need(expr_node *nd, size_t bytes);

/* String output into nd->buf: begin (room for about est bytes), then per
 * row i expr_sb_put or expr_sb_null. */
int expr_sb_begin(expr_node *nd, int64_t rows, size_t est);
static inline int expr_sb_put(rel_col *c, int64_t i, const void *s, size_t len)
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

static inline void expr_sb_null(rel_col *c, int64_t i)
{
    c->off[i + 1] = (int32_t)c->data_len;
}

/* Report "out of memory evaluating an expression"; returns EMBER_ENOMEM. */
int expr_nomem(expr_ctx *cx);

/* Validity of a NULL-propagating function of args a[0..na) with result type
 * t: returns 1 when every row is NULL (out set to an all-NULL t), -1 when
 * out of memory, else 0 with *valid / *nulls (rows = 1 when all args are
 * scalar). */
int expr_prop_valid(expr_node *nd, expr_ctx *cx, const expr_vec *a, int na,
                    int64_t rows, ember_type t, expr_vec *out,
                    const uint8_t **valid, int64_t *nulls);

/* The two ends of a function of one argument a = nd->av[0] that is NULL
 * exactly where a is (LIKE, length, year/month/day, lower/upper, trims).
 * expr_map_begin: 1 when every row of a is NULL (out is then an all-NULL t
 * and the function is done), 0 when nd->buf is ready for *rows rows of
 * type t (1 row when a is a scalar; a string result begun with room for
 * a's bytes), or EMBER_ENOMEM (set in cx).  expr_map_end: out = nd->buf
 * with a's NULLs, once the loop filled it. */
int expr_map_begin(expr_node *nd, expr_ctx *cx, ember_type t, expr_vec *out,
                   int64_t *rows);
void expr_map_end(expr_node *nd, const expr_ctx *cx, expr_vec *out);

/* r[i] = EXPR(x, y) with x from expr_vec A, y from expr_vec B (columns or
 * scalars) */
#define EXPR_BINLOOP(RT, AT, BT, A, B, R, N, EXPR)                             \
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

#define EXPR_UNLOOP(RT, AT, A, R, ROWS, EXPR)                                  \
    do {                                                                       \
        const AT *pa_ = (const AT *)(A)->data;                                 \
        RT *r_ = (RT *)(R);                                                    \
        for (int64_t i_ = 0; i_ < (ROWS); i_++) {                              \
            AT x = pa_[i_];                                                    \
            r_[i_] = (RT)(EXPR);                                               \
        }                                                                      \
    } while (0)

/* Compare row i of a value of type t (data/off) with literal l: <0, 0, >0;
 * *bad set when the types cannot be compared. */
int expr_cmp_lit(ember_type t, const void *data, const int32_t *off, int64_t i,
                 const expr_node *l, int *bad);

/* --------------------------------------------------------- expr_func.c */

/* Evaluate a string, date or cast node (its arguments in nd->av). */
int expr_eval_func(expr_node *nd, expr_ctx *cx, expr_vec *out);
/* Spark's lenient casts from text: 0, or -1 when s[0..len) is not a date
 * ('yyyy-MM-dd' and what may follow it) / timestamp. */
int expr_parse_date(const char *s, size_t len, int32_t *days);
int expr_parse_ts(const char *s, size_t len, int64_t *us);

/* ========================================================== operators */

/* The input batch's columns and names, in scratch arrays of the state. */
typedef struct expr_inbatch {
    ember_column *cols;
    const char **names;
    int cap, ncols;
    int64_t n;
} expr_inbatch;

/* Load in's columns and names into ib (grown as needed).  Returns 0 or an
 * error set through w. */
int expr_inbatch_load(expr_inbatch *ib, const ember_batch *in,
                      const expr_where *w);
void expr_inbatch_free(expr_inbatch *ib);
/* A scalar v as a column of n rows in c (0 or EMBER_ENOMEM). */
int expr_materialize(rel_col *c, const expr_vec *v, int64_t n);
/* v as a column view (borrowing v's buffers). */
void expr_vec_view(const expr_vec *v, ember_column *out);

/* The descriptors of rel.explode and rel.partition, registered with the
 * others by rel_register_expr (rowwise.c). */
extern const ember_op_desc rel_explode_desc;
extern const ember_op_desc rel_partition_desc;

#endif /* EMBER_REL_EXPR_INT_H */
