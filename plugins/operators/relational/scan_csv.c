/*
 * scan_csv.c -- file sources of op_relational: rel.csv_scan and
 * rel.text_scan (the helpers every file source shares are scan.c's,
 * declared in scan.h), and the registration of the file sources.
 *
 * How it works: a task maps its split's file (mmap, read-only) and walks
 * records from the first one that starts inside the split to the last one
 * that starts inside it (a split not at offset 0 skips the partial line
 * before its first newline; the last record may run past the split end).
 * A CSV record without the quote character is cut with memchr (newline,
 * then separators); only records that contain a quote take the byte-wise
 * path that understands RFC 4180 quoting (a quoted field may hold the
 * separator, quotes and newlines).  Fields are kept as spans into the
 * mapping and only the requested columns are converted, straight into
 * rel_col buffers, SCAN_BATCH_ROWS rows per emitted batch.
 *
 * Limitation: a quoted newline inside a record that straddles a split
 * boundary is not handled (the next split starts at the quoted newline's
 * following line); files with multi-line records should be read with
 * max_partition_bytes larger than the file.
 *
 * Threads: nothing global; instances belong to one task thread.
 */
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ rel.csv */

#define CSV_OP "rel.csv_scan"
#define TEXT_OP "rel.text_scan"

typedef struct fld {
    const char *s;
    size_t len;
    size_t soff; /* offset in scratch when in_scratch */
    int quoted, in_scratch;
} fld;

typedef struct csv {
    scan_file f;
    /* options */
    int sep, quote, esc; /* quote/esc -1: none */
    char *nullv;
    size_t nulllen;
    int header, mode, infer;
    int64_t infer_rows;
    scan_schema sch;
    int *sel, nsel; /* requested schema columns (NULL: all) */
    /* the columns being read (set at run) */
    int ncols;         /* schema columns */
    char **cnames;     /* schema-less: names of the columns */
    int nout;          /* output columns */
    int *src;          /* output k <- schema column src[k] */
    ember_type *otype; /* output types */
    const char **onames;
    rel_col *out;
    int64_t *rn0, *rnull0; /* column sizes before the current row */
    /* record parsing */
    fld *fl;
    int flcap;
    char *scratch;
    size_t sclen, sccap;
    scan_counter cnt;
    int64_t malformed;
    char reason[256];
} csv;

static int sc_put(csv *s, const char *p, size_t n)
{
    if (s->sclen + n > s->sccap) {
        size_t nc = s->sccap ? s->sccap : 256;
        char *np;
        while (nc < s->sclen + n)
            nc *= 2;
        if (!(np = realloc(s->scratch, nc)))
            return EMBER_ENOMEM;
        s->scratch = np;
        s->sccap = nc;
    }
    memcpy(s->scratch + s->sclen, p, n);
    s->sclen += n;
    return 0;
}

static int fl_room(csv *s, int n)
{
    if (n < s->flcap)
        return 0;
    int nc = s->flcap ? s->flcap * 2 : 32;
    fld *nf = realloc(s->fl, (size_t)nc * sizeof *nf);
    if (!nf)
        return EMBER_ENOMEM;
    s->fl = nf;
    s->flcap = nc;
    return 0;
}

/* The slow path for a record containing the quote character.  Returns the
 * start of the next record, or NULL for an unterminated quoted field (*nf
 * = -1) or out of memory (*nf = -2). */
