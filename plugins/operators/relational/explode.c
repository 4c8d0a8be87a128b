/*
 * explode.c -- rel.explode of op_relational: one output row per element of
 * split(S, regex) of every input row, S a string expression (expr_int.h),
 * with the columns listed in `keep` carried along.
 *
 * How it works: the pattern is classified once at open() into the fastest
 * splitter that is exact for it: one byte, a literal string, a character
 * class run (\s+, " +", \d ...), the empty pattern (one row per UTF-8
 * character), or else a POSIX ERE translated from Java's syntax (\s \d \w,
 * escapes).  Splitting follows Java's String.split(regex, -1): trailing
 * empty strings are kept, a zero-width match at the start yields no empty
 * first element.  Pieces are appended to the output string column with the
 * input row recorded; the kept columns are gathered for those rows before
 * the input batch goes, and a batch is emitted once it holds OUT_ROWS rows
 * (the rest at finish()).
 *
 * Threads: an operator instance is used by one task thread at a time;
 * nothing here is global but constant tables.
 */
#include "expr_int.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define OUT_ROWS 8192 /* rows per emitted batch where we choose */

/* -------------------------------------------------------- rel.explode */

static const ember_param_desc explode_params[] = {
    {"expr", EMBER_PARAM_STRING, NULL,
     "(split S \"regex\"): S a string expression, Java regex syntax"},
    {"keep", EMBER_PARAM_STRING, "()", "input column indices to carry"},
    {"name", EMBER_PARAM_STRING, "col", "name of the output column"},
};

enum { SPLIT_BYTE, SPLIT_STR, SPLIT_SET, SPLIT_EMPTY, SPLIT_RE };

typedef struct explode_st {
    expr_node *s;
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
    expr_inbatch ib;
} explode_st;

