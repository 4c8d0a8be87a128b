/*
 * expr_compile.c -- compiling op_relational's expressions (see
 * expr_int.h): S-expression -> tree of expr_nodes.
 *
 * A call (FN TYPE ARG...) is looked up in the table of functions below
 * (name, code, argument counts), its result type read, its arguments
 * compiled recursively (at most 150 deep); (col I) and (lit TYPE VALUE)
 * are the leaves, literals decoded once here.  LIKE patterns are compiled
 * into a byte/kind array with fast shapes (equals, prefix%, %suffix,
 * %infix%) recognised.  expr_check is the type rule of every function: at
 * compile time with the types known then, and again per batch by
 * expr_eval once the input columns' types are known.
 *
 * Threads: trees belong to one operator instance; nothing global but
 * constant tables.
 */
#include "expr_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ============================================================ functions */

/* The functions an expression may call: name, code, argument counts. */
static const struct {
    const char *name;
    int op, amin, amax; /* amax -1: any */
} fns[] = {
    {"add", EXPR_ADD, 2, 2},
    {"sub", EXPR_SUB, 2, 2},
    {"mul", EXPR_MUL, 2, 2},
    {"mod", EXPR_MOD, 2, 2},
    {"div", EXPR_DIV, 2, 2},
    {"neg", EXPR_NEG, 1, 1},
    {"abs", EXPR_ABS, 1, 1},
    {"eq", EXPR_EQ, 2, 2},
    {"ne", EXPR_NE, 2, 2},
    {"lt", EXPR_LT, 2, 2},
    {"le", EXPR_LE, 2, 2},
    {"gt", EXPR_GT, 2, 2},
    {"ge", EXPR_GE, 2, 2},
    {"eqns", EXPR_EQNS, 2, 2},
    {"and", EXPR_AND, 2, -1},
    {"or", EXPR_OR, 2, -1},
    {"not", EXPR_NOT, 1, 1},
    {"is_null", EXPR_ISNULL, 1, 1},
    {"is_not_null", EXPR_ISNOTNULL, 1, 1},
    {"in", EXPR_IN, 1, -1},
    {"like", EXPR_LIKE, 2, 2},
    {"cast", EXPR_CAST, 1, 1},
    {"case", EXPR_CASE, 1, -1},
    {"coalesce", EXPR_COALESCE, 1, -1},
    {"lower", EXPR_LOWER, 1, 1},
    {"upper", EXPR_UPPER, 1, 1},
    {"length", EXPR_LENGTH, 1, 1},
    {"trim", EXPR_TRIM, 1, 1},
    {"ltrim", EXPR_LTRIM, 1, 1},
    {"rtrim", EXPR_RTRIM, 1, 1},
    {"substring", EXPR_SUBSTR, 2, 3},
    {"concat", EXPR_CONCAT, 1, -1},
    {"year", EXPR_YEAR, 1, 1},
    {"month", EXPR_MONTH, 1, 1},
    {"day", EXPR_DAY, 1, 1},
    {"to_date", EXPR_TODATE, 1, 1},
    {"date_add", EXPR_DATEADD, 2, 2},
    {"date_sub", EXPR_DATESUB, 2, 2},
};

/* ================================================================ nodes */

/* a compiled LIKE pattern: bytes with a kind each */
enum { LK_BYTE, LK_ONE, LK_ANY };
typedef struct expr_likepat {
    int n;
    uint8_t *kind;
    uint8_t *byte;
    /* fast shapes: 0 general, 1 equals, 2 prefix%, 3 %suffix, 4 %infix% */
    int shape;
    const char *lit;
    size_t litlen;
} expr_likepat;

static void likepat_free(expr_likepat *p)
{
    if (!p)
        return;
    free(p->kind);
    free(p->byte);
    free(p);
}

void expr_node_free(expr_node *nd)
{
    if (!nd)
        return;
    for (int i = 0; nd->args && i < nd->nargs; i++)
        expr_node_free(nd->args[i]);
    free(nd->args);
    free(nd->av);
    free(nd->at);
    free(nd->ls);
    likepat_free(nd->like);
    relcol_free(&nd->buf);
    free(nd->tmp);
    free(nd);
}

/* ------------------------------------------------------------- errors */

int expr_fail(const expr_where *w, int code, const char *fmt, ...)
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

static int sym_eq_ci(const rel_sx *x, const char *name)
{
    return x->kind == SX_SYM && strcasecmp(x->s, name) == 0;
}

