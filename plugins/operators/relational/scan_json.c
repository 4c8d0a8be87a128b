/*
 * scan_json.c -- rel.json_scan: JSON Lines files (one object per line)
 * into typed columns.
 *
 * How it works: splits and mapped files as every file source (scan.c).  Each
 * line is tokenized by a small validating JSON reader written here; the
 * top-level fields whose names match a requested schema column are kept
 * as spans into the mapping (a later duplicate key wins), then converted
 * once the whole line is known to be valid.  Strings are unescaped only
 * when they contain a backslash (\uXXXX with surrogate pairs -> UTF-8).
 * A nested object or array read into a string column is its raw text, as
 * are numbers and booleans.  Infer mode samples lines and emits one
 * (name, type) batch sorted by name.
 *
 * Threads: nothing global; instances belong to one task thread.
 */
#include "scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_OP "rel.json_scan"
#define MAX_DEPTH 256

enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_OBJ, J_ARR };

typedef struct jval {
    const char *s; /* the value's text (strings: with their quotes) */
    size_t len;
    int kind, esc;
    int64_t stamp; /* the line it belongs to */
} jval;

/* inference: one field seen */
enum { IT_NONE, IT_BIGINT, IT_DOUBLE, IT_BOOL, IT_STRING };
typedef struct ifield {
    char *name;
    size_t len;
    int t;
} ifield;

typedef struct json {
    scan_file f;
    int mode, infer;
    int64_t infer_rows;
    scan_schema sch;
    int *sel, nsel;
    int nout;
    int *src, *want; /* want[schema column] = output index or -1 */
    const char **onames;
    rel_col *out;
    int64_t *rn0, *rnull0;
    jval *vals; /* per schema column */
    int64_t row;
    int hint; /* schema column expected next */
    char *ub; /* unescape buffer */
    size_t ulen, ucap;
    ifield *inf;
    int ninf, infcap;
    scan_counter cnt;
    int64_t malformed;
    char reason[256];
} json;

/* ================================================================ tokenizer */

static inline const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* p at the opening quote; returns the byte after the closing one */
static const char *j_string(const char *p, const char *e, int *esc)
{
    p++;
    for (;;) {
        while (p < e && *p != '"' && *p != '\\')
            p++;
        if (p >= e)
            return NULL;
        if (*p == '"')
            return p + 1;
        *esc = 1;
        if (++p >= e)
            return NULL;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p++;
            break;
        case 'u':
            if (e - p < 5 || hexval(p[1]) < 0 || hexval(p[2]) < 0 ||
                hexval(p[3]) < 0 || hexval(p[4]) < 0)
                return NULL;
            p += 5;
            break;
        default:
            return NULL;
        }
    }
}

static const char *j_number(const char *p, const char *e, int *kind)
{
    const char *b;
    *kind = J_INT;
    if (p < e && *p == '-')
        p++;
    if (p >= e)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && (unsigned)(*p - '0') <= 9)
            p++;
    } else {
        return NULL;
    }
    if (p < e && *p == '.') {
        b = ++p;
        while (p < e && (unsigned)(*p - '0') <= 9)
            p++;
        if (p == b)
            return NULL;
        *kind = J_FLOAT;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        b = p;
        while (p < e && (unsigned)(*p - '0') <= 9)
            p++;
        if (p == b)
            return NULL;
        *kind = J_FLOAT;
    }
    return p;
}

static const char *j_value(const char *p, const char *e, int depth, int *kind,
                           int *esc)
{
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        *kind = J_STR;
        return j_string(p, e, esc);
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        int k, es;
        *kind = *p == '{' ? J_OBJ : J_ARR;
        if (depth >= MAX_DEPTH)
            return NULL;
        p = ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (p >= e || *p != '"' || !(p = j_string(p, e, &es)))
                    return NULL;
                p = ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p = ws(p + 1, e);
            }
            if (!(p = j_value(p, e, depth + 1, &k, &es)))
                return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') {
                p = ws(p + 1, e);
                continue;
            }
            if (p < e && *p == close)
                return p + 1;
            return NULL;
        }
    }
    case 't':
        *kind = J_TRUE;
        return e - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        *kind = J_FALSE;
        return e - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        *kind = J_NULL;
        return e - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return j_number(p, e, kind);
    }
}

