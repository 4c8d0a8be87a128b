/*
 * colfile.c -- the operators of ember's columnar files (.ecol; the format
 * is ecol.c's, see ecol.h):
 *
 *   rel.col_write  sink:   batches -> <dir>/part-NNNNN.ecol
 *   rel.col_scan   source: .ecol files -> batches (column pruning,
 *                          row-group skipping by min/max statistics)
 *
 * Writing buffers one row group per column in rel_col builders and hands
 * it to the format's writer when it holds row_group_rows rows (or a column
 * holds more than FLUSH_BYTES bytes).  The file is written as
 * part-NNNNN-<attempt>.ecol.tmp and renamed into place at finish, so a
 * file under its final name is always complete.  Reading plans one split
 * per file (or per max_partition_bytes of a large one: a split reads the
 * row groups that start inside it), opens the file (its footer is checked
 * in full), skips the row groups whose statistics rule out a conjunction
 * of predicates, decodes the selected chunks of one row group at a time
 * into reused buffers and emits batches of EMIT_ROWS rows.
 *
 * State: only rel_host (rel.c) and constant tables; instances belong to
 * one task thread.
 */
#include "ecol.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMIT_ROWS 8192
#define FLUSH_BYTES ((size_t)128 << 20)

/* ------------------------------------------------------------ columns */

static int is_intlike(ember_type t)
{
    return t == EMBER_TYPE_INT32 || t == EMBER_TYPE_INT64 ||
           t == EMBER_TYPE_DATE32 || t == EMBER_TYPE_TIMESTAMP;
}

/* Append rows [from, from + k) of src (same type) to c in bulk. */
static int col_append_range(rel_col *c, const ember_column *src, int64_t from,
                            int64_t k)
{
    int w = rel_type_width(c->type);
    int var = rel_type_varwidth(c->type);
    size_t bytes = 0;
    int rc;
    if (k <= 0)
        return 0;
    if (var)
        bytes = (size_t)(src->offsets[from + k] - src->offsets[from]);
    if ((rc = relcol_reserve(c, k, bytes)) != 0)
        return rc;
    if (src->validity && src->null_count > 0) {
        size_t need = (size_t)((c->n + k + 7) >> 3);
        if (need > c->valid_cap) {
            size_t nc = c->valid_cap ? c->valid_cap : 64;
            uint8_t *nv;
            while (nc < need)
                nc *= 2;
            nv = realloc(c->valid, nc);
            if (!nv)
                return EMBER_ENOMEM;
            /* rows past n are valid until marked otherwise */
            memset(nv + c->valid_cap, 0xff, nc - c->valid_cap);
            c->valid = nv;
            c->valid_cap = nc;
        }
        for (int64_t i = 0; i < k; i++)
            if (!rel_valid_bit(src, from + i)) {
                int64_t r = c->n + i;
                c->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
                c->nulls++;
            }
    }
    if (var) {
        const int32_t *so = src->offsets + from;
        int32_t base = (int32_t)c->data_len - so[0];
        int32_t *d = c->off + c->n + 1;
        if (bytes)
            memcpy(c->data + c->data_len, (const uint8_t *)src->data + so[0],
                   bytes);
        for (int64_t i = 0; i < k; i++)
            d[i] = so[i + 1] + base;
        c->data_len += bytes;
    } else if (c->type == EMBER_TYPE_BOOL) {
        const uint8_t *s = (const uint8_t *)src->data + from;
        uint8_t *d = c->data + c->n;
        for (int64_t i = 0; i < k; i++)
            d[i] = s[i] != 0;
    } else {
        memcpy(c->data + (size_t)c->n * (size_t)w,
               (const uint8_t *)src->data + (size_t)from * (size_t)w,
               (size_t)k * (size_t)w);
    }
    c->n += k;
    return 0;
}

/* ------------------------------------------------------- rel.col_write */

static const ember_param_desc write_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "output directory (must exist)"},
    {"row_group_rows", EMBER_PARAM_INT, "65536", "rows per row group"},
};

typedef struct cwriter {
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    FILE *f;
    int64_t rg_rows;
    int ncols;
    char **names;
    ember_type *types;
    rel_col *cols; /* the row group being filled */
    ecol_writer ew;
    int created;   /* the temporary file exists */
    int committed; /* renamed into place */
    int broken;    /* an earlier call failed */
} cwriter;

