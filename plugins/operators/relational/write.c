/*
 * write.c -- file sinks of op_relational: rel.csv_write and rel.json_write.
 *
 * How it works: a task formats each pushed batch row by row into a 1 MiB
 * output buffer (numbers, dates and timestamps by hand with rel_fmt.c;
 * doubles as Java's Double.toString, shortest round-trip digits) and
 * writes it to
 * <path>/part-<partition>-<attempt>.<ext>.tmp.  finish() renames the file
 * to <path>/part-<partition>.<ext> (atomic commit; a later attempt simply
 * replaces it); close() without finish() removes the temporary file.  The
 * driver creates the directory and writes _SUCCESS after the job.
 *
 * Threads: nothing global; instances belong to one task thread.
 */
#include "rel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSVW_OP "rel.csv_write"
#define JSONW_OP "rel.json_write"
#define OUT_FLUSH (1u << 20)

typedef struct wr {
    const char *op;
    int json;
    int fd;
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    /* csv */
    char sep;
    int quote; /* -1: never quote */
    char *nullv;
    size_t nulllen;
    int header, started;
    unsigned char special[256]; /* bytes that force quoting */
    /* output buffer */
    char *buf;
    size_t len, cap;
    /* json: escaped field names of the current batch */
    char *names;
    size_t *name_off;
    int nnames;
} wr;

/* ------------------------------------------------------------- output */

static int out_flush(wr *w, ember_error *err)
{
    size_t done = 0;
    while (done < w->len) {
        ssize_t n = write(w->fd, w->buf + done, w->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rel_host->seterr(err, EMBER_EIO, "%s: cannot write %s: %s", w->op,
                             w->tmp, strerror(errno));
            return EMBER_EIO;
        }
        done += (size_t)n;
    }
    w->len = 0;
    return 0;
}

/* room for n more bytes */
static int out_room(wr *w, size_t n)
{
    if (w->len + n <= w->cap)
        return 0;
    size_t nc = w->cap ? w->cap : OUT_FLUSH + 4096;
    char *nb;
    while (nc < w->len + n)
        nc *= 2;
    if (!(nb = realloc(w->buf, nc)))
        return EMBER_ENOMEM;
    w->buf = nb;
    w->cap = nc;
    return 0;
}