static int ub_room(json *s, size_t n)
{
    if (s->ulen + n <= s->ucap)
        return 0;
    size_t nc = s->ucap ? s->ucap : 256;
    char *nb;
    while (nc < s->ulen + n)
        nc *= 2;
    if (!(nb = realloc(s->ub, nc)))
        return EMBER_ENOMEM;
    s->ub = nb;
    s->ucap = nc;
    return 0;
}

static void put_utf8(json *s, unsigned cp)
{
    char *o = s->ub + s->ulen;
    if (cp < 0x80) {
        o[0] = (char)cp;
        s->ulen += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        s->ulen += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        s->ulen += 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        s->ulen += 4;
    }
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
                      hexval(p[2]) << 4 | hexval(p[3]));
}

/* Unescape the validated string body [p, e) into s->ub (from offset 0). */
static int j_unescape(json *s, const char *p, const char *e)
{
    s->ulen = 0;
    /* the output is never longer than the input */
    if (ub_room(s, (size_t)(e - p) + 4))
        return EMBER_ENOMEM;
    while (p < e) {
        const char *b = memchr(p, '\\', (size_t)(e - p));
        size_t n = (size_t)((b ? b : e) - p);
        memcpy(s->ub + s->ulen, p, n);
        s->ulen += n;
        if (!b)
            break;
        p = b + 1;
        switch (*p++) {
        case 'b':
            s->ub[s->ulen++] = '\b';
            break;
        case 'f':
            s->ub[s->ulen++] = '\f';
            break;
        case 'n':
            s->ub[s->ulen++] = '\n';
            break;
        case 'r':
            s->ub[s->ulen++] = '\r';
            break;
        case 't':
            s->ub[s->ulen++] = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(p);
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && e - p >= 6 && p[0] == '\\' &&
                p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate */
            put_utf8(s, cp);
            break;
        }
        default: /* " \ / */
            s->ub[s->ulen++] = p[-1];
        }
    }
    return 0;
}

/* ======================================================== field matching */

static int find_col(json *s, const char *k, size_t n)
{
    int nc = s->sch.n;
    for (int i = 0; i < nc; i++) {
        int j = s->hint + i;
        if (j >= nc)
            j -= nc;
        if (strlen(s->sch.names[j]) == n &&
            memcmp(s->sch.names[j], k, n) == 0) {
            s->hint = j + 1 < nc ? j + 1 : 0;
            return j;
        }
    }
    return -1;
}

static int infer_see(json *s, const char *k, size_t n, int kind, const char *v,
                     size_t vlen)
{
    int t, i;
    switch (kind) {
    case J_NULL:
        t = IT_NONE;
        break;
    case J_TRUE:
    case J_FALSE:
        t = IT_BOOL;
        break;
    case J_INT: {
        int64_t x;
        t = scan_parse_i64(v, vlen, &x) ? IT_BIGINT : IT_DOUBLE;
        break;
    }
    case J_FLOAT:
        t = IT_DOUBLE;
        break;
    default:
        t = IT_STRING;
    }
    for (i = 0; i < s->ninf; i++)
        if (s->inf[i].len == n && memcmp(s->inf[i].name, k, n) == 0)
            break;
    if (i == s->ninf) {
        if (s->ninf == s->infcap) {
            int nc = s->infcap ? s->infcap * 2 : 16;
            ifield *ni = realloc(s->inf, (size_t)nc * sizeof *ni);
            if (!ni)
                return EMBER_ENOMEM;
            s->inf = ni;
            s->infcap = nc;
        }
        if (!(s->inf[i].name = malloc(n + 1)))
            return EMBER_ENOMEM;
        memcpy(s->inf[i].name, k, n);
        s->inf[i].name[n] = 0;
        s->inf[i].len = n;
        s->inf[i].t = IT_NONE;
        s->ninf++;
    }
    {
        int a = s->inf[i].t;
        if (a == IT_NONE || a == t)
            a = t;
        else if (t == IT_NONE)
            ;
        else if ((a == IT_BIGINT || a == IT_DOUBLE) &&
                 (t == IT_BIGINT || t == IT_DOUBLE))
            a = IT_DOUBLE;
        else
            a = IT_STRING;
        s->inf[i].t = a;
    }
    return 0;
}