/* (lit T V) into nd */
static int compile_lit(const rel_sx *x, expr_node *nd, const expr_where *w)
{
    const rel_sx *v;
    int t;
    if (x->n != 3 || x->items[1]->kind != SX_SYM)
        return expr_fail(w, EMBER_EINVAL, "lit needs (lit TYPE VALUE)");
    t = rel_type_from_name(x->items[1]->s, strlen(x->items[1]->s));
    if (t < 0 || t == EMBER_TYPE_BINARY || t == EMBER_TYPE_LUAVALUE)
        return expr_fail(w, EMBER_EINVAL, "lit: unknown type '%s'",
                         x->items[1]->s);
    nd->op = EXPR_LIT;
    nd->type = t;
    v = x->items[2];
    if (rel_sx_is(v, "null") || t == EMBER_TYPE_NULL) {
        if (!rel_sx_is(v, "null"))
            return expr_fail(w, EMBER_EINVAL, "lit of type null must be null");
        nd->lnull = 1;
        return 0;
    }
    switch (t) {
    case EMBER_TYPE_BOOL:
        if (sym_eq_ci(v, "true"))
            nd->lv.b = 1;
        else if (!sym_eq_ci(v, "false"))
            return expr_fail(w, EMBER_EINVAL,
                             "boolean lit must be true or false");
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
            if (expr_parse_date(v->s, v->len, &d))
                return expr_fail(w, EMBER_EINVAL, "bad date lit \"%s\"", v->s);
            nd->li = d;
        } else if (v->kind == SX_STR && t == EMBER_TYPE_TIMESTAMP) {
            if (expr_parse_ts(v->s, v->len, &nd->li))
                return expr_fail(w, EMBER_EINVAL, "bad timestamp lit \"%s\"",
                                 v->s);
        } else {
            return expr_fail(w, EMBER_EINVAL, "%s lit needs an integer",
                             rel_type_name((ember_type)t));
        }
        if ((t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32) &&
            (nd->li < INT32_MIN || nd->li > INT32_MAX))
            return expr_fail(w, EMBER_EINVAL, "%s lit out of range: %lld",
                             rel_type_name((ember_type)t), (long long)nd->li);
        if (t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32)
            nd->lv.i32 = (int32_t)nd->li;
        else
            nd->lv.i64 = nd->li;
        nd->ld = (double)nd->li;
        return 0;
    case EMBER_TYPE_DOUBLE:
        if (v->kind != SX_INT && v->kind != SX_NUM)
            return expr_fail(w, EMBER_EINVAL, "double lit needs a number");
        nd->lv.d = v->d;
        nd->ld = v->d;
        return 0;
    case EMBER_TYPE_STRING:
        if (v->kind != SX_STR)
            return expr_fail(w, EMBER_EINVAL, "string lit needs a \"string\"");
        if (v->len > INT32_MAX)
            return expr_fail(w, EMBER_ETOOBIG, "string lit too long");
        nd->ls = malloc(v->len + 1);
        if (!nd->ls)
            return expr_fail(w, EMBER_ENOMEM, "out of memory");
        memcpy(nd->ls, v->s, v->len + 1);
        nd->loff[1] = (int32_t)v->len;
        return 0;
    default:
        return expr_fail(w, EMBER_EINVAL, "bad lit");
    }
}

/* ------------------------------------------------------------- LIKE */

