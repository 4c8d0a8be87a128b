/*
 * scan.c -- the helpers every file source of op_relational shares
 * (scan.h): planning splits, mapping input files, typed value parsers,
 * schema and column-list parameters, the common options, counters and
 * infer-result emission.  Used by scan_csv.c (rel.csv_scan, rel.text_scan)
 * and scan_json.c (rel.json_scan).
 *
 * How it works: planning lists the files of a path (rel_files.c) and cuts
 * each into byte-range splits; a task maps its split's whole file
 * read-only and starts at the first record that begins inside the split
 * (a split not at offset 0 skips the partial line before its first
 * newline).  The value parsers are strict (a value is the whole field or
 * it is malformed) and allocation-free, so the readers call them once per
 * field in their hot loops.
 *
 * Threads: nothing global; instances belong to one task thread.
 */
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ planning */

int scan_plan(const ember_host *h, const ember_params *p, int min_partitions,
              ember_split_list *out, ember_error *err, const char *op)
{
    const char *path = h->param_str(p, "path");
    int64_t maxb = h->param_int(p, "max_partition_bytes");
    int64_t total = 0, split;
    rel_flist f = {0};
    int rc = 0;

    if (!path || !*path) {
        h->seterr(err, EMBER_EINVAL, "%s: parameter 'path' is empty", op);
        return EMBER_EINVAL;
    }
    if (maxb <= 0) {
        h->seterr(err, EMBER_EINVAL,
                  "%s: parameter 'max_partition_bytes' must be positive, "
                  "got %lld",
                  op, (long long)maxb);
        return EMBER_EINVAL;
    }
    rc = rel_flist_expand(&f, path, NULL, op, err);
    if (!rc && f.n == 0) {
        h->seterr(err, EMBER_ENOTFOUND, "%s: input path has no files: %s", op,
                  path);
        rc = EMBER_ENOTFOUND;
    }
    if (rc) {
        rel_flist_free(&f);
        return rc;
    }
    for (int i = 0; i < f.n; i++)
        total += f.sizes[i];
    /* like Spark: min(maxPartitionBytes, max(4 MiB, bytes per partition)) */
    if (min_partitions < 1)
        min_partitions = 1;
    split = (total + min_partitions - 1) / min_partitions;
    if (split < ((int64_t)4 << 20))
        split = (int64_t)4 << 20;
    if (split > maxb)
        split = maxb;
    for (int i = 0; i < f.n && !rc; i++)
        for (int64_t off = 0; off < f.sizes[i] && !rc; off += split) {
            int64_t len = f.sizes[i] - off < split ? f.sizes[i] - off : split;
            rc = h->split_add(out, f.paths[i], off, len);
        }
    rel_flist_free(&f);
    if (rc)
        h->seterr(err, rc, "%s: cannot add a split: %s", op, h->strerror(rc));
    return rc;
}

/* ============================================================= input files */

int scan_file_open(scan_file *f, const ember_split *sp, const char *op,
                   ember_error *err)
{
    struct stat st;
    int fd;
    size_t start, end;
    memset(f, 0, sizeof *f);
    if (!sp || !sp->path) {
        rel_host->seterr(err, EMBER_EINVAL, "%s: the task has no split", op);
        return EMBER_EINVAL;
    }
    if (!(f->path = strdup(sp->path))) {
        rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", op);
        return EMBER_ENOMEM;
    }
    fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rel_host->seterr(err, EMBER_EIO, "%s: cannot open %s: %s", op, f->path,
                         strerror(errno));
        if (fd >= 0)
            close(fd);
        free(f->path);
        f->path = NULL;
        return EMBER_EIO;
    }
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rel_host->seterr(err, EMBER_EIO, "%s: cannot map %s: %s", op,
                             f->path, strerror(errno));
            close(fd);
            free(f->path);
            f->path = NULL;
            return EMBER_EIO;
        }
        f->base = m;
        posix_madvise(m, f->size, POSIX_MADV_SEQUENTIAL);
    }
    close(fd);
    f->lim = f->base + f->size;
    start = sp->offset < 0 ? 0 : (size_t)sp->offset;
    end = sp->length < 0 ? start : start + (size_t)sp->length;
    if (start > f->size)
        start = f->size;
    if (end > f->size)
        end = f->size;
    f->end = f->base + end;
    f->pos = f->base + start;
    if (start > 0) {
        const char *nl = memchr(f->base + start - 1, '\n', f->size - start + 1);
        f->pos = nl ? nl + 1 : f->lim;
    }
    return 0;
}