/* Parse one line.  Returns 0, 1 when the line is not valid JSON (reason
 * set), or a negative error.  Kept fields land in s->vals (or inference). */
static int j_line(json *s, const char *p, const char *e)
{
    const char *lb = p;
    p = ws(p, e);
    if (p >= e || *p != '{') {
        snprintf(s->reason, sizeof s->reason, "expected a JSON object");
        return 1;
    }
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        p++;
        goto end;
    }
    for (;;) {
        const char *ks, *ke, *vs;
        int kesc = 0, vesc = 0, kind = 0, j;
        if (p >= e || *p != '"')
            goto bad;
        ks = p;
        if (!(ke = j_string(p, e, &kesc)))
            goto bad;
        p = ws(ke, e);
        if (p >= e || *p != ':')
            goto bad;
        p = ws(p + 1, e);
        vs = p;
        if (!(p = j_value(p, e, 0, &kind, &vesc)))
            goto bad;
        {
            const char *k = ks + 1;
            size_t kn = (size_t)(ke - ks - 2);
            if (kesc) {
                if (j_unescape(s, k, ke - 1))
                    return EMBER_ENOMEM;
                k = s->ub;
                kn = s->ulen;
            }
            if (s->infer) {
                if (infer_see(s, k, kn, kind, vs, (size_t)(p - vs)))
                    return EMBER_ENOMEM;
            } else if ((j = find_col(s, k, kn)) >= 0 && s->want[j] >= 0) {
                jval *v = &s->vals[j];
                v->s = vs;
                v->len = (size_t)(p - vs);
                v->kind = kind;
                v->esc = vesc;
                v->stamp = s->row;
            }
        }
        p = ws(p, e);
        if (p < e && *p == ',') {
            p = ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') {
            p++;
            break;
        }
        goto bad;
    }
end:
    p = ws(p, e);
    if (p != e) {
        snprintf(s->reason, sizeof s->reason,
                 "invalid JSON: trailing text at column %d", (int)(p - lb) + 1);
        return 1;
    }
    return 0;
bad:
    snprintf(s->reason, sizeof s->reason, "invalid JSON at column %d",
             (int)((p ? p : e) - lb) + 1);
    return 1;
}

/* ============================================================ conversion */

static int is_special_double(const char *p, size_t n, double *d)
{
    if (n == 3 && memcmp(p, "NaN", 3) == 0) {
        *d = NAN;
        return 1;
    }
    if ((n == 8 && memcmp(p, "Infinity", 8) == 0) ||
        (n == 9 && memcmp(p, "+Infinity", 9) == 0)) {
        *d = HUGE_VAL;
        return 1;
    }
    if (n == 9 && memcmp(p, "-Infinity", 9) == 0) {
        *d = -HUGE_VAL;
        return 1;
    }
    return 0;
}

/* the string body of v (unescaped when needed) */
static int j_strval(json *s, const jval *v, const char **p, size_t *n)
{
    if (!v->esc) {
        *p = v->s + 1;
        *n = v->len - 2;
        return 0;
    }
    if (j_unescape(s, v->s + 1, v->s + v->len - 1))
        return EMBER_ENOMEM;
    *p = s->ub;
    *n = s->ulen;
    return 0;
}