static void writer_free(cwriter *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->created && !w->committed)
        unlink(w->tmp);
    for (int i = 0; i < w->ncols; i++) {
        free(w->names[i]);
        relcol_free(&w->cols[i]);
    }
    free(w->names);
    free(w->types);
    free(w->cols);
    ecol_writer_free(&w->ew);
    free(w);
}

static int write_open(const ember_host *h, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    const char *dir = h->param_str(p, "path");
    int64_t rg = h->param_int(p, "row_group_rows");
    struct stat st;
    cwriter *w;
    int n1, n2;
    if (rg < 1 || rg > ECOL_MAX_RG_ROWS) {
        h->seterr(err, EMBER_EINVAL,
                  "rel.col_write: parameter row_group_rows must be between 1 "
                  "and %d, not %lld",
                  ECOL_MAX_RG_ROWS, (long long)rg);
        return EMBER_EINVAL;
    }
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        h->seterr(err, EMBER_ENOTFOUND,
                  "rel.col_write: parameter path: %s is not a directory",
                  dir ? dir : "(null)");
        return EMBER_ENOTFOUND;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        h->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
        return EMBER_ENOMEM;
    }
    w->rg_rows = rg;
    n1 = snprintf(w->final, sizeof w->final, "%s/part-%05d.ecol", dir,
                  ti->partition);
    n2 = snprintf(w->tmp, sizeof w->tmp, "%s/part-%05d-%d.ecol.tmp", dir,
                  ti->partition, ti->attempt);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof w->final ||
        (size_t)n2 >= sizeof w->tmp) {
        free(w);
        h->seterr(err, EMBER_EINVAL, "rel.col_write: path too long: %s", dir);
        return EMBER_EINVAL;
    }
    *state = w; /* the file is created by the first push */
    return 0;
}

static int io_fail(cwriter *w, ember_error *err)
{
    rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot write %s: %s",
                     w->tmp, strerror(errno));
    return EMBER_EIO;
}

/* First batch: take its schema, create the temporary file. */
static int writer_start(cwriter *w, const ember_batch *in, ember_error *err)
{
    int n = rel_host->batch_num_columns(in);
    if (n < 1 || n > 65535) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "rel.col_write: a batch with %d columns cannot be "
                         "written (1 to 65535)",
                         n);
        return EMBER_EINVAL;
    }
    w->names = calloc((size_t)n, sizeof *w->names);
    w->types = calloc((size_t)n, sizeof *w->types);
    w->cols = calloc((size_t)n, sizeof *w->cols);
    if (!w->names || !w->types || !w->cols)
        goto oom;
    w->ncols = n;
    for (int i = 0; i < n; i++) {
        ember_column c;
        const char *name = rel_host->batch_column_name(in, i);
        rel_host->batch_column(in, i, &c);
        relcol_init(&w->cols[i], c.type);
        if (!ecol_supported_type(c.type)) {
            rel_host->seterr(err, EMBER_EUNSUPPORTED,
                             "rel.col_write: column %d (%s) has type %s, "
                             "which .ecol files cannot hold",
                             i, name ? name : "?", rel_type_name(c.type));
            return EMBER_EUNSUPPORTED;
        }
        if (!name || strlen(name) > 65535) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_write: column %d has no usable name", i);
            return EMBER_EINVAL;
        }
        w->types[i] = c.type;
        if (!(w->names[i] = strdup(name)))
            goto oom;
    }
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot create %s: %s",
                         w->tmp, strerror(errno));
        return EMBER_EIO;
    }
    w->created = 1;
    return ecol_writer_begin(&w->ew, w->f, w->tmp, n, w->names, w->types, err);
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
    return EMBER_ENOMEM;
}