static const char *csv_quoted(csv *s, const char *p, int *nfp)
{
    const char *lim = s->f.lim, *q = p;
    const char sep = (char)s->sep, quote = (char)s->quote;
    int n = 0;
    s->sclen = 0;
    for (;;) {
        fld *fd;
        if (fl_room(s, n))
            goto oom;
        fd = &s->fl[n];
        if (q < lim && *q == quote) {
            const char *st = ++q;
            int copied = 0;
            size_t soff = s->sclen;
            for (;;) {
                if (q >= lim) {
                    *nfp = -1;
                    return NULL;
                }
                if (*q == quote && !(q + 1 < lim && q[1] == quote))
                    break;
                if ((*q == quote ||
                     (s->esc >= 0 && *q == (char)s->esc && *q != quote)) &&
                    q + 1 < lim && q[1] == quote) {
                    if (!copied && sc_put(s, st, (size_t)(q - st)))
                        goto oom;
                    copied = 1;
                    if (sc_put(s, &quote, 1))
                        goto oom;
                    q += 2;
                    continue;
                }
                if (copied && sc_put(s, q, 1))
                    goto oom;
                q++;
            }
            /* q is at the closing quote; text after it joins the field */
            if (q + 1 < lim && q[1] != sep && q[1] != '\n' &&
                !(q[1] == '\r' && (q + 2 == lim || q[2] == '\n'))) {
                const char *j = q + 1;
                if (!copied && sc_put(s, st, (size_t)(q - st)))
                    goto oom;
                copied = 1;
                while (j < lim && *j != sep && *j != '\n')
                    j++;
                if (j > q + 1 && j[-1] == '\r')
                    j--;
                if (sc_put(s, q + 1, (size_t)(j - q - 1)))
                    goto oom;
                q = j;
            } else {
                q++;
            }
            fd->quoted = 1;
            fd->in_scratch = copied;
            if (copied) {
                fd->soff = soff;
                fd->len = s->sclen - soff;
            } else {
                fd->s = st;
                fd->len = (size_t)(q - 1 - st);
            }
        } else {
            const char *st = q, *fe;
            while (q < lim && *q != sep && *q != '\n')
                q++;
            fe = q;
            if (fe > st && fe[-1] == '\r')
                fe--;
            fd->s = st;
            fd->len = (size_t)(fe - st);
            fd->quoted = fd->in_scratch = 0;
        }
        n++;
        if (q < lim && *q == '\r' && (q + 1 == lim || q[1] == '\n'))
            q++;
        if (q >= lim) {
            q = lim;
            break;
        }
        if (*q == sep) {
            q++;
            continue;
        }
        q++; /* the newline */
        break;
    }
    for (int i = 0; i < n; i++)
        if (s->fl[i].in_scratch)
            s->fl[i].s = s->scratch + s->fl[i].soff;
    *nfp = n;
    return q;
oom:
    *nfp = -2;
    return NULL;
}

/* Cut the record at p into s->fl; *nf = number of fields (0: blank line).
 * Returns the start of the next record (NULL: see csv_quoted). */
static inline const char *csv_record(csv *s, const char *p, int *nfp)
{
    const char *lim = s->f.lim;
    const char *eol = memchr(p, '\n', (size_t)(lim - p));
    const char *next = eol ? eol + 1 : lim, *le = eol ? eol : lim, *q;
    int n = 0;
    if (le > p && le[-1] == '\r')
        le--;
    if (le == p) {
        *nfp = 0;
        return next;
    }
    if (s->quote >= 0 && memchr(p, s->quote, (size_t)(le - p)))
        return csv_quoted(s, p, nfp);
    q = p;
    for (;;) {
        const char *c = memchr(q, s->sep, (size_t)(le - q));
        const char *fe = c ? c : le;
        if (n >= s->flcap && fl_room(s, n)) {
            *nfp = -2;
            return NULL;
        }
        s->fl[n].s = q;
        s->fl[n].len = (size_t)(fe - q);
        s->fl[n].quoted = 0;
        s->fl[n].in_scratch = 0;
        n++;
        if (!c)
            break;
        q = c + 1;
    }
    *nfp = n;
    return next;
}

static const char *param_char(const char *v, int *out, int allow_empty)
{
    if (strcmp(v, "\\t") == 0) {
        *out = '\t';
        return NULL;
    }
    if (allow_empty && v[0] == 0) {
        *out = -1;
        return NULL;
    }
    if (strlen(v) != 1)
        return "must be one byte";
    *out = (unsigned char)v[0];
    return NULL;
}

