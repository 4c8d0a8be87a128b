/*
 * rel.c -- the op_relational plugin: registration, column builders,
 * hashing, comparison, type names and the S-expression reader shared by
 * the operators in this directory (see rel.h).
 */
#include "rel.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

const ember_host *rel_host;

/* ------------------------------------------------------------ columns */

int rel_type_width(ember_type t)
{
    switch (t) {
    case EMBER_TYPE_BOOL:
        return 1;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        return 4;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DOUBLE:
    case EMBER_TYPE_TIMESTAMP:
        return 8;
    default:
        return 0;
    }
}

int rel_type_varwidth(ember_type t)
{
    return t == EMBER_TYPE_STRING || t == EMBER_TYPE_BINARY ||
           t == EMBER_TYPE_LUAVALUE;
}

void relcol_init(rel_col *c, ember_type t)
{
    memset(c, 0, sizeof *c);
    c->type = t;
}

void relcol_free(rel_col *c)
{
    free(c->valid);
    free(c->off);
    free(c->data);
    relcol_init(c, c->type);
}

void relcol_reset(rel_col *c)
{
    c->n = 0;
    c->nulls = 0;
    c->data_len = 0;
    if (c->valid)
        memset(c->valid, 0xff, c->valid_cap);
    if (c->off)
        c->off[0] = 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t unit)
{
    size_t nc;
    void *np;
    if (need <= *cap)
        return 0;
    nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    np = realloc(*p, nc * unit);
    if (!np)
        return EMBER_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

int relcol_reserve(rel_col *c, int64_t rows, size_t bytes)
{
    size_t need_rows = (size_t)(c->n + rows);
    if (rel_type_varwidth(c->type)) {
        size_t old = c->off_cap;
        if (grow((void **)&c->off, &c->off_cap, need_rows + 1, 4))
            return EMBER_ENOMEM;
        if (old == 0)
            c->off[0] = 0;
        if (c->data_len + bytes > (size_t)INT32_MAX)
            return EMBER_ETOOBIG;
        return grow((void **)&c->data, &c->data_cap, c->data_len + bytes, 1);
    }
    return grow((void **)&c->data, &c->data_cap,
                need_rows * (size_t)(rel_type_width(c->type) ?: 1), 1);
}

/* make the validity bitmap at least `bytes` long; new bits are 1 (valid) */
static int grow_valid(rel_col *c, size_t bytes)
{
    size_t old = c->valid_cap;
    if (bytes <= old)
        return 0;
    if (grow((void **)&c->valid, &c->valid_cap, bytes, 1))
        return EMBER_ENOMEM;
    memset(c->valid + old, 0xff, c->valid_cap - old);
    return 0;
}

/* mark row c->n valid (1) or null (0) */
static int set_valid(rel_col *c, int v)
{
    size_t byte = (size_t)(c->n >> 3);
    if (v && !c->valid)
        return 0;
    if (grow_valid(c, byte + 1))
        return EMBER_ENOMEM;
    if (!v) {
        c->valid[byte] &= (uint8_t) ~(1u << (c->n & 7));
        c->nulls++;
    }
    return 0;
}

static int put_fixed(rel_col *c, const void *v, size_t w)
{
    if (relcol_reserve(c, 1, 0))
        return EMBER_ENOMEM;
    if (set_valid(c, 1))
        return EMBER_ENOMEM;
    memcpy(c->data + (size_t)c->n * w, v, w);
    c->n++;
    return 0;
}

int relcol_append_null(rel_col *c)
{
    if (relcol_reserve(c, 1, 0) || set_valid(c, 0))
        return EMBER_ENOMEM;
    if (rel_type_varwidth(c->type))
        c->off[c->n + 1] = (int32_t)c->data_len;
    else if (rel_type_width(c->type))
        memset(c->data + (size_t)c->n * (size_t)rel_type_width(c->type), 0,
               (size_t)rel_type_width(c->type));
    c->n++;
    return 0;
}

int relcol_append_bool(rel_col *c, int v)
{
    uint8_t b = v != 0;
    return put_fixed(c, &b, 1);
}

int relcol_append_i32(rel_col *c, int32_t v)
{
    return put_fixed(c, &v, 4);
}

int relcol_append_i64(rel_col *c, int64_t v)
{
    return put_fixed(c, &v, 8);
}

int relcol_append_f64(rel_col *c, double v)
{
    return put_fixed(c, &v, 8);
}

int relcol_append_str(rel_col *c, const char *s, size_t len)
{
    int rc = relcol_reserve(c, 1, len);
    if (rc)
        return rc;
    if (set_valid(c, 1))
        return EMBER_ENOMEM;
    if (len)
        memcpy(c->data + c->data_len, s, len);
    c->data_len += len;
    c->off[c->n + 1] = (int32_t)c->data_len;
    c->n++;
    return 0;
}

int relcol_append_from(rel_col *c, const ember_column *src, int64_t row)
{
    if (rel_isnull(src, row))
        return relcol_append_null(c);
    if (rel_type_varwidth(c->type)) {
        size_t len;
        const char *s = rel_str(src, row, &len);
        return relcol_append_str(c, s, len);
    }
    if (c->type == EMBER_TYPE_NULL)
        return relcol_append_null(c);
    return put_fixed(c,
                     (const uint8_t *)src->data +
                         (size_t)row * (size_t)rel_type_width(c->type),
                     (size_t)rel_type_width(c->type));
}

int relcol_gather(rel_col *c, const ember_column *src, const int32_t *sel,
                  int64_t n)
{
    int w = rel_type_width(c->type);
    if (c->type == EMBER_TYPE_NULL || src->null_count > 0 ||
        rel_type_varwidth(c->type)) {
        size_t bytes = 0;
        if (rel_type_varwidth(c->type) && src->null_count == 0)
            for (int64_t k = 0; k < n; k++)
                bytes +=
                    (size_t)(src->offsets[sel[k] + 1] - src->offsets[sel[k]]);
        if (relcol_reserve(c, n, bytes))
            return EMBER_ENOMEM;
        for (int64_t k = 0; k < n; k++) {
            int rc = relcol_append_from(c, src, sel[k]);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (relcol_reserve(c, n, 0))
        return EMBER_ENOMEM;
    /* rows appended here are valid: once a bitmap exists, cover them with
     * 1 bits (bits past c->n are kept 1, see relcol_reset) */
    if (c->valid && grow_valid(c, (size_t)((c->n + n) >> 3) + 1))
        return EMBER_ENOMEM;
    {
        uint8_t *dst = c->data + (size_t)c->n * (size_t)w;
        const uint8_t *s = src->data;
        switch (w) {
        case 8:
            for (int64_t k = 0; k < n; k++)
                memcpy(dst + k * 8, s + (size_t)sel[k] * 8, 8);
            break;
        case 4:
            for (int64_t k = 0; k < n; k++)
                memcpy(dst + k * 4, s + (size_t)sel[k] * 4, 4);
            break;
        default:
            for (int64_t k = 0; k < n; k++)
                dst[k] = s[sel[k]];
        }
    }
    c->n += n;
    return 0;
}

size_t relcol_bytes(const rel_col *c)
{
    return c->valid_cap + c->off_cap * 4 + c->data_cap;
}

void relcol_view(const rel_col *c, ember_column *out)
{
    out->type = c->type;
    out->length = c->n;
    out->null_count = c->nulls;
    out->validity = c->nulls ? c->valid : NULL;
    out->offsets = rel_type_varwidth(c->type) ? c->off : NULL;
    if (rel_type_varwidth(c->type) && !c->off) {
        static const int32_t zero = 0;
        out->offsets = &zero;
    }
    out->data = c->data;
}

int rel_emit_batch(const ember_batch *b, ember_emit_fn emit, void *ud,
                   ember_error *err)
{
    int rc = emit(ud, b);
    if (rc < 0 && rc != EMBER_ESTOP && err && err->msg[0] == 0)
        rel_host->seterr(err, rc, "downstream failed: %s",
                         rel_host->strerror(rc));
    return rc < 0 ? rc : 0;
}

static ember_batch *batch_new(ember_error *err)
{
    ember_batch *b = rel_host->batch_new();
    if (!b)
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory building a batch");
    return b;
}

static int add_view(ember_batch *b, const char *name, const ember_column *v)
{
    return rel_host->batch_add_column_data(b, name, v->type, v->length,
                                           v->null_count ? v->validity : NULL,
                                           v->offsets, v->data);
}

/* emit b once its columns were added (rc: the last add's code); free it */
static int emit_built(ember_batch *b, int rc, ember_emit_fn emit, void *ud,
                      ember_error *err)
{
    if (rc < 0)
        rel_host->seterr(err, rc, "cannot build a batch: %s",
                         rel_host->strerror(rc));
    else
        rc = rel_emit_batch(b, emit, ud, err);
    rel_host->batch_free(&b);
    return rc < 0 ? rc : 0;
}

int rel_emit_views(const ember_column *v, const char *const *names, int n,
                   ember_emit_fn emit, void *ud, ember_error *err)
{
    ember_batch *b = batch_new(err);
    int rc = 0;
    if (!b)
        return EMBER_ENOMEM;
    for (int i = 0; i < n && rc >= 0; i++)
        rc = add_view(b, names[i], &v[i]);
    return emit_built(b, rc, emit, ud, err);
}

int rel_emit(rel_col *cols, const char *const *names, int n, ember_emit_fn emit,
             void *ud, ember_error *err)
{
    ember_batch *b = batch_new(err);
    int rc = 0;
    if (!b)
        return EMBER_ENOMEM;
    for (int i = 0; i < n && rc >= 0; i++) {
        ember_column v;
        relcol_view(&cols[i], &v);
        rc = add_view(b, names[i], &v);
    }
    rc = emit_built(b, rc, emit, ud, err);
    for (int i = 0; i < n; i++)
        relcol_reset(&cols[i]);
    return rc;
}

/* ------------------------------------------------- hashing, comparing */

void rel_hash_col(const ember_column *c, int64_t off, int64_t n, uint64_t *h,
                  uint8_t *nul, int first)
{
    /* three loops per type: no bitmap (first column / next columns), and
     * with a bitmap */
#define HLOOP(EXPR)                                                            \
    if (!c->validity && first)                                                 \
        for (int64_t i = 0; i < n; i++)                                        \
            h[i] = rel_mix64((EXPR) ^ REL_HSEED);                              \
    else if (!c->validity)                                                     \
        for (int64_t i = 0; i < n; i++)                                        \
            h[i] = rel_mix64((h[i] * REL_HMUL) ^ (EXPR));                      \
    else                                                                       \
        for (int64_t i = 0; i < n; i++) {                                      \
            uint64_t v_ = rel_valid_bit(c, off + i) ? (EXPR) : REL_NULL_HASH;  \
            h[i] = rel_mix64(first ? v_ ^ REL_HSEED : (h[i] * REL_HMUL) ^ v_); \
        }
    switch (c->type) {
    case EMBER_TYPE_NULL:
        for (int64_t i = 0; i < n; i++)
            h[i] = rel_mix64(first ? REL_NULL_HASH ^ REL_HSEED
                                   : (h[i] * REL_HMUL) ^ REL_NULL_HASH);
        if (nul)
            memset(nul, 1, (size_t)n);
        return;
    case EMBER_TYPE_BOOL: {
        const uint8_t *v = (const uint8_t *)c->data + off;
        HLOOP((uint64_t)(v[i] != 0))
        break;
    }
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32: {
        const int32_t *v = (const int32_t *)c->data + off;
        HLOOP((uint64_t)(int64_t)v[i])
        break;
    }
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP: {
        const int64_t *v = (const int64_t *)c->data + off;
        HLOOP((uint64_t)v[i])
        break;
    }
    case EMBER_TYPE_DOUBLE: {
        const double *v = (const double *)c->data + off;
        HLOOP(rel_dbl_bits(v[i]))
        break;
    }
    default: {
        const int32_t *o = c->offsets + off;
        const uint8_t *d = c->data;
        HLOOP(rel_hash_bytes(d + o[i], (size_t)(o[i + 1] - o[i])))
        break;
    }
    }
#undef HLOOP
    if (nul && c->validity)
        for (int64_t i = 0; i < n; i++)
            if (!rel_valid_bit(c, off + i))
                nul[i] = 1;
}

uint64_t rel_hash_value(const ember_column *c, int64_t i, uint64_t seed)
{
    uint64_t h;
    if (rel_isnull(c, i))
        return rel_mix64(seed ^ 0x9e3779b97f4a7c15ULL);
    switch (c->type) {
    case EMBER_TYPE_BOOL:
        h = (uint64_t)rel_bool(c, i);
        break;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        h = (uint64_t)(int64_t)rel_i32(c, i);
        break;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        h = (uint64_t)rel_i64(c, i);
        break;
    case EMBER_TYPE_DOUBLE: {
        double d = rel_f64(c, i);
        if (d == 0)
            d = 0; /* -0.0 == 0.0 */
        memcpy(&h, &d, 8);
        break;
    }
    default: { /* FNV-1a over the bytes */
        size_t len;
        const unsigned char *s = (const unsigned char *)rel_str(c, i, &len);
        h = 0xcbf29ce484222325ULL;
        for (size_t k = 0; k < len; k++)
            h = (h ^ s[k]) * 0x100000001b3ULL;
        break;
    }
    }
    return rel_mix64(h ^ seed * 0x9e3779b97f4a7c15ULL);
}

int rel_cmp_value(const ember_column *a, int64_t i, const ember_column *b,
                  int64_t j)
{
    switch (a->type) {
    case EMBER_TYPE_BOOL:
        return rel_bool(a, i) - rel_bool(b, j);
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32: {
        int32_t x = rel_i32(a, i), y = rel_i32(b, j);
        return (x > y) - (x < y);
    }
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP: {
        int64_t x = rel_i64(a, i), y = rel_i64(b, j);
        return (x > y) - (x < y);
    }
    case EMBER_TYPE_DOUBLE: {
        /* NaN sorts after everything and equals itself, as in Spark */
        double x = rel_f64(a, i), y = rel_f64(b, j);
        int xn = x != x, yn = y != y;
        if (xn || yn)
            return xn - yn;
        return (x > y) - (x < y);
    }
    case EMBER_TYPE_NULL:
        return 0;
    default: {
        size_t la, lb;
        const char *x = rel_str(a, i, &la), *y = rel_str(b, j, &lb);
        int r = memcmp(x, y, la < lb ? la : lb);
        if (r)
            return r < 0 ? -1 : 1;
        return (la > lb) - (la < lb);
    }
    }
}

/* --------------------------------------------------------- type names */

static const struct {
    const char *name;
    ember_type t;
} type_names[] = {
    {"boolean", EMBER_TYPE_BOOL},        {"int", EMBER_TYPE_INT32},
    {"bigint", EMBER_TYPE_INT64},        {"double", EMBER_TYPE_DOUBLE},
    {"string", EMBER_TYPE_STRING},       {"date", EMBER_TYPE_DATE32},
    {"timestamp", EMBER_TYPE_TIMESTAMP}, {"binary", EMBER_TYPE_BINARY},
    {"null", EMBER_TYPE_NULL},           {"luavalue", EMBER_TYPE_LUAVALUE},
};

int rel_type_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strlen(type_names[i].name) == len &&
            strncasecmp(type_names[i].name, name, len) == 0)
            return (int)type_names[i].t;
    return -1;
}

const char *rel_type_name(ember_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].t == t)
            return type_names[i].name;
    return "unknown";
}