static int write_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    cwriter *w = state;
    int64_t n = rel_host->batch_num_rows(in), pos = 0;
    int rc;
    (void)emit;
    (void)ud;
    if (w->committed || w->broken) {
        rel_host->seterr(err, EMBER_EINVAL, "rel.col_write: push after %s",
                         w->broken ? "an error" : "finish");
        return EMBER_EINVAL;
    }
    w->broken = 1; /* until this push succeeds */
    if (!w->created) {
        if ((rc = writer_start(w, in, err)) != 0)
            return rc;
    } else {
        int nc = rel_host->batch_num_columns(in);
        int same = nc == w->ncols;
        for (int i = 0; same && i < nc; i++) {
            ember_column c;
            const char *name = rel_host->batch_column_name(in, i);
            rel_host->batch_column(in, i, &c);
            same =
                c.type == w->types[i] && name && strcmp(name, w->names[i]) == 0;
        }
        if (!same) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_write: a batch's schema differs from "
                             "the first batch's (%d columns, first %s %s)",
                             w->ncols, w->names[0], rel_type_name(w->types[0]));
            return EMBER_EINVAL;
        }
    }
    while (pos < n) {
        int64_t k = w->rg_rows - w->cols[0].n;
        int full = 0;
        if (k > n - pos)
            k = n - pos;
        for (int i = 0; i < w->ncols; i++) {
            ember_column c;
            rel_host->batch_column(in, i, &c);
            rc = col_append_range(&w->cols[i], &c, pos, k);
            if (rc) {
                rel_host->seterr(err, rc, "rel.col_write: %s",
                                 rc == EMBER_ENOMEM ? "out of memory"
                                                    : "column data too big");
                return rc;
            }
            if (w->cols[i].data_len > FLUSH_BYTES)
                full = 1;
        }
        pos += k;
        if (full || w->cols[0].n >= w->rg_rows)
            if ((rc = ecol_writer_add_rg(&w->ew, w->cols, err)) != 0)
                return rc;
    }
    w->broken = 0;
    return 0;
}

static int write_finish(void *state, ember_emit_fn emit, void *ud,
                        ember_error *err)
{
    cwriter *w = state;
    int rc;
    (void)emit;
    (void)ud;
    if (w->broken) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "rel.col_write: finish after an error");
        return EMBER_EINVAL;
    }
    if (!w->created || w->committed)
        return 0; /* no batch: no file */
    w->broken = 1;
    if ((rc = ecol_writer_add_rg(&w->ew, w->cols, err)) != 0 ||
        (rc = ecol_writer_finish(&w->ew, err)) != 0)
        return rc;
    rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0)
        return io_fail(w, err);
    if (rename(w->tmp, w->final) != 0) {
        rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot commit %s: %s",
                         w->final, strerror(errno));
        return EMBER_EIO;
    }
    w->committed = 1;
    w->broken = 0;
    return 0;
}

static void write_close(void *state)
{
    writer_free(state);
}

/* -------------------------------------------------------- rel.col_scan */

static const ember_param_desc scan_params[] = {
    {"path", EMBER_PARAM_STRING, NULL,
     "file, directory (its *.ecol files) or glob to read"},
    {"columns", EMBER_PARAM_STRING, "()",
     "schema column indices to output, in order; () = all"},
    {"filter", EMBER_PARAM_STRING, "()",
     "conjunction of (op col (lit T V)) used to skip row groups by stats"},
    {"infer", EMBER_PARAM_BOOL, "false",
     "emit the schema (name, type) instead of the data"},
    {"max_partition_bytes", EMBER_PARAM_INT, "134217728",
     "files larger than this are read by several tasks"},
};

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_names[] = {"eq", "ne", "lt", "le", "gt", "ge"};

enum { LIT_NULL, LIT_INT, LIT_DBL, LIT_STR, LIT_BOOL };

typedef struct pred {
    int op, col, kind;
    int64_t i;
    double d;
    const char *s; /* into the parsed filter */
    size_t slen;
} pred;

typedef struct cscan {
    char *path;
    int64_t off, len;
    int infer;
    int all_cols; /* columns = () */
    int *sel;
    int nsel;
    pred *preds;
    int npreds;
    rel_sx *filter;
    void (*add_counter)(void *ctx, const char *name, int64_t delta);
    void *ctx;
} cscan;

static int bad_param(ember_error *err, const char *param, const char *what,
                     const char *detail)
{
    rel_host->seterr(err, EMBER_EINVAL, "rel.col_scan: parameter %s: %s%s%s",
                     param, what, detail && *detail ? ": " : "",
                     detail ? detail : "");
    return EMBER_EINVAL;
}

