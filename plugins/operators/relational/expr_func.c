/*
 * expr_func.c -- the string, date and cast functions of op_relational's
 * expressions (see expr_int.h), and the lenient text parsers that casts
 * from strings and date/timestamp literals use.
 *
 * Strings are UTF-8: lengths and substring positions count characters
 * (bytes that are not continuation bytes), case conversion is ASCII only,
 * trim removes spaces, as Spark's.  Dates are days and timestamps
 * microseconds since the epoch (UTC; the calendar arithmetic is rel.h's).
 * A cast that cannot convert a value (text that does not parse, a double
 * out of an integer's range) gives NULL for that row, as Spark's
 * non-ANSI cast.
 *
 * Threads: trees belong to one operator instance; nothing global but
 * constant tables.
 */
#include "expr_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================= text parsers */

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
int expr_parse_date(const char *s, size_t len, int32_t *out)
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
int expr_parse_ts(const char *s, size_t len, int64_t *out)
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

static int parse_f64(expr_node *nd, const char *s, size_t len, double *out)
{
    char *end;
    trim_ws(&s, &len);
    if (!len || expr_tmp_need(nd, len + 1))
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

/* ------------------------------------------------------------ strings */

/* characters in the UTF-8 bytes s[0..len) (bytes that do not continue one) */
static inline int32_t u8chars(const uint8_t *s, int32_t len)
{
    int32_t n = 0;
    for (int32_t k = 0; k < len; k++)
        n += (s[k] & 0xc0) != 0x80;
    return n;
}

static int eval_case_conv(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows;
    rel_col *c = &nd->buf;
    int32_t base = a->off[0];
    size_t bytes;
    const uint8_t *s = (const uint8_t *)a->data + base;
    int up = nd->op == EXPR_UPPER;
    int rc = expr_map_begin(nd, cx, EMBER_TYPE_STRING, out, &rows);
    if (rc)
        return rc < 0 ? rc : 0;
    bytes = (size_t)(a->off[rows] - base);
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
    expr_map_end(nd, cx, out);
    return 0;
}

static int eval_length(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows;
    int32_t *r;
    int rc = expr_map_begin(nd, cx, EMBER_TYPE_INT32, out, &rows);
    if (rc)
        return rc < 0 ? rc : 0;
    r = (int32_t *)nd->buf.data;
    for (int64_t i = 0; i < rows; i++)
        r[i] = u8chars((const uint8_t *)a->data + a->off[i],
                       a->off[i + 1] - a->off[i]);
    expr_map_end(nd, cx, out);
    return 0;
}

static int eval_trim(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows;
    rel_col *c = &nd->buf;
    int l = nd->op != EXPR_RTRIM, rt = nd->op != EXPR_LTRIM;
    int rc = expr_map_begin(nd, cx, EMBER_TYPE_STRING, out, &rows);
    if (rc)
        return rc < 0 ? rc : 0;
    for (int64_t i = 0; i < rows; i++) {
        const char *s = (const char *)a->data + a->off[i];
        int32_t b = 0, e = a->off[i + 1] - a->off[i];
        if (l)
            while (b < e && s[b] == ' ')
                b++;
        if (rt)
            while (e > b && s[e - 1] == ' ')
                e--;
        expr_sb_put(c, i, s + b, (size_t)(e - b));
    }
    expr_map_end(nd, cx, out);
    return 0;
}

static inline int64_t vint(const expr_vec *v, int64_t i)
{
    int64_t k = expr_ix(v, i);
    return v->type == EMBER_TYPE_INT64 ? ((const int64_t *)v->data)[k]
                                       : ((const int32_t *)v->data)[k];
}

/* byte offset of character `ch` (0-based) in s, or len */
static int32_t char_off(const uint8_t *s, int32_t len, int64_t ch)
{
    int32_t p = 0;
    while (ch > 0 && p < len) {
        p += (int32_t)expr_u8len(s[p]);
        ch--;
    }
    return p < len ? p : len;
}

static int eval_substr(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    int sc = expr_all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    rel_col *c = &nd->buf;
    const expr_vec *a = &nd->av[0];
    int p = expr_prop_valid(nd, cx, nd->av, nd->nargs, rows, EMBER_TYPE_STRING,
                            out, &valid, &nulls);
    if (p)
        return p < 0 ? expr_nomem(cx) : 0;
    if (expr_sb_begin(nd, rows,
                      (size_t)(a->off[a->scalar ? 1 : rows] - a->off[0])))
        return expr_nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int32_t len, nchars;
        const uint8_t *s;
        int64_t pos, cnt, start, end;
        if (valid && !EXPR_BIT(valid, i)) {
            expr_sb_null(c, i);
            continue;
        }
        s = (const uint8_t *)expr_vstr(a, i, &len);
        pos = vint(&nd->av[1], i);
        cnt = nd->nargs > 2 ? vint(&nd->av[2], i) : INT32_MAX;
        nchars = u8chars(s, len);
        /* Spark's UTF8String.substringSQL */
        start = pos > 0 ? pos - 1 : pos < 0 ? nchars + pos : 0;
        end = cnt >= INT32_MAX || start + cnt > INT32_MAX ? INT32_MAX
                                                          : start + cnt;
        if (start < 0)
            start = 0;
        if (start >= end || start >= nchars) {
            expr_sb_put(c, i, "", 0);
        } else {
            int32_t b = char_off(s, len, start);
            int32_t e = end >= nchars ? len : char_off(s, len, end);
            expr_sb_put(c, i, s + b, (size_t)(e - b));
        }
    }
    expr_vec_set(out, EMBER_TYPE_STRING, sc, cx->n, valid, nulls, c->off,
                 c->data);
    return 0;
}