/* -------------------------------------------------------- S-expressions */

typedef struct sxp {
    const char *s, *p;
    ember_error *err;
    int depth;
} sxp;

static rel_sx *sx_fail(sxp *x, const char *what)
{
    rel_host->seterr(x->err, EMBER_EINVAL, "bad expression at byte %d: %s",
                     (int)(x->p - x->s), what);
    return NULL;
}

static void sx_ws(sxp *x)
{
    while (*x->p && isspace((unsigned char)*x->p))
        x->p++;
}

static rel_sx *sx_new(rel_sx_kind k)
{
    rel_sx *n = calloc(1, sizeof *n);
    if (n)
        n->kind = k;
    return n;
}

static rel_sx *sx_read(sxp *x)
{
    rel_sx *n;
    sx_ws(x);
    if (!*x->p)
        return sx_fail(x, "unexpected end");
    if (*x->p == '(') {
        int cap = 0;
        if (++x->depth > 200)
            return sx_fail(x, "nested too deeply");
        x->p++;
        n = sx_new(SX_LIST);
        if (!n)
            return sx_fail(x, "out of memory");
        for (;;) {
            rel_sx *it;
            sx_ws(x);
            if (*x->p == ')') {
                x->p++;
                x->depth--;
                return n;
            }
            if (!*x->p) {
                rel_sx_free(n);
                return sx_fail(x, "missing ')'");
            }
            it = sx_read(x);
            if (!it) {
                rel_sx_free(n);
                return NULL;
            }
            if (n->n == cap) {
                rel_sx **ni;
                cap = cap ? cap * 2 : 4;
                ni = realloc(n->items, (size_t)cap * sizeof *ni);
                if (!ni) {
                    rel_sx_free(it);
                    rel_sx_free(n);
                    return sx_fail(x, "out of memory");
                }
                n->items = ni;
            }
            n->items[n->n++] = it;
        }
    }
    if (*x->p == ')')
        return sx_fail(x, "unexpected ')'");
    if (*x->p == '"') {
        size_t cap = 16, len = 0;
        char *out = malloc(cap);
        x->p++;
        while (out && *x->p != '"') {
            char c = *x->p;
            if (!c) {
                free(out);
                return sx_fail(x, "unterminated string");
            }
            if (c == '\\') {
                x->p++;
                c = *x->p;
                if (c == 'n')
                    c = '\n';
                else if (c == 't')
                    c = '\t';
                else if (c == '0')
                    c = '\0';
                else if (c != '"' && c != '\\') {
                    free(out);
                    return sx_fail(x, "bad escape in string");
                }
            }
            if (len + 2 > cap) {
                char *no = realloc(out, cap * 2);
                if (!no) {
                    free(out);
                    out = NULL;
                    break;
                }
                out = no;
                cap *= 2;
            }
            out[len++] = c;
            x->p++;
        }
        if (!out)
            return sx_fail(x, "out of memory");
        x->p++;
        out[len] = 0;
        n = sx_new(SX_STR);
        if (!n) {
            free(out);
            return sx_fail(x, "out of memory");
        }
        n->s = out;
        n->len = len;
        return n;
    }
    {
        const char *b = x->p;
        size_t len;
        while (*x->p && !isspace((unsigned char)*x->p) && *x->p != '(' &&
               *x->p != ')' && *x->p != '"')
            x->p++;
        len = (size_t)(x->p - b);
        n = sx_new(SX_SYM);
        if (!n)
            return sx_fail(x, "out of memory");
        n->s = strndup(b, len);
        if (!n->s) {
            free(n);
            return sx_fail(x, "out of memory");
        }
        n->len = len;
        if (isdigit((unsigned char)b[0]) ||
            ((b[0] == '-' || b[0] == '+') && len > 1 &&
             (isdigit((unsigned char)b[1]) || b[1] == '.')) ||
            (b[0] == '.' && len > 1) || strcmp(n->s, "inf") == 0 ||
            strcmp(n->s, "-inf") == 0 || strcmp(n->s, "nan") == 0) {
            char *end;
            errno = 0;
            long long v = strtoll(n->s, &end, 10);
            if (*end == 0 && errno == 0) {
                n->kind = SX_INT;
                n->i = v;
                n->d = (double)v;
            } else {
                n->d = strtod(n->s, &end);
                if (*end != 0) {
                    rel_sx_free(n);
                    return sx_fail(x, "bad number");
                }
                n->kind = SX_NUM;
            }
        }
        return n;
    }
}