static void explode_close(void *state)
{
    explode_st *e = state;
    if (!e)
        return;
    expr_node_free(e->s);
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
    expr_inbatch_free(&e->ib);
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
static int translate_re(const char *p, char **out, const expr_where *w)
{
    size_t n = strlen(p), k = 0;
    char *o = malloc(n * 12 + 1);
    int inb = 0;
    if (!o)
        return expr_fail(w, EMBER_ENOMEM, "out of memory");
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
                return expr_fail(w, EMBER_EINVAL,
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
            return expr_fail(w, EMBER_EINVAL, "split: regex ends with '\\'");
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
                           const expr_where *w)
{
    char *lit = malloc(n + 1);
    size_t k = 0;
    int plain = 1;
    if (!lit)
        return expr_fail(w, EMBER_ENOMEM, "out of memory");
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
            return expr_fail(w, EMBER_EINVAL, "split: bad regex \"%s\": %s", p,
                             msg);
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
    expr_where w = {"rel.explode", "expr", err};
    ember_error e0 = {0, ""};
    explode_st *e = calloc(1, sizeof *e);
    rel_sx *x = NULL, *k = NULL;
    int rc = EMBER_EINVAL, pos;
    (void)ti;
    if (!e)
        return expr_fail(&w, EMBER_ENOMEM, "out of memory");
    x = rel_sx_parse(host->param_str(p, "expr"), &e0);
    if (!x) {
        expr_fail(&w, EMBER_EINVAL, "%s", e0.msg);
        goto bad;
    }
    if (!rel_sx_head(x, "split") || x->n != 3 || x->items[2]->kind != SX_STR) {
        expr_fail(&w, EMBER_EINVAL, "expected (split S \"regex\")");
        goto bad;
    }
    if (!(e->s = expr_compile(x->items[1], &w, 0)))
        goto bad;
    if (e->s->type >= 0 && e->s->type != EMBER_TYPE_STRING &&
        e->s->type != EMBER_TYPE_NULL) {
        expr_fail(&w, EMBER_EINVAL, "split: S has type %s, not string",
                  expr_tname(e->s->type));
        goto bad;
    }
    if (explode_pattern(e, x->items[2]->s, x->items[2]->len, &w))
        goto bad;
    w.param = "keep";
    k = rel_sx_parse(host->param_str(p, "keep"), &e0);
    if (!k) {
        expr_fail(&w, EMBER_EINVAL, "%s", e0.msg);
        goto bad;
    }
    if (k->kind != SX_LIST) {
        expr_fail(&w, EMBER_EINVAL, "expected a list of column indices");
        goto bad;
    }
    e->nkeep = k->n;
    e->keep = calloc((size_t)k->n + 1, sizeof *e->keep);
    e->names = calloc((size_t)k->n + 1, sizeof *e->names);
    e->out = calloc((size_t)k->n + 1, sizeof *e->out);
    if (!e->keep || !e->names || !e->out) {
        rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    if ((pos = rel_sx_indices(k, INT32_MAX, e->keep)) != 0) {
        expr_fail(&w, EMBER_EINVAL, "item %d is not a column index", pos);
        goto bad;
    }
    for (int i = 0; i <= e->nkeep; i++)
        relcol_init(&e->out[i], EMBER_TYPE_NULL);
    e->out[e->nkeep].type = EMBER_TYPE_STRING;
    e->names[e->nkeep] = strdup(host->param_str(p, "name"));
    if (!e->names[e->nkeep]) {
        rc = expr_fail(&w, EMBER_ENOMEM, "out of memory");
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
            size_t l = expr_u8len((uint8_t)s[i]);
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
                pos += pos < len ? expr_u8len((uint8_t)s[pos]) : 1;
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
    expr_ctx x = {0};
    expr_vec v;
    int rc;
    x.w = (expr_where){"rel.explode", NULL, err};
    if ((rc = expr_inbatch_load(&e->ib, in, &x.w)))
        return rc;
    if (e->ib.n == 0)
        return 0;
    for (int i = 0; i < e->nkeep; i++) {
        ember_type t;
        if (e->keep[i] >= e->ib.ncols)
            return expr_fail(&x.w, EMBER_EINVAL,
                             "keep: column %d out of range (the batch has %d "
                             "columns)",
                             e->keep[i], e->ib.ncols);
        t = e->ib.cols[e->keep[i]].type;
        if (!e->names[i]) {
            e->names[i] = strdup(e->ib.names[e->keep[i]]);
            if (!e->names[i])
                return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
            relcol_init(&e->out[i], t);
        } else if (e->out[i].type != t) {
            if (e->out[i].n > 0)
                return expr_fail(&x.w, EMBER_EINVAL,
                                 "keep: column %d changed type from %s to %s",
                                 e->keep[i], expr_tname(e->out[i].type),
                                 expr_tname(t));
            relcol_free(&e->out[i]);
            relcol_init(&e->out[i], t);
        }
    }
    x.cols = e->ib.cols;
    x.ncols = e->ib.ncols;
    x.n = e->ib.n;
    if ((rc = expr_eval(e->s, &x, &v)))
        return rc;
    if (v.type == EMBER_TYPE_NULL)
        return 0;
    if (v.type != EMBER_TYPE_STRING)
        return expr_fail(&x.w, EMBER_EINVAL, "split: S has type %s, not string",
                         expr_tname(v.type));
    for (int64_t i = 0; i < x.n; i++) {
        int32_t len;
        const char *s;
        if (expr_vnull(&v, i))
            continue;
        s = expr_vstr(&v, i, &len);
        if ((rc = split_row(e, s, (size_t)len, i))) {
            e->pend = 0;
            for (int k = 0; k <= e->nkeep; k++)
                relcol_reset(&e->out[k]);
            return expr_fail(&x.w, rc, "cannot split: %s",
                             rel_host->strerror(rc));
        }
        if (e->out[e->nkeep].n >= OUT_ROWS) {
            if (explode_flush_keep(e))
                return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
            if ((rc = explode_emit(e, emit, ud, err)))
                return rc;
        }
    }
    if (explode_flush_keep(e))
        return expr_fail(&x.w, EMBER_ENOMEM, "out of memory");
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

const ember_op_desc rel_explode_desc = {
    sizeof(ember_op_desc),
    "rel.explode",
    "one row per element of split(string, regex)",
    EMBER_OP_TRANSFORM,
    explode_params,
    sizeof explode_params / sizeof explode_params[0],
    NULL,
    explode_open,
    NULL,
    explode_push,
    explode_finish,
    explode_close,
    NULL};