/* columns: ( i ... ) */
static int parse_columns(cscan *s, const char *text, ember_error *err)
{
    ember_error e2 = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e2);
    int rc = 0;
    if (!x)
        return bad_param(err, "columns", "not an S-expression", e2.msg);
    if (x->kind != SX_LIST) {
        rel_sx_free(x);
        return bad_param(err, "columns", "want a list of column indices", text);
    }
    s->all_cols = x->n == 0;
    s->nsel = x->n;
    s->sel = calloc(x->n ? (size_t)x->n : 1, sizeof *s->sel);
    if (!s->sel)
        rc = bad_param(err, "columns", "out of memory", NULL);
    if (!rc && rel_sx_indices(x, 65535, s->sel))
        rc =
            bad_param(err, "columns", "want non-negative column indices", text);
    rel_sx_free(x);
    return rc;
}

static int parse_lit(const rel_sx *l, pred *p)
{
    const rel_sx *v;
    int t;
    if (!rel_sx_head(l, "lit") || l->n != 3 || l->items[1]->kind != SX_SYM)
        return -1;
    v = l->items[2];
    t = rel_type_from_name(l->items[1]->s, strlen(l->items[1]->s));
    if (rel_sx_is(v, "null") || t == EMBER_TYPE_NULL) {
        p->kind = LIT_NULL;
        return 0;
    }
    switch (t) {
    case EMBER_TYPE_BOOL:
        p->kind = LIT_BOOL;
        if (rel_sx_is(v, "true") || (v->kind == SX_INT && v->i == 1))
            p->i = 1;
        else if (rel_sx_is(v, "false") || (v->kind == SX_INT && v->i == 0))
            p->i = 0;
        else
            return -1;
        return 0;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_TIMESTAMP:
    case EMBER_TYPE_DOUBLE:
        if (v->kind == SX_INT) {
            p->kind = LIT_INT;
            p->i = v->i;
            p->d = v->d;
        } else if (v->kind == SX_NUM) {
            p->kind = LIT_DBL;
            p->d = v->d;
        } else {
            return -1;
        }
        return 0;
    case EMBER_TYPE_STRING:
    case EMBER_TYPE_BINARY:
        if (v->kind != SX_STR)
            return -1;
        p->kind = LIT_STR;
        p->s = v->s;
        p->slen = v->len;
        return 0;
    default:
        return -1;
    }
}

/* filter: ( (op col (lit T V)) ... ), also one bare predicate or (and ...) */
static int parse_filter(cscan *s, const char *text, ember_error *err)
{
    ember_error e2 = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e2);
    const rel_sx *const *items;
    int n, first = 0;
    if (!x)
        return bad_param(err, "filter", "not an S-expression", e2.msg);
    s->filter = x;
    if (x->kind != SX_LIST)
        return bad_param(err, "filter", "want a list of predicates", text);
    items = (const rel_sx *const *)x->items;
    n = x->n;
    if (n > 0 && x->items[0]->kind == SX_SYM) {
        if (rel_sx_is(x->items[0], "and")) {
            first = 1;
        } else { /* one bare predicate */
            items = (const rel_sx *const *)&s->filter;
            n = 1;
        }
    }
    s->preds = calloc(n ? (size_t)n : 1, sizeof *s->preds);
    if (!s->preds)
        return bad_param(err, "filter", "out of memory", NULL);
    for (int k = first; k < n; k++) {
        const rel_sx *q = items[k];
        pred *p = &s->preds[s->npreds];
        int op = -1;
        for (int o = 0; q->kind == SX_LIST && q->n == 3 && o < 6; o++)
            if (rel_sx_is(q->items[0], op_names[o]))
                op = o;
        if (op < 0 || q->items[1]->kind != SX_INT || q->items[1]->i < 0 ||
            q->items[1]->i > 65535)
            return bad_param(err, "filter",
                             "want (op column (lit T V)) with op one of eq "
                             "ne lt le gt ge",
                             text);
        p->op = op;
        p->col = (int)q->items[1]->i;
        if (parse_lit(q->items[2], p))
            return bad_param(err, "filter",
                             "bad literal, want (lit T V) with T boolean int "
                             "bigint double string date timestamp",
                             text);
        s->npreds++;
    }
    return 0;
}