static int like_compile(expr_node *nd, const char *p, size_t len,
                        const expr_where *w)
{
    expr_likepat *lp = calloc(1, sizeof *lp);
    int nany = 0, none = 0, lead = 0, trail = 0, nbytes = 0;
    if (!lp)
        return expr_fail(w, EMBER_ENOMEM, "out of memory");
    nd->like = lp;
    lp->kind = malloc(len + 1);
    lp->byte = malloc(len + 1);
    if (!lp->kind || !lp->byte)
        return expr_fail(w, EMBER_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '\\') {
            if (i + 1 == len)
                return expr_fail(w, EMBER_EINVAL,
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

int expr_like_match(const expr_likepat *lp, const uint8_t *s, size_t sl)
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
            si += expr_u8len(s[si]);
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
            mark += expr_u8len(s[mark]);
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

static int type_of_name(const rel_sx *x)
{
    if (!x || x->kind != SX_SYM)
        return -1;
    return rel_type_from_name(x->s, strlen(x->s));
}

expr_node *expr_compile(const rel_sx *x, const expr_where *w, int depth)
{
    expr_node *nd;
    int t, fi = -1;
    if (depth > 150) {
        expr_fail(w, EMBER_EINVAL, "expression nested too deeply");
        return NULL;
    }
    if (x->kind != SX_LIST || x->n == 0 || x->items[0]->kind != SX_SYM) {
        expr_fail(w, EMBER_EINVAL, "expected an expression (FN ...), got %s",
                  x->kind == SX_LIST ? "a list"
                  : x->s             ? x->s
                                     : "a number");
        return NULL;
    }
    nd = calloc(1, sizeof *nd);
    if (!nd) {
        expr_fail(w, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    relcol_init(&nd->buf, EMBER_TYPE_NULL);
    if (rel_sx_head(x, "col")) {
        nd->op = EXPR_COL;
        nd->type = -1;
        if (x->n != 2 || x->items[1]->kind != SX_INT || x->items[1]->i < 0 ||
            x->items[1]->i > INT32_MAX) {
            expr_fail(w, EMBER_EINVAL, "col needs (col INDEX), INDEX >= 0");
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
        expr_fail(w, EMBER_EINVAL, "unknown function '%s'", x->items[0]->s);
        goto bad;
    }
    nd->op = fns[fi].op;
    if (x->n < 2 || (t = type_of_name(x->items[1])) < 0 ||
        t == EMBER_TYPE_LUAVALUE) {
        expr_fail(w, EMBER_EINVAL, "%s: expected a result type after the name",
                  fns[fi].name);
        goto bad;
    }
    nd->type = t;
    nd->nargs = x->n - 2;
    if (nd->nargs < fns[fi].amin ||
        (fns[fi].amax >= 0 && nd->nargs > fns[fi].amax)) {
        if (fns[fi].amax == fns[fi].amin)
            expr_fail(w, EMBER_EINVAL, "%s takes %d argument%s, got %d",
                      fns[fi].name, fns[fi].amin, fns[fi].amin == 1 ? "" : "s",
                      nd->nargs);
        else
            expr_fail(w, EMBER_EINVAL, "%s takes %d%s%d arguments, got %d",
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
        expr_fail(w, EMBER_ENOMEM, "out of memory");
        goto bad;
    }
    for (int i = 0; i < nd->nargs; i++) {
        nd->args[i] = expr_compile(x->items[i + 2], w, depth + 1);
        if (!nd->args[i]) {
            nd->nargs = i; /* free what was built */
            goto bad;
        }
        nd->at[i] = nd->args[i]->type;
    }
    if (nd->op == EXPR_IN)
        for (int i = 1; i < nd->nargs; i++)
            if (nd->args[i]->op != EXPR_LIT) {
                expr_fail(w, EMBER_EINVAL, "in: the list must hold literals");
                goto bad;
            }
    if (nd->op == EXPR_LIKE) {
        expr_node *p = nd->args[1];
        if (p->op != EXPR_LIT || p->type != EMBER_TYPE_STRING || p->lnull) {
            expr_fail(w, EMBER_EINVAL,
                      "like: the pattern must be a string lit");
            goto bad;
        }
        if (like_compile(nd, p->ls, (size_t)p->loff[1], w))
            goto bad;
    }
    if (expr_check(nd, nd->at, w))
        goto bad;
    return nd;
bad:
    expr_node_free(nd);
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

/* the last of at[0..na) that does not fit `want`, or -1 */
static int last_unfit(const int *at, int na, int want)
{
    int bad = -1;
    for (int i = 0; i < na; i++)
        if (!fits(at[i], want))
            bad = i;
    return bad;
}

const char *expr_tname(int t)
{
    return t < 0 ? "?" : rel_type_name((ember_type)t);
}

const char *expr_opname(int op)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].op == op)
            return fns[i].name;
    return op == EXPR_COL ? "col" : "lit";
}

int expr_check(const expr_node *nd, const int *at, const expr_where *w)
{
    int t = nd->type, na = nd->nargs;
    const char *fn = expr_opname(nd->op);
    int bad = -1;
    switch (nd->op) {
    case EXPR_ADD:
    case EXPR_SUB:
    case EXPR_MUL:
    case EXPR_MOD:
    case EXPR_NEG:
    case EXPR_ABS:
        if (!numeric_t(t))
            return expr_fail(w, EMBER_EINVAL,
                             "%s: result type must be int, "
                             "bigint or double, not %s",
                             fn, expr_tname(t));
        bad = last_unfit(at, na, t);
        break;
    case EXPR_DIV:
        if (t != EMBER_TYPE_DOUBLE)
            return expr_fail(w, EMBER_EINVAL,
                             "div: result type must be double");
        bad = last_unfit(at, na, t);
        break;
    case EXPR_EQ:
    case EXPR_NE:
    case EXPR_LT:
    case EXPR_LE:
    case EXPR_GT:
    case EXPR_GE:
    case EXPR_EQNS:
    case EXPR_IN:
        if (t != EMBER_TYPE_BOOL)
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be boolean",
                             fn);
        for (int i = 1; i < na; i++)
            if (at[0] >= 0 && at[0] != EMBER_TYPE_NULL && !fits(at[i], at[0]))
                return expr_fail(w, EMBER_EINVAL,
                                 "%s: arguments differ in type (%s vs %s)", fn,
                                 expr_tname(at[0]), expr_tname(at[i]));
        for (int i = 0; i < na; i++)
            if (at[i] == EMBER_TYPE_LUAVALUE)
                bad = i;
        break;
    case EXPR_AND:
    case EXPR_OR:
    case EXPR_NOT:
        if (t != EMBER_TYPE_BOOL)
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be boolean",
                             fn);
        bad = last_unfit(at, na, EMBER_TYPE_BOOL);
        break;
    case EXPR_ISNULL:
    case EXPR_ISNOTNULL:
        if (t != EMBER_TYPE_BOOL)
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be boolean",
                             fn);
        break;
    case EXPR_LIKE:
        if (t != EMBER_TYPE_BOOL)
            return expr_fail(w, EMBER_EINVAL,
                             "like: result type must be boolean");
        if (!fits(at[0], EMBER_TYPE_STRING))
            bad = 0;
        break;
    case EXPR_CAST:
        if (at[0] >= 0 && !cast_ok(at[0], t))
            return expr_fail(w, EMBER_EINVAL, "cast: cannot cast %s to %s",
                             expr_tname(at[0]), expr_tname(t));
        break;
    case EXPR_CASE:
        for (int i = 0; i + 1 < na; i += 2) {
            if (!fits(at[i], EMBER_TYPE_BOOL))
                bad = i;
            if (!fits(at[i + 1], t))
                bad = i + 1;
        }
        if (na % 2 && !fits(at[na - 1], t))
            bad = na - 1;
        break;
    case EXPR_COALESCE:
        bad = last_unfit(at, na, t);
        break;
    case EXPR_LOWER:
    case EXPR_UPPER:
    case EXPR_TRIM:
    case EXPR_LTRIM:
    case EXPR_RTRIM:
    case EXPR_CONCAT:
    case EXPR_LENGTH:
    case EXPR_SUBSTR:
        if (t != (nd->op == EXPR_LENGTH ? EMBER_TYPE_INT32 : EMBER_TYPE_STRING))
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be %s", fn,
                             nd->op == EXPR_LENGTH ? "int" : "string");
        for (int i = 0; i < na; i++) {
            int want = nd->op == EXPR_SUBSTR && i > 0 ? EMBER_TYPE_INT32
                                                      : EMBER_TYPE_STRING;
            if (!fits(at[i], want) &&
                !(want == EMBER_TYPE_INT32 && at[i] == EMBER_TYPE_INT64))
                bad = i;
        }
        break;
    case EXPR_YEAR:
    case EXPR_MONTH:
    case EXPR_DAY:
        if (t != EMBER_TYPE_INT32)
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be int",
                             fn);
        if (!fits(at[0], EMBER_TYPE_DATE32) && at[0] != EMBER_TYPE_TIMESTAMP)
            bad = 0;
        break;
    case EXPR_TODATE:
        if (t != EMBER_TYPE_DATE32)
            return expr_fail(w, EMBER_EINVAL,
                             "to_date: result type must be date");
        if (!fits(at[0], EMBER_TYPE_STRING) && at[0] != EMBER_TYPE_DATE32 &&
            at[0] != EMBER_TYPE_TIMESTAMP)
            bad = 0;
        break;
    case EXPR_DATEADD:
    case EXPR_DATESUB:
        if (t != EMBER_TYPE_DATE32)
            return expr_fail(w, EMBER_EINVAL, "%s: result type must be date",
                             fn);
        if (!fits(at[0], EMBER_TYPE_DATE32))
            bad = 0;
        if (!fits(at[1], EMBER_TYPE_INT32) && at[1] != EMBER_TYPE_INT64)
            bad = 1;
        break;
    default:
        break;
    }
    if (bad >= 0)
        return expr_fail(w, EMBER_EINVAL, "%s %s: argument %d has type %s", fn,
                         expr_tname(t), bad + 1, expr_tname(at[bad]));
    return 0;
}

/* Parse and compile the expression text of parameter `w->param`. */
expr_node *expr_compile_text(const char *text, const expr_where *w)
{
    ember_error e = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e);
    expr_node *nd;
    if (!x) {
        expr_fail(w, EMBER_EINVAL, "%s", e.msg);
        return NULL;
    }
    nd = expr_compile(x, w, 0);
    rel_sx_free(x);
    return nd;
}