rel_sx *rel_sx_parse(const char *text, ember_error *err)
{
    sxp x = {text ? text : "", text ? text : "", err, 0};
    rel_sx *n = sx_read(&x);
    if (!n)
        return NULL;
    sx_ws(&x);
    if (*x.p) {
        rel_sx_free(n);
        return sx_fail(&x, "trailing text");
    }
    return n;
}

void rel_sx_free(rel_sx *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->n; i++)
        rel_sx_free(x->items[i]);
    free(x->items);
    free(x->s);
    free(x);
}

int rel_sx_is(const rel_sx *x, const char *name)
{
    return x && x->kind == SX_SYM && strcmp(x->s, name) == 0;
}

int rel_sx_head(const rel_sx *x, const char *name)
{
    return x && x->kind == SX_LIST && x->n > 0 && rel_sx_is(x->items[0], name);
}

int rel_sx_indices(const rel_sx *x, int64_t max, int *out)
{
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        if (it->kind != SX_INT || it->i < 0 || it->i > max)
            return i + 1;
        out[i] = (int)it->i;
    }
    return 0;
}

/* ----------------------------------------------------- registration */

int rel_register_ops(ember_registry *reg, const ember_op_desc *ops, size_t n,
                     ember_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = rel_host->register_op(reg, &ops[i]);
        if (rc) {
            rel_host->seterr(err, rc, "cannot register %s", ops[i].name);
            return rc;
        }
    }
    return 0;
}