static void csv_free(csv *s)
{
    if (!s)
        return;
    scan_file_close(&s->f);
    free(s->nullv);
    scan_schema_free(&s->sch);
    free(s->sel);
    if (s->cnames)
        for (int i = 0; i < s->ncols; i++)
            free(s->cnames[i]);
    free(s->cnames);
    free(s->src);
    free(s->otype);
    free(s->onames);
    if (s->out)
        for (int i = 0; i < s->nout; i++)
            relcol_free(&s->out[i]);
    free(s->out);
    free(s->rn0);
    free(s->rnull0);
    free(s->fl);
    free(s->scratch);
    free(s);
}

static int csv_open(const ember_host *h, const ember_params *p,
                    const ember_task_info *ti, void **state, ember_error *err)
{
    csv *s = calloc(1, sizeof *s);
    const char *why;
    static const char *const chars[] = {"sep", "quote", "escape"};
    int rc;
    if (!s) {
        h->seterr(err, EMBER_ENOMEM, CSV_OP ": out of memory");
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < 3; i++) {
        const char *v = h->param_str(p, chars[i]);
        int *dst = i == 0 ? &s->sep : i == 1 ? &s->quote : &s->esc;
        if ((why = param_char(v, dst, i > 0)) != NULL) {
            h->seterr(err, EMBER_EINVAL,
                      CSV_OP ": parameter '%s' %s (or \\t), got \"%s\"",
                      chars[i], why, v);
            rc = EMBER_EINVAL;
            goto fail;
        }
    }
    if (s->sep == '\n' || s->sep == '\r' || s->sep == s->quote) {
        h->seterr(err, EMBER_EINVAL,
                  CSV_OP ": parameter 'sep' cannot be a newline or the quote");
        rc = EMBER_EINVAL;
        goto fail;
    }
    if (!(s->nullv = strdup(h->param_str(p, "null_value")))) {
        rc = EMBER_ENOMEM;
        h->seterr(err, rc, CSV_OP ": out of memory");
        goto fail;
    }
    s->nulllen = strlen(s->nullv);
    s->header = h->param_bool(p, "header");
    if ((rc = scan_read_opts(h, p, CSV_OP, &s->infer, &s->infer_rows, &s->mode,
                             &s->sch, err)) != 0)
        goto fail;
    if ((rc = scan_columns_parse(h->param_str(p, "columns"),
                                 s->sch.n > 0 && !s->infer ? s->sch.n : -1,
                                 &s->sel, &s->nsel, CSV_OP, err)) != 0)
        goto fail;
    if ((rc = scan_file_open(&s->f, &ti->split, CSV_OP, err)) != 0)
        goto fail;
    scan_counter_init(&s->cnt, ti);
    *state = s;
    return 0;
fail:
    csv_free(s);
    return rc;
}

/* the first non-blank record at p, or NULL (sets *nf) */
static const char *first_record(csv *s, const char *p, const char **rec,
                                int *nf)
{
    while (p < s->f.lim) {
        const char *next = csv_record(s, p, nf);
        if (*nf != 0) {
            *rec = p;
            return next;
        }
        p = next;
    }
    *nf = 0;
    return p;
}

static char *fld_dup(const fld *f, size_t *len)
{
    char *c = malloc(f->len + 1);
    if (c) {
        memcpy(c, f->s, f->len);
        c[f->len] = 0;
    }
    if (len)
        *len = f->len;
    return c;
}

/* ------------------------------------------------------------ inference */

enum { T_NONE, T_INT, T_BIGINT, T_DOUBLE, T_BOOL, T_DATE, T_TS, T_STRING };
static const char *const tnames[] = {"string",  "int",  "bigint",    "double",
                                     "boolean", "date", "timestamp", "string"};

static int classify(const char *v, size_t n)
{
    int32_t i;
    int64_t l;
    double d;
    int b;
    if (scan_parse_i32(v, n, &i))
        return T_INT;
    if (scan_parse_i64(v, n, &l))
        return T_BIGINT;
    if (scan_parse_f64(v, n, &d))
        return T_DOUBLE;
    if (scan_parse_bool(v, n, &b))
        return T_BOOL;
    if (scan_parse_date(v, n, &i))
        return T_DATE;
    if (scan_parse_ts(v, n, &l))
        return T_TS;
    return T_STRING;
}