/* 0 ok, 1 type mismatch (nothing appended), <0 error */
static int j_put(json *s, rel_col *c, const jval *v)
{
    const char *p;
    size_t n;
    if (v->stamp != s->row || v->kind == J_NULL)
        return relcol_append_null(c);
    switch (c->type) {
    case EMBER_TYPE_BOOL:
        if (v->kind != J_TRUE && v->kind != J_FALSE)
            return 1;
        return relcol_append_bool(c, v->kind == J_TRUE);
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_INT64: {
        int64_t x;
        if (v->kind == J_INT) {
            if (!scan_parse_i64(v->s, v->len, &x))
                return 1;
        } else if (v->kind == J_FLOAT) {
            double d;
            /* integral and in range (no libm: the plugin links none) */
            if (!scan_parse_f64(v->s, v->len, &d) ||
                !(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
                (double)(int64_t)d != d)
                return 1;
            x = (int64_t)d;
        } else {
            return 1;
        }
        if (c->type == EMBER_TYPE_INT64)
            return scan_put_i64(c, x);
        if (x < INT32_MIN || x > INT32_MAX)
            return 1;
        return scan_put_i32(c, (int32_t)x);
    }
    case EMBER_TYPE_DOUBLE: {
        double d;
        if (v->kind == J_INT || v->kind == J_FLOAT) {
            if (!scan_parse_f64(v->s, v->len, &d))
                return 1;
        } else if (v->kind == J_STR) {
            if (j_strval(s, v, &p, &n))
                return EMBER_ENOMEM;
            if (!is_special_double(p, n, &d))
                return 1;
        } else {
            return 1;
        }
        return scan_put_f64(c, d);
    }
    case EMBER_TYPE_STRING:
        if (v->kind != J_STR)
            return scan_put_str(c, v->s, v->len); /* raw JSON text */
        if (j_strval(s, v, &p, &n))
            return EMBER_ENOMEM;
        return scan_put_str(c, p, n);
    case EMBER_TYPE_DATE32: {
        int32_t d;
        if (v->kind != J_STR)
            return 1;
        if (j_strval(s, v, &p, &n))
            return EMBER_ENOMEM;
        if (!scan_parse_date(p, n, &d))
            return 1;
        return scan_put_i32(c, d);
    }
    case EMBER_TYPE_TIMESTAMP: {
        int64_t t;
        if (v->kind != J_STR)
            return 1;
        if (j_strval(s, v, &p, &n))
            return EMBER_ENOMEM;
        if (!scan_parse_ts(p, n, &t))
            return 1;
        return scan_put_i64(c, t);
    }
    default:
        return relcol_append_null(c);
    }
}

/* ================================================================ the op */

static void json_free(json *s)
{
    if (!s)
        return;
    scan_file_close(&s->f);
    scan_schema_free(&s->sch);
    free(s->sel);
    free(s->src);
    free(s->want);
    free(s->onames);
    if (s->out)
        for (int k = 0; k < s->nout; k++)
            relcol_free(&s->out[k]);
    free(s->out);
    free(s->rn0);
    free(s->rnull0);
    free(s->vals);
    free(s->ub);
    for (int i = 0; i < s->ninf; i++)
        free(s->inf[i].name);
    free(s->inf);
    free(s);
}

static int json_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    json *s = calloc(1, sizeof *s);
    int rc;
    if (!s)
        goto oom;
    if ((rc = scan_read_opts(h, p, JSON_OP, &s->infer, &s->infer_rows, &s->mode,
                             &s->sch, err)) != 0)
        goto fail;
    if (!s->infer && s->sch.n == 0) {
        h->seterr(err, EMBER_EINVAL,
                  JSON_OP ": parameter 'schema' is required unless "
                          "infer=true");
        rc = EMBER_EINVAL;
        goto fail;
    }
    if (!s->infer) {
        if ((rc = scan_columns_parse(h->param_str(p, "columns"), s->sch.n,
                                     &s->sel, &s->nsel, JSON_OP, err)) != 0)
            goto fail;
        s->nout = s->sel ? s->nsel : s->sch.n;
        if (!(s->src = calloc((size_t)s->nout, sizeof *s->src)) ||
            !(s->want = malloc((size_t)s->sch.n * sizeof *s->want)) ||
            !(s->onames = calloc((size_t)s->nout, sizeof *s->onames)) ||
            !(s->out = calloc((size_t)s->nout, sizeof *s->out)) ||
            !(s->rn0 = calloc((size_t)s->nout, sizeof *s->rn0)) ||
            !(s->rnull0 = calloc((size_t)s->nout, sizeof *s->rnull0)) ||
            !(s->vals = calloc((size_t)s->sch.n, sizeof *s->vals)))
            goto oom;
        for (int j = 0; j < s->sch.n; j++) {
            s->want[j] = -1;
            s->vals[j].stamp = -1;
        }
        for (int k = 0; k < s->nout; k++) {
            int j = s->sel ? s->sel[k] : k;
            s->src[k] = j;
            s->want[j] = k;
            s->onames[k] = s->sch.names[j];
            relcol_init(&s->out[k], s->sch.types[j]);
            if (relcol_reserve(&s->out[k], SCAN_BATCH_ROWS,
                               rel_type_varwidth(s->sch.types[j]) ? 1 << 16
                                                                  : 0))
                goto oom;
        }
    }
    if ((rc = scan_file_open(&s->f, &ti->split, JSON_OP, err)) != 0)
        goto fail;
    scan_counter_init(&s->cnt, ti);
    *state = s;
    return 0;
oom:
    rc = EMBER_ENOMEM;
    h->seterr(err, rc, JSON_OP ": out of memory");
fail:
    json_free(s);
    return rc;
}