void scan_file_close(scan_file *f)
{
    if (f->base)
        munmap((void *)f->base, f->size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

int64_t scan_line_of(const scan_file *f, const char *p)
{
    int64_t line = 1;
    const char *q = f->base;
    while (q && q < p) {
        const char *nl = memchr(q, '\n', (size_t)(p - q));
        if (!nl)
            break;
        line++;
        q = nl + 1;
    }
    return line;
}

/* ========================================================== value parsers */

int scan_parse_bool(const char *s, size_t n, int *out)
{
    if (n == 4 && strncasecmp(s, "true", 4) == 0) {
        *out = 1;
        return 1;
    }
    if (n == 5 && strncasecmp(s, "false", 5) == 0) {
        *out = 0;
        return 1;
    }
    return 0;
}

int scan_parse_i64(const char *s, size_t n, int64_t *out)
{
    const char *e = s + n;
    int neg = 0;
    uint64_t v = 0;
    if (s < e && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++;
    }
    if (s == e)
        return 0;
    if (e - s <= 18) {
        for (; s < e; s++) {
            unsigned d = (unsigned)(unsigned char)*s - '0';
            if (d > 9)
                return 0;
            v = v * 10 + d;
        }
    } else {
        for (; s < e; s++) {
            unsigned d = (unsigned)(unsigned char)*s - '0';
            if (d > 9 || v > (UINT64_MAX - d) / 10)
                return 0;
            v = v * 10 + d;
        }
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)v;
    }
    return 1;
}

int scan_parse_i32(const char *s, size_t n, int32_t *out)
{
    int64_t v;
    if (!scan_parse_i64(s, n, &v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static const double pow10tab[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int scan_parse_f64(const char *s, size_t n, double *out)
{
    const char *p = s, *e = s + n;
    int neg = 0, digits = 0, frac = 0;
    uint64_t m = 0;
    char buf[128];
    char *end;
    if (p < e && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    /* fast path: [sign] digits [. digits], exact when m < 2^53 */
    while (p < e && (unsigned)(*p - '0') <= 9 && m < ((uint64_t)1 << 53)) {
        m = m * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && (unsigned)(*p - '0') <= 9 && m < ((uint64_t)1 << 53)) {
            m = m * 10 + (uint64_t)(*p - '0');
            p++;
            digits++;
            frac++;
        }
    }
    if (p == e && digits > 0 && m < ((uint64_t)1 << 53) && frac <= 22) {
        double d = (double)m;
        if (frac)
            d /= pow10tab[frac];
        *out = neg ? -d : d;
        return 1;
    }
    /* special values (Java's and Spark's spellings) */
    p = s + (s < e && (*s == '-' || *s == '+'));
    if ((e - p == 3 && memcmp(p, "Inf", 3) == 0) ||
        (e - p == 8 && memcmp(p, "Infinity", 8) == 0)) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    if (n == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return 1;
    }
    /* slow path: strtod on plain decimal text only (no hex, no inf) */
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
              c == '+' || c == '-'))
            return 0;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    *out = strtod(buf, &end);
    return end == buf + n && end != buf;
}

/* up to maxd digits (at least mind) at *pp */
static int digits(const char **pp, const char *e, int mind, int maxd, int *v)
{
    const char *p = *pp;
    int n = 0, x = 0;
    while (p < e && n < maxd && (unsigned)(*p - '0') <= 9) {
        x = x * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n < mind)
        return 0;
    *pp = p;
    *v = x;
    return 1;
}

/* yyyy-M[M]-d[d]; *pp advanced past it */
static int date_part(const char **pp, const char *e, int64_t *days)
{
    const char *p = *pp;
    int y, m, d;
    if (!digits(&p, e, 4, 4, &y) || p >= e || *p++ != '-' ||
        !digits(&p, e, 1, 2, &m) || p >= e || *p++ != '-' ||
        !digits(&p, e, 1, 2, &d))
        return 0;
    if (m < 1 || m > 12 || d < 1 || d > rel_days_in_month(y, m))
        return 0;
    *days = rel_days_from_civil(y, (unsigned)m, (unsigned)d);
    *pp = p;
    return 1;
}

int scan_parse_date(const char *s, size_t n, int32_t *out)
{
    const char *p = s;
    int64_t days;
    if (!date_part(&p, s + n, &days) || p != s + n)
        return 0;
    *out = (int32_t)days;
    return 1;
}

int scan_parse_ts(const char *s, size_t n, int64_t *out)
{
    const char *p = s, *e = s + n;
    int64_t days, us = 0;
    int hh = 0, mi = 0, ss = 0;
    if (!date_part(&p, e, &days))
        return 0;
    if (p < e && (*p == ' ' || *p == 'T')) {
        p++;
        if (!digits(&p, e, 1, 2, &hh) || p >= e || *p++ != ':' ||
            !digits(&p, e, 2, 2, &mi))
            return 0;
        if (p < e && *p == ':') {
            p++;
            if (!digits(&p, e, 2, 2, &ss))
                return 0;
            if (p < e && *p == '.') {
                int nd = 0;
                p++;
                while (p < e && (unsigned)(*p - '0') <= 9) {
                    if (nd < 6)
                        us = us * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return 0;
                for (; nd < 6; nd++)
                    us *= 10;
            }
        }
        if (hh > 23 || mi > 59 || ss > 59)
            return 0;
        /* optional zone: Z or +HH:mm / -HH:mm */
        if (p < e && *p == 'Z') {
            p++;
        } else if (p < e && (*p == '+' || *p == '-')) {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (!digits(&p, e, 2, 2, &oh))
                return 0;
            if (p < e && *p == ':')
                p++;
            if (p < e && !digits(&p, e, 2, 2, &om))
                return 0;
            if (oh > 18 || om > 59)
                return 0;
            us -= (int64_t)sign * (oh * 3600 + om * 60) * 1000000;
        }
    }
    if (p != e)
        return 0;
    *out = ((days * 86400 + hh * 3600 + mi * 60 + ss) * 1000000) + us;
    return 1;
}

/* ================================================================= params */

void scan_schema_free(scan_schema *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    memset(s, 0, sizeof *s);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int scan_schema_parse(scan_schema *s, const char *text, const char *op,
                      ember_error *err)
{
    const char *p = text ? text : "";
    int cap = 0;
    memset(s, 0, sizeof *s);
    while (is_ws(*p))
        p++;
    if (!*p)
        return 0;
    for (;;) {
        char *name;
        const char *tb;
        size_t tl;
        int t;
        while (is_ws(*p))
            p++;
        if (*p == '`') {
            size_t len = 0;
            const char *q = ++p;
            name = malloc(strlen(p) + 1);
            if (!name)
                goto oom;
            for (;;) {
                if (!*q) {
                    free(name);
                    rel_host->seterr(err, EMBER_EINVAL,
                                     "%s: parameter 'schema': unterminated "
                                     "`name` at byte %d",
                                     op, (int)(p - 1 - text));
                    goto fail;
                }
                if (*q == '`') {
                    if (q[1] != '`')
                        break;
                    q++;
                }
                name[len++] = *q++;
            }
            name[len] = 0;
            p = q + 1;
        } else {
            const char *b = p;
            while (*p && !is_ws(*p) && *p != ',' && *p != ':' && *p != '`')
                p++;
            if (p == b) {
                rel_host->seterr(err, EMBER_EINVAL,
                                 "%s: parameter 'schema': expected a column "
                                 "name at byte %d of \"%s\"",
                                 op, (int)(p - text), text);
                goto fail;
            }
            if (!(name = strndup(b, (size_t)(p - b))))
                goto oom;
        }
        if (s->n == cap) {
            char **nn;
            ember_type *nt;
            cap = cap ? cap * 2 : 8;
            nn = realloc(s->names, (size_t)cap * sizeof *nn);
            if (!nn) {
                free(name);
                goto oom;
            }
            s->names = nn;
            nt = realloc(s->types, (size_t)cap * sizeof *nt);
            if (!nt) {
                free(name);
                goto oom;
            }
            s->types = nt;
        }
        s->names[s->n] = name;
        s->types[s->n] = EMBER_TYPE_STRING;
        s->n++;
        while (is_ws(*p))
            p++;
        if (*p == ':') /* "name: type" is accepted too */
            p++;
        while (is_ws(*p))
            p++;
        tb = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            p++;
        tl = (size_t)(p - tb);
        if (tl == 7 && strncasecmp(tb, "integer", 7) == 0)
            t = EMBER_TYPE_INT32;
        else if (tl == 4 && strncasecmp(tb, "long", 4) == 0)
            t = EMBER_TYPE_INT64;
        else
            t = rel_type_from_name(tb, tl);
        if (t != EMBER_TYPE_BOOL && t != EMBER_TYPE_INT32 &&
            t != EMBER_TYPE_INT64 && t != EMBER_TYPE_DOUBLE &&
            t != EMBER_TYPE_STRING && t != EMBER_TYPE_DATE32 &&
            t != EMBER_TYPE_TIMESTAMP) {
            rel_host->seterr(
                err, EMBER_EINVAL,
                "%s: parameter 'schema': unknown type '%.*s' for column "
                "'%s' (valid: boolean int bigint double string date "
                "timestamp)",
                op, (int)(tl ? tl : strcspn(tb, ",")), tb, name);
            goto fail;
        }
        s->types[s->n - 1] = (ember_type)t;
        while (is_ws(*p))
            p++;
        if (!*p)
            return 0;
        if (*p != ',') {
            rel_host->seterr(err, EMBER_EINVAL,
                             "%s: parameter 'schema': expected ',' at byte %d "
                             "of \"%s\"",
                             op, (int)(p - text), text);
            goto fail;
        }
        p++;
    }
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", op);
    scan_schema_free(s);
    return EMBER_ENOMEM;
fail:
    scan_schema_free(s);
    return EMBER_EINVAL;
}

int scan_columns_check(const int *idx, int n, int ncols, const char *op,
                       ember_error *err)
{
    for (int i = 0; i < n; i++)
        if (idx[i] >= ncols) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "%s: parameter 'columns': column index %d out "
                             "of range (the schema has %d columns)",
                             op, idx[i], ncols);
            return EMBER_EINVAL;
        }
    return 0;
}

int scan_columns_parse(const char *text, int ncols, int **idx, int *n,
                       const char *op, ember_error *err)
{
    ember_error e = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e);
    int *v = NULL;
    *idx = NULL;
    *n = 0;
    if (!x) {
        rel_host->seterr(err, EMBER_EINVAL, "%s: parameter 'columns': %s", op,
                         e.msg);
        return EMBER_EINVAL;
    }
    if (x->kind != SX_LIST) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "%s: parameter 'columns': expected a list of column "
                         "indices like (3 0), got \"%s\"",
                         op, text);
        rel_sx_free(x);
        return EMBER_EINVAL;
    }
    if (x->n > 0 && !(v = malloc((size_t)x->n * sizeof *v))) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", op);
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        if (it->kind != SX_INT || it->i < 0 || it->i > INT32_MAX) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "%s: parameter 'columns': item %d is not a "
                             "column index (a non-negative integer)",
                             op, i + 1);
            goto fail;
        }
        v[i] = (int)it->i;
        for (int j = 0; j < i; j++)
            if (v[j] == v[i]) {
                rel_host->seterr(err, EMBER_EINVAL,
                                 "%s: parameter 'columns': column index %d "
                                 "appears twice",
                                 op, v[i]);
                goto fail;
            }
    }
    if (ncols >= 0 && scan_columns_check(v, x->n, ncols, op, err))
        goto fail;
    *idx = v;
    *n = x->n;
    rel_sx_free(x);
    return 0;