static int eval_concat(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    int sc = expr_all_scalar(nd->av, nd->nargs);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    rel_col *c = &nd->buf;
    size_t bytes = 0;
    int p = expr_prop_valid(nd, cx, nd->av, nd->nargs, rows, EMBER_TYPE_STRING,
                            out, &valid, &nulls);
    if (p)
        return p < 0 ? expr_nomem(cx) : 0;
    for (int k = 0; k < nd->nargs; k++) {
        const expr_vec *a = &nd->av[k];
        size_t b = (size_t)(a->off[a->scalar ? 1 : rows] - a->off[0]);
        bytes += a->scalar ? b * (size_t)rows : b;
    }
    if (expr_sb_begin(nd, rows, bytes))
        return expr_nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        if (valid && !EXPR_BIT(valid, i)) {
            expr_sb_null(c, i);
            continue;
        }
        for (int k = 0; k < nd->nargs; k++) {
            int32_t len;
            const char *s = expr_vstr(&nd->av[k], i, &len);
            if (len) {
                memcpy(c->data + c->data_len, s, (size_t)len);
                c->data_len += (size_t)len;
            }
        }
        c->off[i + 1] = (int32_t)c->data_len;
    }
    expr_vec_set(out, EMBER_TYPE_STRING, sc, cx->n, valid, nulls, c->off,
                 c->data);
    return 0;
}

/* -------------------------------------------------------------- dates */

static int eval_datepart(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int64_t rows;
    int32_t *r;
    int rc = expr_map_begin(nd, cx, EMBER_TYPE_INT32, out, &rows);
    if (rc)
        return rc < 0 ? rc : 0;
    r = (int32_t *)nd->buf.data;
    for (int64_t i = 0; i < rows; i++) {
        int64_t days =
            a->type == EMBER_TYPE_TIMESTAMP
                ? rel_floordiv(((const int64_t *)a->data)[i], REL_US_PER_DAY)
                : ((const int32_t *)a->data)[i];
        int64_t y;
        int m, d;
        rel_civil_from_days(days, &y, &m, &d);
        r[i] = nd->op == EXPR_YEAR ? (int32_t)y : nd->op == EXPR_MONTH ? m : d;
    }
    expr_map_end(nd, cx, out);
    return 0;
}

static int eval_dateadd(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0], *b = &nd->av[1];
    int sc = expr_all_scalar(nd->av, 2);
    int64_t rows = sc ? 1 : cx->n, nulls;
    const uint8_t *valid;
    int32_t *r;
    int sub = nd->op == EXPR_DATESUB;
    int p = expr_prop_valid(nd, cx, nd->av, 2, rows, EMBER_TYPE_DATE32, out,
                            &valid, &nulls);
    if (p)
        return p < 0 ? expr_nomem(cx) : 0;
    if (!(r = expr_res_fixed(nd, EMBER_TYPE_DATE32, rows)))
        return expr_nomem(cx);
    if (b->type == EMBER_TYPE_INT64)
        EXPR_BINLOOP(int32_t, int32_t, int64_t, a, b, r, rows,
                     (uint32_t)x + (sub ? 0 - (uint32_t)y : (uint32_t)y));
    else
        EXPR_BINLOOP(int32_t, int32_t, int32_t, a, b, r, rows,
                     (uint32_t)x + (sub ? 0 - (uint32_t)y : (uint32_t)y));
    expr_vec_set(out, EMBER_TYPE_DATE32, sc, cx->n, valid, nulls, NULL, r);
    return 0;
}

/* --------------------------------------------------------------- cast */

static int cast_to_string(expr_node *nd, expr_ctx *cx, const expr_vec *a,
                          int64_t rows, expr_vec *out)
{
    rel_col *c = &nd->buf;
    char t[REL_FMT_MAX];
    if (expr_sb_begin(nd, rows, (size_t)rows * 8))
        return expr_nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        size_t n = 0;
        if (expr_vnull(a, i)) {
            expr_sb_null(c, i);
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
        if (expr_sb_put(c, i, t, n))
            return expr_nomem(cx);
    }
    expr_vec_like(out, EMBER_TYPE_STRING, a, cx->n, c->off, c->data);
    return 0;
}