static void scan_free(cscan *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->sel);
    free(s->preds);
    rel_sx_free(s->filter);
    free(s);
}

static int scan_parse(cscan *s, const ember_host *h, const ember_params *p,
                      ember_error *err)
{
    int rc = parse_columns(s, h->param_str(p, "columns"), err);
    if (!rc)
        rc = parse_filter(s, h->param_str(p, "filter"), err);
    return rc;
}

/* --- planning */

static int scan_plan(const ember_host *h, const ember_params *p,
                     int min_partitions, ember_split_list *out,
                     ember_error *err)
{
    const char *pattern = h->param_str(p, "path");
    int64_t maxb = h->param_int(p, "max_partition_bytes");
    cscan chk = {0};
    rel_flist f = {0};
    int rc;
    (void)min_partitions; /* row groups are the unit of work */
    if (maxb < 1)
        return bad_param(err, "max_partition_bytes", "must be positive", NULL);
    rc = scan_parse(&chk, h, p, err); /* fail early on bad parameters */
    free(chk.sel);
    free(chk.preds);
    rel_sx_free(chk.filter);
    if (rc)
        return rc;
    rc = rel_flist_expand(&f, pattern, ".ecol", "rel.col_scan", err);
    if (!rc && f.n == 0) {
        h->seterr(err, EMBER_ENOTFOUND, "rel.col_scan: no .ecol files in %s",
                  pattern);
        rc = EMBER_ENOTFOUND;
    }
    for (int i = 0; i < f.n && !rc; i++) {
        int64_t off = 0, size = f.sizes[i];
        do {
            int64_t len = size - off;
            /* keep a short tail with the last split (Hadoop's slop) */
            if ((double)len > (double)maxb * 1.1)
                len = maxb;
            rc = h->split_add(out, f.paths[i], off, len);
            off += len;
        } while (!rc && off < size);
        if (rc)
            h->seterr(err, rc, "rel.col_scan: out of memory");
    }
    rel_flist_free(&f);
    return rc;
}

/* --- running */