fail:
    free(v);
    rel_sx_free(x);
    return EMBER_EINVAL;
}

static int mode_parse(const char *text)
{
    if (strcasecmp(text, "PERMISSIVE") == 0)
        return MODE_PERMISSIVE;
    if (strcasecmp(text, "DROPMALFORMED") == 0)
        return MODE_DROPMALFORMED;
    if (strcasecmp(text, "FAILFAST") == 0)
        return MODE_FAILFAST;
    return -1;
}

int scan_read_opts(const ember_host *h, const ember_params *p, const char *op,
                   int *infer, int64_t *infer_rows, int *mode, scan_schema *sch,
                   ember_error *err)
{
    *infer = h->param_bool(p, "infer");
    *infer_rows = h->param_int(p, "infer_rows");
    if (*infer_rows < 0) {
        h->seterr(err, EMBER_EINVAL,
                  "%s: parameter 'infer_rows' must not be negative", op);
        return EMBER_EINVAL;
    }
    if ((*mode = mode_parse(h->param_str(p, "mode"))) < 0) {
        h->seterr(err, EMBER_EINVAL,
                  "%s: parameter 'mode' must be PERMISSIVE, DROPMALFORMED or "
                  "FAILFAST, got \"%s\"",
                  op, h->param_str(p, "mode"));
        return EMBER_EINVAL;
    }
    return scan_schema_parse(sch, h->param_str(p, "schema"), op, err);
}