static int cast_from_string(expr_node *nd, expr_ctx *cx, const expr_vec *a,
                            int64_t rows, expr_vec *out)
{
    int t = nd->type, w = rel_type_width((ember_type)t);
    uint8_t *r, *v;
    if (!(r = expr_res_fixed(nd, (ember_type)t, rows)) ||
        !(v = expr_res_valid_from(nd, a, rows)))
        return expr_nomem(cx);
    for (int64_t i = 0; i < rows; i++) {
        int32_t len;
        const char *s;
        int bad = 0;
        int64_t iv = 0;
        if (a->valid && !EXPR_BIT(a->valid, i)) {
            memset(r + i * w, 0, (size_t)w);
            continue;
        }
        s = expr_vstr(a, i, &len);
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
            bad = expr_parse_date(s, (size_t)len, &((int32_t *)r)[i]);
            break;
        case EMBER_TYPE_TIMESTAMP:
            bad = expr_parse_ts(s, (size_t)len, &((int64_t *)r)[i]);
            break;
        }
        if (bad) {
            memset(r + i * w, 0, (size_t)w);
            EXPR_CLRBIT(v, i);
        }
    }
    expr_vec_set(out, (ember_type)t, a->scalar, cx->n, v,
                 expr_count_nulls(v, rows), NULL, r);
    return 0;
}

#define CONV(ST, DT, EXPR) EXPR_UNLOOP(DT, ST, a, r, rows, EXPR)

/* double * SCALE -> integer, NULL when out of range */
#define D2I(DT, LO, HI, SCALE)                                                 \
    do {                                                                       \
        const double *s_ = a->data;                                            \
        for (int64_t i = 0; i < rows; i++) {                                   \
            double d = s_[i] * (SCALE);                                        \
            if (d > (LO) && d < (HI)) {                                        \
                ((DT *)r)[i] = (DT)d;                                          \
            } else {                                                           \
                ((DT *)r)[i] = 0;                                              \
                if (!v && !(v = expr_res_valid_from(nd, a, rows)))             \
                    return expr_nomem(cx);                                     \
                EXPR_CLRBIT(v, i);                                             \
            }                                                                  \
        }                                                                      \
    } while (0)

static int eval_cast(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    const expr_vec *a = &nd->av[0];
    int from = a->type, to = nd->type;
    int64_t rows = a->scalar ? 1 : cx->n;
    uint8_t *v = NULL;
    void *r;
    if (from == to || (from == EMBER_TYPE_BINARY && to == EMBER_TYPE_STRING)) {
        *out = *a;
        out->type = (ember_type)to;
        return 0;
    }
    if (expr_all_null(a, cx->n, (ember_type)to, out))
        return 0;
    if (to == EMBER_TYPE_STRING)
        return cast_to_string(nd, cx, a, rows, out);
    if (from == EMBER_TYPE_STRING || from == EMBER_TYPE_BINARY)
        return cast_from_string(nd, cx, a, rows, out);
    if (!(r = expr_res_fixed(nd, (ember_type)to, rows)))
        return expr_nomem(cx);
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
        D2I(int32_t, -2147483649.0, 2147483648.0, 1.0);
        break;
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_INT64:
        D2I(int64_t, -9223372036854777856.0, 9223372036854775808.0, 1.0);
        break;
    case EMBER_TYPE_DOUBLE * 16 + EMBER_TYPE_TIMESTAMP:
        D2I(int64_t, -9223372036854777856.0, 9223372036854775808.0,
            (double)REL_US_PER_SEC);
        break;
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
        return expr_fail(&cx->w, EMBER_EINVAL, "cast: cannot cast %s to %s",
                         expr_tname(from), expr_tname(to));
    }
    if (v)
        expr_vec_set(out, (ember_type)to, a->scalar, cx->n, v,
                     expr_count_nulls(v, rows), NULL, r);
    else
        expr_vec_like(out, (ember_type)to, a, cx->n, NULL, r);
    return 0;
}

/* ------------------------------------------------------------ dispatch */

int expr_eval_func(expr_node *nd, expr_ctx *cx, expr_vec *out)
{
    switch (nd->op) {
    case EXPR_CAST:
        return eval_cast(nd, cx, out);
    case EXPR_TODATE:
        if (nd->av[0].type == EMBER_TYPE_DATE32) {
            *out = nd->av[0];
            return 0;
        }
        return eval_cast(nd, cx, out);
    case EXPR_LOWER:
    case EXPR_UPPER:
        return eval_case_conv(nd, cx, out);
    case EXPR_LENGTH:
        return eval_length(nd, cx, out);
    case EXPR_TRIM:
    case EXPR_LTRIM:
    case EXPR_RTRIM:
        return eval_trim(nd, cx, out);
    case EXPR_SUBSTR:
        return eval_substr(nd, cx, out);
    case EXPR_CONCAT:
        return eval_concat(nd, cx, out);
    case EXPR_YEAR:
    case EXPR_MONTH:
    case EXPR_DAY:
        return eval_datepart(nd, cx, out);
    case EXPR_DATEADD:
    case EXPR_DATESUB:
        return eval_dateadd(nd, cx, out);
    default:
        return expr_fail(&cx->w, EMBER_EINVAL, "unknown node");
    }
}