/* Files not written yet register nothing: weak defaults. */
#define WEAK_REG(fn)                                                           \
    __attribute__((weak)) int fn(ember_registry *reg, ember_error *err)        \
    {                                                                          \
        (void)reg;                                                             \
        (void)err;                                                             \
        return 0;                                                              \
    }
WEAK_REG(rel_register_expr)
WEAK_REG(rel_register_scan)
WEAK_REG(rel_register_agg)
WEAK_REG(rel_register_join)
WEAK_REG(rel_register_sort)
WEAK_REG(rel_register_write)
WEAK_REG(rel_register_colfile)

static int rel_init(const ember_host *host, ember_registry *reg,
                    ember_error *err)
{
    int (*const regs[])(ember_registry *, ember_error *) = {
        rel_register_expr,   rel_register_scan, rel_register_agg,
        rel_register_join,   rel_register_sort, rel_register_write,
        rel_register_colfile};
    if (host->abi_minor < 2 || host->struct_size < sizeof(ember_host)) {
        host->seterr(err, EMBER_EABI,
                     "op_relational needs ember ABI 1.2 (host has %d.%d)",
                     host->abi_major, host->abi_minor);
        return EMBER_EABI;
    }
    rel_host = host;
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        int rc = regs[i](reg, err);
        if (rc)
            return rc;
    }
    return 0;
}

EMBER_PLUGIN_DEFINE("op_relational", "0.1.0", rel_init, NULL)