static int scan_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    cscan *s = calloc(1, sizeof *s);
    const char *path = ti->split.path;
    int rc;
    if (!s) {
        h->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    if ((rc = scan_parse(s, h, p, err)) != 0) {
        scan_free(s);
        return rc;
    }
    s->infer = h->param_bool(p, "infer");
    s->off = ti->split.offset;
    s->len = ti->split.length;
    if (!path || !*path) { /* no split: the whole file named by path */
        path = h->param_str(p, "path");
        s->off = 0;
        s->len = INT64_MAX;
    }
    if (!(s->path = strdup(path ? path : ""))) {
        scan_free(s);
        h->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    if (ti->struct_size >= offsetof(ember_task_info, ctx) + sizeof(void *)) {
        s->add_counter = ti->add_counter;
        s->ctx = ti->ctx;
    }
    *state = s;
    return 0;
}

/* Compare a statistic with a literal: -1, 0, 1, or 2 when unordered. */
static int cmp_stat(const ecol_file *cf, int col, const ecol_stat *st, int k,
                    const pred *p)
{
    ember_type t = cf->types[col];
    if (rel_type_varwidth(t)) {
        int r = ecol_bytes_cmp(st->s[k], st->slen[k], (const uint8_t *)p->s,
                               p->slen);
        return r;
    }
    if (t == EMBER_TYPE_DOUBLE || p->kind == LIT_DBL) {
        long double a = t == EMBER_TYPE_DOUBLE ? (long double)st->d[k]
                                               : (long double)st->i[k];
        long double b =
            p->kind == LIT_DBL ? (long double)p->d : (long double)p->i;
        if (a != a || b != b)
            return 2;
        return (a > b) - (a < b);
    }
    return (st->i[k] > p->i) - (st->i[k] < p->i);
}

/* Can predicate p match no row of chunk ch?  1 = skip. */
static int pred_skips(const ecol_file *cf, const ecol_chunk *ch, const pred *p)
{
    const ecol_stat *st = &ch->st;
    int hmin = st->flags & ECOL_ST_MIN, hmax = st->flags & ECOL_ST_MAX, lo, hi;
    if (p->kind == LIT_NULL)
        return 0;
    if (ch->nulls == ch->rows)
        return 1; /* every row is NULL: no comparison is true */
    lo = hmin ? cmp_stat(cf, p->col, st, 0, p) : 2;
    hi = hmax ? cmp_stat(cf, p->col, st, 1, p) : 2;
    switch (p->op) {
    case OP_EQ:
        return (lo != 2 && lo > 0) || (hi != 2 && hi < 0);
    case OP_NE: /* every value equals the literal */
        return lo == 0 && hi == 0 &&
               !(st->flags & (ECOL_ST_MIN_TRUNC | ECOL_ST_MAX_INEXACT));
    case OP_LT:
        return lo != 2 && lo >= 0;
    case OP_LE:
        return lo != 2 && lo > 0;
    case OP_GT:
        return hi != 2 && hi <= 0;
    case OP_GE:
        return hi != 2 && hi < 0;
    }
    return 0;
}

/* Check the predicates against the file's schema. */
static int check_preds(cscan *s, const ecol_file *cf, ember_error *err)
{
    for (int k = 0; k < s->npreds; k++) {
        pred *p = &s->preds[k];
        ember_type t;
        int ok;
        if (p->col >= cf->ncols) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter filter: column %d out "
                             "of range (%s has %d columns)",
                             p->col, cf->path, cf->ncols);
            return EMBER_EINVAL;
        }
        t = cf->types[p->col];
        switch (p->kind) {
        case LIT_NULL:
            ok = 1;
            break;
        case LIT_BOOL:
            ok = t == EMBER_TYPE_BOOL;
            break;
        case LIT_STR:
            ok = rel_type_varwidth(t);
            break;
        default:
            ok = is_intlike(t) || t == EMBER_TYPE_DOUBLE;
        }
        if (!ok) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter filter: predicate %d "
                             "compares column %d (%s, %s) with a literal of "
                             "another type",
                             k + 1, p->col, cf->names[p->col],
                             rel_type_name(t));
            return EMBER_EINVAL;
        }
    }
    return 0;
}

static int emit_schema(const ecol_file *cf, ember_emit_fn emit, void *ud,
                       ember_error *err)
{
    static const char *const names[2] = {"name", "type"};
    rel_col c[2];
    int rc = 0;
    relcol_init(&c[0], EMBER_TYPE_STRING);
    relcol_init(&c[1], EMBER_TYPE_STRING);
    for (int i = 0; i < cf->ncols && !rc; i++) {
        const char *tn = rel_type_name(cf->types[i]);
        rc = relcol_append_str(&c[0], cf->names[i], strlen(cf->names[i]));
        if (!rc)
            rc = relcol_append_str(&c[1], tn, strlen(tn));
    }
    if (rc)
        rel_host->seterr(err, rc, "rel.col_scan: out of memory");
    else
        rc = rel_emit(c, names, 2, emit, ud, err);
    relcol_free(&c[0]);
    relcol_free(&c[1]);
    return rc == EMBER_ESTOP ? 0 : rc;
}