static inline void put(wr *w, const char *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* ---------------------------------------------------------- formatting */

/* A non-string cell as text (o: at least REL_FMT_MAX bytes). */
static size_t fmt_cell(const ember_column *c, int64_t i, char *o)
{
    switch (c->type) {
    case EMBER_TYPE_BOOL:
        if (rel_bool(c, i)) {
            memcpy(o, "true", 4);
            return 4;
        }
        memcpy(o, "false", 5);
        return 5;
    case EMBER_TYPE_INT32:
        return rel_fmt_i64(rel_i32(c, i), o);
    case EMBER_TYPE_INT64:
        return rel_fmt_i64(rel_i64(c, i), o);
    case EMBER_TYPE_DOUBLE:
        return rel_fmt_double(rel_f64(c, i), o);
    case EMBER_TYPE_DATE32:
        return rel_fmt_date(rel_i32(c, i), o);
    case EMBER_TYPE_TIMESTAMP:
        return rel_fmt_ts(rel_i64(c, i), o);
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ csv */

static void csv_str(wr *w, const char *s, size_t n)
{
    int q = w->quote >= 0 && (n == 0 || (w->nulllen && n == w->nulllen &&
                                         memcmp(s, w->nullv, n) == 0));
    for (size_t i = 0; i < n && !q; i++)
        q = w->special[(unsigned char)s[i]];
    if (!q) {
        put(w, s, n);
        return;
    }
    w->buf[w->len++] = (char)w->quote;
    for (;;) {
        const char *e = memchr(s, w->quote, n);
        size_t k = e ? (size_t)(e - s) + 1 : n;
        put(w, s, k);
        if (!e)
            break;
        w->buf[w->len++] = (char)w->quote;
        s += k;
        n -= k;
    }
    w->buf[w->len++] = (char)w->quote;
}

static int check_types(wr *w, const ember_batch *in, ember_column *cols, int nc,
                       ember_error *err)
{
    for (int j = 0; j < nc; j++) {
        if (rel_host->batch_column(in, j, &cols[j]) != 0) {
            rel_host->seterr(err, EMBER_EINVAL, "%s: cannot read column %d",
                             w->op, j);
            return EMBER_EINVAL;
        }
        switch (cols[j].type) {
        case EMBER_TYPE_NULL:
        case EMBER_TYPE_BOOL:
        case EMBER_TYPE_INT32:
        case EMBER_TYPE_INT64:
        case EMBER_TYPE_DOUBLE:
        case EMBER_TYPE_STRING:
        case EMBER_TYPE_DATE32:
        case EMBER_TYPE_TIMESTAMP:
            break;
        default:
            rel_host->seterr(err, EMBER_EUNSUPPORTED,
                             "%s: column '%s' has type %s, which cannot be "
                             "written",
                             w->op, rel_host->batch_column_name(in, j),
                             rel_type_name(cols[j].type));
            return EMBER_EUNSUPPORTED;
        }
    }
    return 0;
}

static int csv_push(wr *w, const ember_batch *in, ember_error *err)
{
    int nc = rel_host->batch_num_columns(in);
    int64_t rows = rel_host->batch_num_rows(in);
    ember_column stackcols[16], *cols = stackcols;
    int rc = 0;
    if (nc > 16 && !(cols = malloc((size_t)nc * sizeof *cols)))
        goto oom;
    if ((rc = check_types(w, in, cols, nc, err)) != 0)
        goto done;
    if (w->header && !w->started) {
        for (int j = 0; j < nc; j++) {
            const char *name = rel_host->batch_column_name(in, j);
            size_t n = strlen(name);
            if (out_room(w, 2 * n + 4))
                goto oom;
            if (j)
                w->buf[w->len++] = w->sep;
            csv_str(w, name, n);
        }
        w->buf[w->len++] = '\n';
    }
    w->started = 1;
    for (int64_t i = 0; i < rows; i++) {
        for (int j = 0; j < nc; j++) {
            const ember_column *c = &cols[j];
            if (rel_isnull(c, i)) {
                if (out_room(w, w->nulllen + 1))
                    goto oom;
                if (j)
                    w->buf[w->len++] = w->sep;
                put(w, w->nullv, w->nulllen);
            } else if (c->type == EMBER_TYPE_STRING) {
                size_t n;
                const char *s = rel_str(c, i, &n);
                if (out_room(w, 2 * n + 3))
                    goto oom;
                if (j)
                    w->buf[w->len++] = w->sep;
                csv_str(w, s, n);
            } else {
                if (out_room(w, 64))
                    goto oom;
                if (j)
                    w->buf[w->len++] = w->sep;
                w->len += fmt_cell(c, i, w->buf + w->len);
            }
        }
        if (out_room(w, 1))
            goto oom;
        w->buf[w->len++] = '\n';
        if (w->len >= OUT_FLUSH && (rc = out_flush(w, err)) != 0)
            goto done;
    }
done:
    if (cols != stackcols)
        free(cols);
    return rc;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", w->op);
    rc = EMBER_ENOMEM;
    goto done;
}

/* ----------------------------------------------------------------- json */

static const char hexd[] = "0123456789abcdef";

/* "s" with JSON escapes; needs room for 6 * n + 2 bytes */
static void json_str(wr *w, const char *s, size_t n)
{
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hexd[c >> 4];
            o[5] = hexd[c & 15];
            o += 6;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
}

static int json_names(wr *w, const ember_batch *in, int nc)
{
    size_t total = 0, pos = 0;
    char *nb;
    size_t *no;
    for (int j = 0; j < nc; j++)
        total += 6 * strlen(rel_host->batch_column_name(in, j)) + 3;
    if (!(nb = realloc(w->names, total + 1)))
        return EMBER_ENOMEM;
    w->names = nb;
    if (!(no = realloc(w->name_off, (size_t)(nc + 1) * sizeof *no)))
        return EMBER_ENOMEM;
    w->name_off = no;
    /* format through the output buffer's routine, then move the bytes */
    for (int j = 0; j < nc; j++) {
        const char *name = rel_host->batch_column_name(in, j);
        size_t n = strlen(name), save = w->len;
        if (out_room(w, 6 * n + 3))
            return EMBER_ENOMEM;
        json_str(w, name, n);
        w->buf[w->len++] = ':';
        no[j] = pos;
        memcpy(nb + pos, w->buf + save, w->len - save);
        pos += w->len - save;
        w->len = save;
    }
    no[nc] = pos;
    w->nnames = nc;
    return 0;
}

static int json_push(wr *w, const ember_batch *in, ember_error *err)
{
    int nc = rel_host->batch_num_columns(in);
    int64_t rows = rel_host->batch_num_rows(in);
    ember_column stackcols[16], *cols = stackcols;
    int rc = 0;
    if (nc > 16 && !(cols = malloc((size_t)nc * sizeof *cols)))
        goto oom;
    if ((rc = check_types(w, in, cols, nc, err)) != 0)
        goto done;
    if (json_names(w, in, nc))
        goto oom;
    w->started = 1;
    for (int64_t i = 0; i < rows; i++) {
        int first = 1;
        if (out_room(w, 1))
            goto oom;
        w->buf[w->len++] = '{';
        for (int j = 0; j < nc; j++) {
            const ember_column *c = &cols[j];
            size_t nl = w->name_off[j + 1] - w->name_off[j];
            if (rel_isnull(c, i))
                continue;
            if (out_room(w, nl + 72))
                goto oom;
            if (!first)
                w->buf[w->len++] = ',';
            first = 0;
            put(w, w->names + w->name_off[j], nl);
            switch (c->type) {
            case EMBER_TYPE_STRING: {
                size_t n;
                const char *s = rel_str(c, i, &n);
                if (out_room(w, 6 * n + 2))
                    goto oom;
                json_str(w, s, n);
                break;
            }
            case EMBER_TYPE_DOUBLE: {
                double d = rel_f64(c, i);
                int q = isnan(d) || isinf(d);
                if (q)
                    w->buf[w->len++] = '"';
                w->len += rel_fmt_double(d, w->buf + w->len);
                if (q)
                    w->buf[w->len++] = '"';
                break;
            }
            case EMBER_TYPE_DATE32:
            case EMBER_TYPE_TIMESTAMP:
                w->buf[w->len++] = '"';
                w->len += fmt_cell(c, i, w->buf + w->len);
                w->buf[w->len++] = '"';
                break;
            default:
                w->len += fmt_cell(c, i, w->buf + w->len);
            }
        }
        if (out_room(w, 2))
            goto oom;
        w->buf[w->len++] = '}';
        w->buf[w->len++] = '\n';
        if (w->len >= OUT_FLUSH && (rc = out_flush(w, err)) != 0)
            goto done;
    }
done:
    if (cols != stackcols)
        free(cols);
    return rc;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", w->op);
    rc = EMBER_ENOMEM;
    goto done;
}

/* ------------------------------------------------------------- the ops */

static void wr_free(wr *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0])
        unlink(w->tmp);
    free(w->nullv);
    free(w->buf);
    free(w->names);
    free(w->name_off);
    free(w);
}

static int char_param(const char *v, int *out, int allow_empty)
{
    if (strcmp(v, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (allow_empty && !v[0]) {
        *out = -1;
        return 0;
    }
    if (strlen(v) != 1)
        return -1;
    *out = (unsigned char)v[0];
    return 0;
}

static int wr_open(const ember_host *h, const ember_params *p,
                   const ember_task_info *ti, void **state, ember_error *err,
                   int json)
{
    wr *w = calloc(1, sizeof *w);
    const char *dir = h->param_str(p, "path");
    const char *ext = json ? "json" : "csv";
    int rc = EMBER_EINVAL;
    if (!w) {
        h->seterr(err, EMBER_ENOMEM, "%s: out of memory",
                  json ? JSONW_OP : CSVW_OP);
        return EMBER_ENOMEM;
    }
    w->fd = -1;
    w->json = json;
    w->op = json ? JSONW_OP : CSVW_OP;
    if (!json) {
        int sep;
        const char *v = h->param_str(p, "sep");
        if (char_param(v, &sep, 0) || sep == '\n' || sep == '\r') {
            h->seterr(err, EMBER_EINVAL,
                      CSVW_OP ": parameter 'sep' must be one byte (or \\t), "
                              "got \"%s\"",
                      v);
            goto fail;
        }
        w->sep = (char)sep;
        v = h->param_str(p, "quote");
        if (char_param(v, &w->quote, 1) || w->quote == sep) {
            h->seterr(err, EMBER_EINVAL,
                      CSVW_OP ": parameter 'quote' must be one byte other "
                              "than the separator, got \"%s\"",
                      v);
            goto fail;
        }
        if (!(w->nullv = strdup(h->param_str(p, "null_value")))) {
            rc = EMBER_ENOMEM;
            h->seterr(err, rc, CSVW_OP ": out of memory");
            goto fail;
        }
        w->nulllen = strlen(w->nullv);
        w->header = h->param_bool(p, "header");
        w->special[(unsigned char)w->sep] = 1;
        w->special['\r'] = w->special['\n'] = 1;
        if (w->quote >= 0)
            w->special[w->quote] = 1;
    }
    if (snprintf(w->final, sizeof w->final, "%s/part-%05d.%s", dir,
                 ti->partition, ext) >= (int)sizeof w->final ||
        snprintf(w->tmp, sizeof w->tmp, "%s/part-%05d-%d.%s.tmp", dir,
                 ti->partition, ti->attempt, ext) >= (int)sizeof w->tmp) {
        h->seterr(err, EMBER_EINVAL, "%s: output path too long: %s", w->op,
                  dir);
        w->tmp[0] = 0;
        goto fail;
    }
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        h->seterr(err, EMBER_EIO, "%s: cannot create %s: %s", w->op, w->tmp,
                  strerror(errno));
        w->tmp[0] = 0;
        rc = EMBER_EIO;
        goto fail;
    }
    *state = w;
    return 0;
fail:
    w->tmp[0] = 0;
    wr_free(w);
    return rc;
}

static int csvw_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    return wr_open(h, p, ti, state, err, 0);
}

static int jsonw_open(const ember_host *h, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    return wr_open(h, p, ti, state, err, 1);
}

static int wr_push(void *state, const ember_batch *in, ember_emit_fn emit,
                   void *ud, ember_error *err)
{
    wr *w = state;
    (void)emit;
    (void)ud;
    if (w->fd < 0) {
        rel_host->seterr(err, EMBER_EINVAL, "%s: push after finish", w->op);
        return EMBER_EINVAL;
    }
    return w->json ? json_push(w, in, err) : csv_push(w, in, err);
}

static int wr_finish(void *state, ember_emit_fn emit, void *ud,
                     ember_error *err)
{
    wr *w = state;
    int rc;
    (void)emit;
    (void)ud;
    if (w->fd < 0)
        return 0;
    if ((rc = out_flush(w, err)) != 0)
        return rc;
    rc = close(w->fd);
    w->fd = -1;
    if (rc != 0 || rename(w->tmp, w->final) != 0) {
        rel_host->seterr(err, EMBER_EIO, "%s: cannot commit %s: %s", w->op,
                         w->final, strerror(errno));
        return EMBER_EIO; /* close() removes the temporary file */
    }
    w->tmp[0] = 0;
    return 0;
}

static void wr_close(void *state)
{
    wr_free(state);
}

static const ember_param_desc csvw_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "output directory (exists)"},
    {"header", EMBER_PARAM_BOOL, "false", "write the column names first"},
    {"sep", EMBER_PARAM_STRING, ",", "field separator (one byte, or \\t)"},
    {"quote", EMBER_PARAM_STRING, "\"", "quote character (\"\": none)"},
    {"null_value", EMBER_PARAM_STRING, "", "text written for NULL"},
};

static const ember_param_desc jsonw_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "output directory (exists)"},
};

static const ember_op_desc write_ops[] = {
    {sizeof(ember_op_desc), CSVW_OP, "write CSV part files", EMBER_OP_SINK,
     csvw_params, sizeof csvw_params / sizeof csvw_params[0], NULL, csvw_open,
     NULL, wr_push, wr_finish, wr_close, NULL},
    {sizeof(ember_op_desc), JSONW_OP, "write JSON Lines part files",
     EMBER_OP_SINK, jsonw_params, sizeof jsonw_params / sizeof jsonw_params[0],
     NULL, jsonw_open, NULL, wr_push, wr_finish, wr_close, NULL},
};

int rel_register_write(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, write_ops,
                            sizeof write_ops / sizeof write_ops[0], err);
}