void scan_counter_init(scan_counter *c, const ember_task_info *ti)
{
    c->add = NULL;
    c->ctx = NULL;
    if (ti &&
        ti->struct_size >= offsetof(ember_task_info, ctx) + sizeof(void *)) {
        c->add = ti->add_counter;
        c->ctx = ti->ctx;
    }
}

void scan_counter_add(const scan_counter *c, int64_t n)
{
    if (c->add && n > 0)
        c->add(c->ctx, "malformed_rows", n);
}

int scan_emit_infer(char *const *names, const size_t *name_lens,
                    const char *const *types, int n, ember_emit_fn emit,
                    void *ud, ember_error *err)
{
    static const char *const cn[] = {"name", "type"};
    rel_col c[2];
    int rc = 0;
    relcol_init(&c[0], EMBER_TYPE_STRING);
    relcol_init(&c[1], EMBER_TYPE_STRING);
    for (int i = 0; i < n && !rc; i++) {
        rc = relcol_append_str(&c[0], names[i], name_lens[i]);
        if (!rc)
            rc = relcol_append_str(&c[1], types[i], strlen(types[i]));
    }
    if (rc)
        rel_host->seterr(err, rc, "out of memory building the inferred schema");
    else
        rc = rel_emit(c, cn, 2, emit, ud, err);
    relcol_free(&c[0]);
    relcol_free(&c[1]);
    return rc;
}

void scan_col_truncate(rel_col *c, int64_t n0, int64_t nulls0)
{
    if (c->n <= n0)
        return;
    if (c->valid)
        for (int64_t i = n0; i < c->n; i++)
            c->valid[i >> 3] |= (uint8_t)(1u << (i & 7));
    c->n = n0;
    c->nulls = nulls0;
    if (rel_type_varwidth(c->type) && c->off)
        c->data_len = (size_t)c->off[n0];
}