static int merge(int a, int b)
{
    if (a == T_NONE || a == b)
        return b;
    if (b == T_NONE)
        return a;
    if (a <= T_DOUBLE && b <= T_DOUBLE)
        return a > b ? a : b;
    if ((a == T_DATE || a == T_TS) && (b == T_DATE || b == T_TS))
        return T_TS;
    return T_STRING;
}

static int csv_infer(csv *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    const char *p = s->f.pos, *rec, *next;
    char **names = NULL;
    size_t *lens = NULL;
    const char **types = NULL;
    int *st = NULL, n = 0, nf, rc = 0;
    int64_t rows = 0;

    /* the columns: header (first split) or the first record */
    next = first_record(s, p, &rec, &nf);
    if (nf < 0)
        goto bad;
    if (nf > 0 && rec < s->f.end) {
        n = nf;
        if (!(names = calloc((size_t)n, sizeof *names)) ||
            !(lens = calloc((size_t)n, sizeof *lens)) ||
            !(types = calloc((size_t)n, sizeof *types)) ||
            !(st = calloc((size_t)n, sizeof *st)))
            goto oom;
        for (int j = 0; j < n; j++) {
            char tmp[32];
            if (s->header && s->f.pos == s->f.base) {
                names[j] = fld_dup(&s->fl[j], &lens[j]);
            } else {
                lens[j] = (size_t)snprintf(tmp, sizeof tmp, "_c%d", j);
                names[j] = strdup(tmp);
            }
            if (!names[j])
                goto oom;
        }
        if (s->header && s->f.pos == s->f.base)
            p = next;
    }
    while (p < s->f.end && rows < s->infer_rows) {
        rec = p;
        next = csv_record(s, p, &nf);
        if (nf < 0)
            break;
        p = next;
        if (nf == 0)
            continue;
        rows++;
        for (int j = 0; j < n && j < nf; j++) {
            const fld *f = &s->fl[j];
            if (st[j] == T_STRING || f->len == 0 ||
                (!f->quoted && f->len == s->nulllen &&
                 memcmp(f->s, s->nullv, f->len) == 0))
                continue;
            st[j] = merge(st[j], classify(f->s, f->len));
        }
    }
    for (int j = 0; j < n; j++)
        types[j] = tnames[st[j]];
    rc = scan_emit_infer(names, lens, types, n, emit, ud, err);
    goto done;
bad:
    if (nf == -2)
        goto oom;
    n = 0;
    rc = scan_emit_infer(NULL, NULL, NULL, 0, emit, ud, err);
    goto done;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, CSV_OP ": out of memory");
    rc = EMBER_ENOMEM;
done:
    if (names)
        for (int j = 0; j < n; j++)
            free(names[j]);
    free(names);
    free(lens);
    free(types);
    free(st);
    return rc == EMBER_ESTOP ? 0 : rc;
}

/* ---------------------------------------------------------------- reading */