static int cmp_ifield(const void *a, const void *b)
{
    const ifield *x = a, *y = b;
    int r = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
    if (r)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

static int json_infer(json *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    static const char *const tn[] = {"string", "bigint", "double", "boolean",
                                     "string"};
    const char *p = s->f.pos, *lim = s->f.lim;
    int64_t rows = 0;
    char **names = NULL;
    size_t *lens = NULL;
    const char **types = NULL;
    int rc = 0;
    while (p < s->f.end && rows < s->infer_rows) {
        const char *eol = memchr(p, '\n', (size_t)(lim - p));
        const char *le = eol ? eol : lim, *b = ws(p, le);
        p = eol ? eol + 1 : lim;
        if (b == le)
            continue;
        rows++;
        s->row++;
        if ((rc = j_line(s, b, le)) < 0)
            goto oom;
    }
    qsort(s->inf, (size_t)s->ninf, sizeof *s->inf, cmp_ifield);
    if (s->ninf > 0 && (!(names = malloc((size_t)s->ninf * sizeof *names)) ||
                        !(lens = malloc((size_t)s->ninf * sizeof *lens)) ||
                        !(types = malloc((size_t)s->ninf * sizeof *types))))
        goto oom;
    for (int i = 0; i < s->ninf; i++) {
        names[i] = s->inf[i].name;
        lens[i] = s->inf[i].len;
        types[i] = tn[s->inf[i].t];
    }
    rc = scan_emit_infer(names, lens, types, s->ninf, emit, ud, err);
    free(names);
    free(lens);
    free(types);
    return rc == EMBER_ESTOP ? 0 : rc;
oom:
    free(names);
    free(lens);
    free(types);
    rel_host->seterr(err, EMBER_ENOMEM, JSON_OP ": out of memory");
    return EMBER_ENOMEM;
}

static int json_fail(json *s, const char *rec, ember_error *err)
{
    rel_host->seterr(err, EMBER_ECORRUPT, "%s:%lld: malformed record: %s",
                     s->f.path, (long long)scan_line_of(&s->f, rec), s->reason);
    return EMBER_ECORRUPT;
}

static int json_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    json *s = state;
    const char *p = s->f.pos, *lim = s->f.lim;
    int rc = 0;
    if (s->infer)
        return json_infer(s, emit, ud, err);
    while (p < s->f.end) {
        const char *rec = p;
        const char *eol = memchr(p, '\n', (size_t)(lim - p));
        const char *le = eol ? eol : lim, *b = ws(p, le);
        int bad;
        p = eol ? eol + 1 : lim;
        if (b == le)
            continue;
        s->row++;
        s->hint = 0;
        if ((bad = j_line(s, b, le)) < 0)
            goto oom;
        if (bad) {
            s->row++; /* forget any field kept before the error */
            if (s->mode == MODE_FAILFAST)
                return json_fail(s, rec, err);
            s->malformed++;
            if (s->mode == MODE_DROPMALFORMED)
                continue;
        }
        if (s->mode == MODE_DROPMALFORMED)
            for (int k = 0; k < s->nout; k++) {
                s->rn0[k] = s->out[k].n;
                s->rnull0[k] = s->out[k].nulls;
            }
        for (int k = 0; k < s->nout; k++) {
            rel_col *c = &s->out[k];
            const jval *v = &s->vals[s->src[k]];
            int r = j_put(s, c, v);
            if (r < 0)
                goto oom;
            if (r == 0)
                continue;
            if (s->mode == MODE_FAILFAST) {
                snprintf(s->reason, sizeof s->reason,
                         "field '%s' (%s): cannot parse '%.*s'", s->onames[k],
                         rel_type_name(c->type),
                         (int)(v->len > 64 ? 64 : v->len), v->s);
                return json_fail(s, rec, err);
            }
            if (!bad)
                s->malformed++;
            bad = 1;
            if (s->mode == MODE_DROPMALFORMED)
                break;
            if (relcol_append_null(c))
                goto oom;
        }
        if (bad && s->mode == MODE_DROPMALFORMED) {
            for (int k = 0; k < s->nout; k++)
                scan_col_truncate(&s->out[k], s->rn0[k], s->rnull0[k]);
            continue;
        }
        {
            int full = s->out[0].n >= SCAN_BATCH_ROWS;
            if (!full && (s->out[0].n & 1023) == 0)
                for (int k = 0; k < s->nout && !full; k++)
                    full = s->out[k].data_len > SCAN_BATCH_BYTES;
            if (full &&
                (rc = rel_emit(s->out, s->onames, s->nout, emit, ud, err)) != 0)
                goto out;
        }
    }
    if (s->nout > 0 && s->out[0].n > 0)
        rc = rel_emit(s->out, s->onames, s->nout, emit, ud, err);
out:
    scan_counter_add(&s->cnt, s->malformed);
    s->malformed = 0;
    return rc == EMBER_ESTOP ? 0 : rc;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, JSON_OP ": out of memory");
    return EMBER_ENOMEM;
}