static int scan_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    cscan *s = state;
    ecol_file cf;
    int nsel = 0, rc, stop = 0;
    const int *sel;
    int *all = NULL;
    const char **names = NULL;
    rel_col *out = NULL;
    ecol_dchunk *dec = NULL;
    uint8_t *scratch = NULL;
    size_t scap = 0;
    int64_t skipped = 0;
    char *want = NULL; /* row groups to read */

    memset(&cf, 0, sizeof cf);
    cf.fd = -1;
    if ((rc = ecol_open(&cf, s->path, err)) != 0)
        goto out;
    if (s->infer) {
        rc = emit_schema(&cf, emit, ud, err);
        goto out;
    }
    nsel = s->all_cols ? cf.ncols : s->nsel;
    sel = s->sel;
    if (s->all_cols) {
        if (!(all = malloc((size_t)cf.ncols * sizeof *all)))
            goto oom;
        for (int i = 0; i < cf.ncols; i++)
            all[i] = i;
        sel = all;
    }
    for (int j = 0; j < nsel; j++)
        if (sel[j] >= cf.ncols) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter columns: column %d "
                             "out of range (%s has %d columns)",
                             sel[j], cf.path, cf.ncols);
            rc = EMBER_EINVAL;
            goto out;
        }
    if ((rc = check_preds(s, &cf, err)) != 0)
        goto out;
    names = calloc((size_t)nsel + 1, sizeof *names);
    out = calloc((size_t)nsel + 1, sizeof *out);
    dec = calloc((size_t)cf.ncols, sizeof *dec);
    want = calloc((size_t)cf.nrg + 1, 1);
    if (!names || !out || !dec || !want)
        goto oom;
    for (int j = 0; j < nsel; j++) {
        names[j] = cf.names[sel[j]];
        relcol_init(&out[j], cf.types[sel[j]]);
    }
    /* the row groups of this split, minus those the statistics rule out */
    for (uint32_t g = 0; g < cf.nrg; g++) {
        const ecol_chunk *row = &cf.chunks[(size_t)g * cf.ncols];
        int64_t first = (int64_t)row[0].offset;
        if (first < s->off || first - s->off >= s->len)
            continue;
        want[g] = 1;
        for (int k = 0; k < s->npreds; k++)
            if (pred_skips(&cf, &row[s->preds[k].col], &s->preds[k])) {
                want[g] = 0;
                skipped++;
                break;
            }
    }
    if (s->npreds > 0 && s->add_counter)
        s->add_counter(s->ctx, "row_groups_skipped", skipped);
    for (uint32_t g = 0; g < cf.nrg && !stop; g++) {
        int64_t rows = cf.rows[g], at = 0;
        if (!want[g])
            continue;
        for (int j = 0; j < nsel; j++) {
            int c = sel[j], dup = 0;
            for (int q = 0; q < j; q++)
                dup |= sel[q] == c;
            if (!dup && (rc = ecol_read_chunk(&cf, g, c, &dec[c], &scratch,
                                              &scap, err)))
                goto out;
        }
        while (at < rows && nsel > 0) {
            int64_t k = EMIT_ROWS - out[0].n;
            if (k > rows - at)
                k = rows - at;
            for (int j = 0; j < nsel; j++)
                if ((rc = col_append_range(&out[j], &dec[sel[j]].v, at, k)))
                    goto oom;
            at += k;
            if (out[0].n >= EMIT_ROWS) {
                rc = rel_emit(out, names, nsel, emit, ud, err);
                if (rc == EMBER_ESTOP) {
                    rc = 0;
                    stop = 1;
                    break;
                }
                if (rc)
                    goto out;
            }
        }
    }
    if (!stop && nsel > 0 && out[0].n > 0) {
        rc = rel_emit(out, names, nsel, emit, ud, err);
        if (rc == EMBER_ESTOP)
            rc = 0;
    }
    goto out;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
    rc = EMBER_ENOMEM;
out:
    for (int j = 0; out && j < nsel; j++)
        relcol_free(&out[j]);
    for (int i = 0; dec && i < cf.ncols; i++)
        free(dec[i].buf);
    free(out);
    free(dec);
    free(names);
    free(want);
    free(all);
    free(scratch);
    ecol_close(&cf);
    return rc;
}

static void scan_close(void *state)
{
    scan_free(state);
}

/* ---------------------------------------------------------- registration */

static const ember_op_desc colfile_ops[] = {
    {sizeof(ember_op_desc), "rel.col_write",
     "write batches as a columnar .ecol file per task", EMBER_OP_SINK,
     write_params, sizeof write_params / sizeof write_params[0], NULL,
     write_open, NULL, write_push, write_finish, write_close, NULL},
    {sizeof(ember_op_desc), "rel.col_scan",
     "read columnar .ecol files (column pruning, row-group skipping)",
     EMBER_OP_SOURCE, scan_params, sizeof scan_params / sizeof scan_params[0],
     scan_plan, scan_open, scan_run, NULL, NULL, scan_close, NULL},
};

/* Register rel.col_write and rel.col_scan (called from rel.c's init). */
int rel_register_colfile(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, colfile_ops,
                            sizeof colfile_ops / sizeof colfile_ops[0], err);
}