/* Decide the columns: the schema, or strings named by the header / _cN. */
static int csv_setup(csv *s, ember_error *err)
{
    if (s->sch.n > 0) {
        s->ncols = s->sch.n;
    } else {
        const char *rec = NULL;
        int nf;
        if (s->header)
            first_record(s, s->f.base ? s->f.base : s->f.lim, &rec, &nf);
        else
            first_record(s, s->f.pos, &rec, &nf);
        if (nf == -2)
            goto oom;
        if (nf < 0)
            nf = 0;
        if (!s->header && rec && rec >= s->f.end)
            nf = 0; /* this split holds no record */
        s->ncols = nf;
        if (nf > 0 && !(s->cnames = calloc((size_t)nf, sizeof(char *))))
            goto oom;
        for (int j = 0; j < nf; j++) {
            char tmp[32];
            if (s->header) {
                s->cnames[j] = fld_dup(&s->fl[j], NULL);
            } else {
                snprintf(tmp, sizeof tmp, "_c%d", j);
                s->cnames[j] = strdup(tmp);
            }
            if (!s->cnames[j])
                goto oom;
        }
        if (s->ncols > 0 &&
            scan_columns_check(s->sel, s->nsel, s->ncols, CSV_OP, err))
            return EMBER_EINVAL;
    }
    s->nout = s->ncols == 0 ? 0 : s->sel ? s->nsel : s->ncols;
    if (s->nout == 0)
        return 0;
    if (!(s->src = calloc((size_t)s->nout, sizeof *s->src)) ||
        !(s->otype = calloc((size_t)s->nout, sizeof *s->otype)) ||
        !(s->onames = calloc((size_t)s->nout, sizeof *s->onames)) ||
        !(s->out = calloc((size_t)s->nout, sizeof *s->out)) ||
        !(s->rn0 = calloc((size_t)s->nout, sizeof *s->rn0)) ||
        !(s->rnull0 = calloc((size_t)s->nout, sizeof *s->rnull0)))
        goto oom;
    for (int k = 0; k < s->nout; k++) {
        int j = s->sel ? s->sel[k] : k;
        s->src[k] = j;
        s->otype[k] = s->sch.n > 0 ? s->sch.types[j] : EMBER_TYPE_STRING;
        s->onames[k] = s->sch.n > 0 ? s->sch.names[j] : s->cnames[j];
        relcol_init(&s->out[k], s->otype[k]);
        if (relcol_reserve(&s->out[k], SCAN_BATCH_ROWS,
                           rel_type_varwidth(s->otype[k]) ? 1 << 16 : 0))
            goto oom;
    }
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, CSV_OP ": out of memory");
    return EMBER_ENOMEM;
}

/* Convert field f into output column c; 0 ok, 1 unparseable, <0 error. */
static inline int put_field(csv *s, rel_col *c, const fld *f)
{
    int isnull = !f->quoted && f->len == s->nulllen &&
                 (f->len == 0 || memcmp(f->s, s->nullv, f->len) == 0);
    switch (c->type) {
    case EMBER_TYPE_STRING:
        return isnull ? relcol_append_null(c) : scan_put_str(c, f->s, f->len);
    case EMBER_TYPE_INT32: {
        int32_t v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_i32(f->s, f->len, &v))
            return 1;
        return scan_put_i32(c, v);
    }
    case EMBER_TYPE_INT64: {
        int64_t v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_i64(f->s, f->len, &v))
            return 1;
        return scan_put_i64(c, v);
    }
    case EMBER_TYPE_DOUBLE: {
        double v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_f64(f->s, f->len, &v))
            return 1;
        return scan_put_f64(c, v);
    }
    case EMBER_TYPE_BOOL: {
        int v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_bool(f->s, f->len, &v))
            return 1;
        return relcol_append_bool(c, v);
    }
    case EMBER_TYPE_DATE32: {
        int32_t v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_date(f->s, f->len, &v))
            return 1;
        return scan_put_i32(c, v);
    }
    case EMBER_TYPE_TIMESTAMP: {
        int64_t v;
        if (isnull || f->len == 0)
            return relcol_append_null(c);
        if (!scan_parse_ts(f->s, f->len, &v))
            return 1;
        return scan_put_i64(c, v);
    }
    default:
        return relcol_append_null(c);
    }
}

static int csv_fail(csv *s, const char *rec, ember_error *err)
{
    rel_host->seterr(err, EMBER_ECORRUPT, "%s:%lld: malformed record: %s",
                     s->f.path, (long long)scan_line_of(&s->f, rec), s->reason);
    return EMBER_ECORRUPT;
}

static int csv_flush(csv *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    if (s->nout == 0 || s->out[0].n == 0)
        return 0;
    return rel_emit(s->out, s->onames, s->nout, emit, ud, err);
}