static void json_close(void *state)
{
    json_free(state);
}

static int json_plan(const ember_host *h, const ember_params *p, int minp,
                     ember_split_list *out, ember_error *err)
{
    return scan_plan(h, p, minp, out, err, JSON_OP);
}

static const ember_param_desc json_params[] = {
    {"path", EMBER_PARAM_STRING, NULL,
     "file, directory (files not starting with . or _) or glob"},
    {"max_partition_bytes", EMBER_PARAM_INT, "134217728",
     "largest split, in bytes"},
    {"columns", EMBER_PARAM_STRING, "()",
     "schema column indices to output, e.g. (3 0); () = all"},
    {"mode", EMBER_PARAM_STRING, "PERMISSIVE",
     "malformed records: PERMISSIVE, DROPMALFORMED or FAILFAST"},
    {"schema", EMBER_PARAM_STRING, "",
     "schema as DDL: \"name type, ...\" (required unless infer)"},
    {"infer", EMBER_PARAM_BOOL, "false",
     "emit the inferred (name, type) rows instead of data"},
    {"infer_rows", EMBER_PARAM_INT, "1000", "lines sampled by infer"},
};

const ember_op_desc rel_json_scan_desc = {sizeof(ember_op_desc),
                                          JSON_OP,
                                          "read JSON Lines files",
                                          EMBER_OP_SOURCE,
                                          json_params,
                                          sizeof json_params /
                                              sizeof json_params[0],
                                          json_plan,
                                          json_open,
                                          json_run,
                                          NULL,
                                          NULL,
                                          json_close,
                                          NULL};