static int csv_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    csv *s = state;
    const char *p, *rec, *next;
    int rc, nf;

    if (s->infer)
        return csv_infer(s, emit, ud, err);
    if ((rc = csv_setup(s, err)) != 0)
        return rc;
    p = s->f.pos;
    if (s->header && p == s->f.base && p) {
        next = first_record(s, p, &rec, &nf);
        if (nf == -2)
            goto oom;
        p = nf > 0 ? next : s->f.lim;
    }
    if (s->nout == 0)
        return 0;
    while (p < s->f.end) {
        int bad = 0;
        rec = p;
        next = csv_record(s, p, &nf);
        if (nf == -2)
            goto oom;
        if (nf == 0) {
            p = next;
            continue;
        }
        if (nf < 0) { /* unterminated quote: the rest of the file */
            snprintf(s->reason, sizeof s->reason, "unterminated quoted field");
            next = s->f.lim;
            nf = 0;
            bad = 1;
        } else if (nf != s->ncols) {
            snprintf(s->reason, sizeof s->reason,
                     "expected %d fields, found %d", s->ncols, nf);
            bad = 1;
        }
        p = next;
        if (bad && s->mode == MODE_FAILFAST)
            return csv_fail(s, rec, err);
        if (bad && s->mode == MODE_DROPMALFORMED) {
            s->malformed++;
            continue;
        }
        if (s->mode == MODE_DROPMALFORMED)
            for (int k = 0; k < s->nout; k++) {
                s->rn0[k] = s->out[k].n;
                s->rnull0[k] = s->out[k].nulls;
            }
        for (int k = 0; k < s->nout; k++) {
            rel_col *c = &s->out[k];
            int j = s->src[k];
            if (j >= nf) {
                rc = relcol_append_null(c);
            } else if ((rc = put_field(s, c, &s->fl[j])) == 1) {
                /* unparseable: nothing was appended */
                if (s->mode == MODE_FAILFAST) {
                    const fld *f = &s->fl[j];
                    snprintf(s->reason, sizeof s->reason,
                             "field '%s' (%s): cannot parse '%.*s'",
                             s->onames[k], rel_type_name(c->type),
                             (int)(f->len > 64 ? 64 : f->len), f->s);
                    return csv_fail(s, rec, err);
                }
                bad = 1;
                if (s->mode == MODE_DROPMALFORMED)
                    break;
                rc = relcol_append_null(c);
            }
            if (rc < 0)
                goto oom;
        }
        if (bad) {
            s->malformed++;
            if (s->mode == MODE_DROPMALFORMED) {
                /* undo the columns of this row already appended */
                for (int k = 0; k < s->nout; k++)
                    scan_col_truncate(&s->out[k], s->rn0[k], s->rnull0[k]);
                continue;
            }
        }
        if (s->out[0].n >= SCAN_BATCH_ROWS) {
            if ((rc = csv_flush(s, emit, ud, err)) != 0)
                goto out;
        } else if ((s->out[0].n & 1023) == 0) {
            for (int k = 0; k < s->nout; k++)
                if (s->out[k].data_len > SCAN_BATCH_BYTES) {
                    if ((rc = csv_flush(s, emit, ud, err)) != 0)
                        goto out;
                    break;
                }
        }
    }
    rc = csv_flush(s, emit, ud, err);
out:
    scan_counter_add(&s->cnt, s->malformed);
    s->malformed = 0;
    return rc == EMBER_ESTOP ? 0 : rc;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, CSV_OP ": out of memory");
    return EMBER_ENOMEM;
}

static void csv_close(void *state)
{
    csv_free(state);
}

static int csv_plan(const ember_host *h, const ember_params *p, int minp,
                    ember_split_list *out, ember_error *err)
{
    return scan_plan(h, p, minp, out, err, CSV_OP);
}

/* ================================================================ rel.text */

typedef struct text {
    scan_file f;
    rel_col col;
} text;

static int text_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    text *t = calloc(1, sizeof *t);
    int rc;
    (void)p;
    if (!t) {
        h->seterr(err, EMBER_ENOMEM, TEXT_OP ": out of memory");
        return EMBER_ENOMEM;
    }
    if ((rc = scan_file_open(&t->f, &ti->split, TEXT_OP, err)) != 0) {
        free(t);
        return rc;
    }
    relcol_init(&t->col, EMBER_TYPE_STRING);
    *state = t;
    return 0;
}

static int text_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    static const char *const names[] = {"value"};
    text *t = state;
    const char *p = t->f.pos, *lim = t->f.lim;
    int rc = 0;
    if (relcol_reserve(&t->col, SCAN_BATCH_ROWS, 1 << 16))
        goto oom;
    while (p < t->f.end) {
        const char *eol = memchr(p, '\n', (size_t)(lim - p));
        const char *next = eol ? eol + 1 : lim, *le = eol ? eol : lim;
        if (le > p && le[-1] == '\r')
            le--;
        if (scan_put_str(&t->col, p, (size_t)(le - p)))
            goto oom;
        p = next;
        if (t->col.n >= SCAN_BATCH_ROWS || t->col.data_len > SCAN_BATCH_BYTES)
            if ((rc = rel_emit(&t->col, names, 1, emit, ud, err)) != 0)
                return rc == EMBER_ESTOP ? 0 : rc;
    }
    if (t->col.n > 0)
        rc = rel_emit(&t->col, names, 1, emit, ud, err);
    return rc == EMBER_ESTOP ? 0 : rc;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, TEXT_OP ": out of memory");
    return EMBER_ENOMEM;
}

static void text_close(void *state)
{
    text *t = state;
    if (!t)
        return;
    scan_file_close(&t->f);
    relcol_free(&t->col);
    free(t);
}

static int text_plan(const ember_host *h, const ember_params *p, int minp,
                     ember_split_list *out, ember_error *err)
{
    return scan_plan(h, p, minp, out, err, TEXT_OP);
}

/* ============================================================ registration */

#define COMMON_PARAMS                                                          \
    {"path", EMBER_PARAM_STRING, NULL,                                         \
     "file, directory (files not starting with . or _) or glob"},              \
        {"max_partition_bytes", EMBER_PARAM_INT, "134217728",                  \
         "largest split, in bytes"},                                           \
    {                                                                          \
        "columns", EMBER_PARAM_STRING, "()",                                   \
            "schema column indices to output, e.g. (3 0); () = all"            \
    }

static const ember_param_desc csv_params[] = {
    COMMON_PARAMS,
    {"header", EMBER_PARAM_BOOL, "false", "first line of each file: names"},
    {"sep", EMBER_PARAM_STRING, ",", "field separator (one byte, or \\t)"},
    {"quote", EMBER_PARAM_STRING, "\"", "quote character (\"\": none)"},
    {"escape", EMBER_PARAM_STRING, "\\",
     "escape character before a quote inside quotes"},
    {"null_value", EMBER_PARAM_STRING, "",
     "an unquoted field equal to this is NULL"},
    {"mode", EMBER_PARAM_STRING, "PERMISSIVE",
     "malformed records: PERMISSIVE, DROPMALFORMED or FAILFAST"},
    {"schema", EMBER_PARAM_STRING, "",
     "schema as DDL: \"name type, ...\" (default: all strings)"},
    {"infer", EMBER_PARAM_BOOL, "false",
     "emit the inferred (name, type) rows instead of data"},
    {"infer_rows", EMBER_PARAM_INT, "1000", "records sampled by infer"},
};

static const ember_param_desc text_params[] = {COMMON_PARAMS};

static const ember_op_desc scan_ops[] = {
    {sizeof(ember_op_desc), CSV_OP, "read CSV files", EMBER_OP_SOURCE,
     csv_params, sizeof csv_params / sizeof csv_params[0], csv_plan, csv_open,
     csv_run, NULL, NULL, csv_close, NULL},
    {sizeof(ember_op_desc), TEXT_OP, "read lines of text files (column value)",
     EMBER_OP_SOURCE, text_params, sizeof text_params / sizeof text_params[0],
     text_plan, text_open, text_run, NULL, NULL, text_close, NULL},
};

int rel_register_scan(ember_registry *reg, ember_error *err)
{
    const ember_op_desc *all[] = {&scan_ops[0], &rel_json_scan_desc,
                                  &scan_ops[1]};
    int rc = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && !rc; i++)
        rc = rel_register_ops(reg, all[i], 1, err);
    return rc;
}
