/*
 * agg_table.c -- the hash table of rel.hash_agg (see agg_int.h): binding
 * key and state types, mapping rows to groups, updating the aggregates,
 * count_distinct sets, and building the output columns.
 *
 * How it works.  Input is processed in chunks of up to CHUNK_ROWS rows,
 * column at a time: the key columns are hashed into an array (typed loops,
 * NULLs hash to a constant, doubles canonicalised so NaN = NaN and
 * -0.0 = 0.0), then an open-addressing table (linear probing; a slot holds
 * the upper 32 hash bits and the group id) maps every row to a group id;
 * keys are compared only when the tags match.  Group keys live in rel_col
 * builders, aggregate states in typed arrays indexed by group id, and each
 * aggregate is updated with one tight typed loop over the chunk.  A single
 * string key takes a faster path (see agg_lookup).
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "agg_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ hashing */

/* Keys are hashed column at a time by rel_hash_col and compared with
 * rel_group_eq (rel.h). */

/* x < y for doubles with NaN greatest (as Spark) */
static inline int dlt(double x, double y)
{
    return x == x && (y != y || x < y);
}

static inline int bytes_cmp(const uint8_t *a, size_t la, const uint8_t *b,
                            size_t lb)
{
    int r = memcmp(a, b, la < lb ? la : lb);
    if (r)
        return r;
    return (la > lb) - (la < lb);
}

/* -------------------------------------------------- count_distinct sets */

static void dset_free(agg_dset *d)
{
    free(d->slot);
    free(d->eg);
    free(d->eh);
    free(d->ev);
    free(d->el);
    free(d->arena);
    memset(d, 0, sizeof *d);
}

static size_t dset_bytes(const agg_dset *d)
{
    return d->scap * 4 + d->ecap * (4 + 8 + 8 + 4) + d->acap;
}

static int dset_rehash(agg_dset *d, size_t ncap)
{
    uint32_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return EMBER_ENOMEM;
    for (size_t e = 0; e < d->n; e++) {
        size_t p = d->eh[e] & (ncap - 1);
        while (ns[p])
            p = (p + 1) & (ncap - 1);
        ns[p] = (uint32_t)(e + 1);
    }
    free(d->slot);
    d->slot = ns;
    d->scap = ncap;
    return 0;
}

static int grow_arr(void **p, size_t n, size_t unit)
{
    void *np = realloc(*p, n * unit);
    if (!np)
        return EMBER_ENOMEM;
    *p = np;
    return 0;
}

/* 1 if inserted, 0 if present, <0 on error */
static int dset_insert(agg_dset *d, int32_t g, uint64_t h,
                       const ember_column *c, int64_t row)
{
    int64_t v = 0;
    size_t len = 0;
    const char *s = NULL;
    size_t p;
    if ((d->n + 1) * 2 > d->scap &&
        dset_rehash(d, d->scap ? d->scap * 2 : 1024))
        return EMBER_ENOMEM;
    switch (c->type) {
    case EMBER_TYPE_BOOL:
        v = rel_bool(c, row);
        break;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        v = rel_i32(c, row);
        break;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        v = rel_i64(c, row);
        break;
    case EMBER_TYPE_DOUBLE:
        v = (int64_t)rel_dbl_bits(rel_f64(c, row));
        break;
    default:
        s = rel_str(c, row, &len);
        break;
    }
    p = h & (d->scap - 1);
    while (d->slot[p]) {
        size_t e = d->slot[p] - 1;
        if (d->eh[e] == h && d->eg[e] == g) {
            if (!s && d->ev[e] == v)
                return 0;
            if (s && (size_t)d->el[e] == len &&
                (len == 0 || memcmp(d->arena + d->ev[e], s, len) == 0))
                return 0;
        }
        p = (p + 1) & (d->scap - 1);
    }
    if (d->n == d->ecap) {
        size_t nc = d->ecap ? d->ecap * 2 : 1024;
        if (grow_arr((void **)&d->eg, nc, 4) ||
            grow_arr((void **)&d->eh, nc, 8) ||
            grow_arr((void **)&d->ev, nc, 8) ||
            grow_arr((void **)&d->el, nc, 4))
            return EMBER_ENOMEM;
        d->ecap = nc;
    }
    if (s) {
        if (d->alen + len > d->acap) {
            size_t nc = d->acap ? d->acap : 4096;
            while (nc < d->alen + len)
                nc *= 2;
            if (grow_arr((void **)&d->arena, nc, 1))
                return EMBER_ENOMEM;
            d->acap = nc;
        }
        if (len)
            memcpy(d->arena + d->alen, s, len);
        v = (int64_t)d->alen;
        d->alen += len;
    }
    d->eg[d->n] = g;
    d->eh[d->n] = h;
    d->ev[d->n] = v;
    d->el[d->n] = (int32_t)len;
    d->slot[p] = (uint32_t)(++d->n);
    return 1;
}

/* ------------------------------------------------------------- state */

#define PREFETCH_AHEAD 8

static int need_i64(const aggfn *a)
{
    return a->fn == F_COUNT || a->fn == F_COUNT_STAR || a->fn == F_AVG ||
           a->fn == F_COUNT_DISTINCT ||
           (a->fn == F_SUM && a->st == EMBER_TYPE_INT64) ||
           (KEEPS_VALUE(a->fn) &&
            (a->st == EMBER_TYPE_INT64 || a->st == EMBER_TYPE_TIMESTAMP ||
             rel_type_varwidth(a->st)));
}
static int need_f64(const aggfn *a)
{
    return a->fn == F_AVG || a->st == EMBER_TYPE_DOUBLE;
}
static int need_i32(const aggfn *a)
{
    return KEEPS_VALUE(a->fn) &&
           (a->st == EMBER_TYPE_INT32 || a->st == EMBER_TYPE_DATE32 ||
            rel_type_varwidth(a->st));
}
static int need_has(const aggfn *a)
{
    return a->fn == F_SUM || KEEPS_VALUE(a->fn);
}

size_t agg_table_bytes(const agg *s)
{
    size_t b = s->scap * sizeof(agg_slot) + (size_t)s->gcap * 8;
    for (int k = 0; k < s->nk; k++)
        b += relcol_bytes(&s->keys[k]);
    for (int j = 0; j < s->na; j++) {
        const aggfn *a = &s->a[j];
        size_t per = (need_i64(a) ? 8 : 0) + (need_f64(a) ? 8 : 0) +
                     (need_i32(a) ? 4 : 0) + (need_has(a) ? 1 : 0) +
                     (a->st == EMBER_TYPE_BOOL ? 1 : 0);
        b += per * (size_t)s->gcap + a->acap + dset_bytes(&a->ds);
    }
    return b;
}

/* Drop every group and free the table's memory (types stay bound). */
void agg_table_reset(agg *s)
{
    free(s->slots);
    s->slots = NULL;
    s->scap = 0;
    free(s->ghash);
    s->ghash = NULL;
    s->ng = s->gcap = 0;
    s->null_gid = -1;
    for (int k = 0; k < s->nk && s->keys; k++)
        relcol_free(&s->keys[k]);
    for (int j = 0; j < s->na; j++) {
        aggfn *a = &s->a[j];
        free(a->i64);
        free(a->f64);
        free(a->i32);
        free(a->u8);
        free(a->has);
        free(a->arena);
        a->i64 = NULL;
        a->f64 = NULL;
        a->i32 = NULL;
        a->u8 = a->has = a->arena = NULL;
        a->alen = a->acap = a->alive = 0;
        dset_free(&a->ds);
    }
}

static int grow_zero(void **p, int64_t old, int64_t n, size_t unit)
{
    if (grow_arr(p, (size_t)n, unit))
        return EMBER_ENOMEM;
    memset((char *)*p + (size_t)old * unit, 0, (size_t)(n - old) * unit);
    return 0;
}

/* room for `more` groups in the state arrays */
int agg_groups_reserve(agg *s, int64_t more)
{
    int64_t nc;
    if (s->ng + more <= s->gcap)
        return 0;
    nc = s->gcap ? s->gcap : 256;
    while (nc < s->ng + more)
        nc *= 2;
    if (grow_arr((void **)&s->ghash, (size_t)nc, 8))
        return EMBER_ENOMEM;
    for (int j = 0; j < s->na; j++) {
        aggfn *a = &s->a[j];
        if ((need_i64(a) && grow_zero((void **)&a->i64, s->gcap, nc, 8)) ||
            (need_f64(a) && grow_zero((void **)&a->f64, s->gcap, nc, 8)) ||
            (need_i32(a) && grow_zero((void **)&a->i32, s->gcap, nc, 4)) ||
            (a->st == EMBER_TYPE_BOOL &&
             grow_zero((void **)&a->u8, s->gcap, nc, 1)) ||
            (need_has(a) && grow_zero((void **)&a->has, s->gcap, nc, 1)))
            return EMBER_ENOMEM;
    }
    s->gcap = nc;
    return 0;
}

static int slots_rehash(agg *s, size_t ncap)
{
    agg_slot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        ns[i].gid = -1;
    for (size_t i = 0; i < s->scap; i++) { /* old slots, with their keys */
        const agg_slot *o = &s->slots[i];
        size_t p;
        if (o->gid < 0)
            continue;
        p = s->ghash[o->gid] & (ncap - 1);
        while (ns[p].gid >= 0)
            p = (p + 1) & (ncap - 1);
        ns[p] = *o;
    }
    free(s->slots);
    s->slots = ns;
    s->scap = ncap;
    return 0;
}

/* ------------------------------------------------------- binding types */

static int bind_fail(ember_error *err, const char *fmt, int a, const char *b)
{
    char what[256];
    snprintf(what, sizeof what, fmt, a, b);
    rel_host->seterr(err, EMBER_EINVAL, OPNAME ": %s", what);
    return EMBER_EINVAL;
}

/* Decide key and state types from the input column types. */
int agg_bind(agg *s, const ember_type *types, const char *const *names,
             int ncols, ember_error *err)
{
    for (int k = 0; k < s->nk; k++) {
        if (s->kidx[k] >= ncols)
            return bind_fail(err, "key column %d out of range%s", s->kidx[k],
                             "");
        s->ktype[k] = types[s->kidx[k]];
        s->kname[k] =
            strdup(names && names[s->kidx[k]] ? names[s->kidx[k]] : "");
        if (!s->kname[k]) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
    }
    for (int j = 0; j < s->na; j++) {
        aggfn *a = &s->a[j];
        ember_type t;
        if (a->fn == F_COUNT_STAR && !s->merge) {
            a->st = EMBER_TYPE_INT64;
            continue;
        }
        if (a->arg >= ncols ||
            (a->fn == F_AVG && s->merge && a->arg + 1 >= ncols))
            return bind_fail(err, "argument column %d of %s out of range",
                             a->arg, a->name);
        t = types[a->arg];
        a->argt = t;
        switch (a->fn) {
        case F_SUM:
            if (t == EMBER_TYPE_INT32 || t == EMBER_TYPE_INT64)
                a->st = EMBER_TYPE_INT64;
            else if (t == EMBER_TYPE_DOUBLE || t == EMBER_TYPE_NULL)
                a->st = EMBER_TYPE_DOUBLE;
            else
                return bind_fail(err,
                                 "sum over column %d needs a number, "
                                 "not %s",
                                 a->arg, rel_type_name(t));
            break;
        case F_AVG:
            if (s->merge) {
                if ((t != EMBER_TYPE_DOUBLE && t != EMBER_TYPE_NULL) ||
                    (types[a->arg + 1] != EMBER_TYPE_INT64 &&
                     types[a->arg + 1] != EMBER_TYPE_NULL))
                    return bind_fail(err,
                                     "avg state at column %d must be double "
                                     "and bigint%s",
                                     a->arg, "");
            } else if (t != EMBER_TYPE_INT32 && t != EMBER_TYPE_INT64 &&
                       t != EMBER_TYPE_DOUBLE && t != EMBER_TYPE_NULL) {
                return bind_fail(err,
                                 "avg over column %d needs a number, "
                                 "not %s",
                                 a->arg, rel_type_name(t));
            }
            a->st = EMBER_TYPE_DOUBLE;
            break;
        case F_COUNT:
        case F_COUNT_STAR:
            if (s->merge && t != EMBER_TYPE_INT64 && t != EMBER_TYPE_INT32 &&
                t != EMBER_TYPE_NULL)
                return bind_fail(err,
                                 "count state at column %d must be "
                                 "bigint, not %s",
                                 a->arg, rel_type_name(t));
            a->st = EMBER_TYPE_INT64;
            break;
        default: /* min, max, first, count_distinct */
            if (t == EMBER_TYPE_LUAVALUE)
                return bind_fail(err, "cannot aggregate column %d of type %s",
                                 a->arg, rel_type_name(t));
            /* NULL-typed columns do not survive the batch codec: an
             * all-NULL min/max is typed double */
            a->st = t == EMBER_TYPE_NULL && a->fn != F_COUNT_DISTINCT
                        ? EMBER_TYPE_DOUBLE
                        : t;
            break;
        }
    }
    for (int k = 0; k < s->nk; k++)
        relcol_init(&s->keys[k], s->ktype[k]);
    s->bound = 1;
    return 0;
}

/* Check that a later batch has the bound types. */
int agg_check_types(const agg *s, const ember_column *in, int ncols,
                    ember_error *err)
{
    for (int k = 0; k < s->nk; k++)
        if (s->kidx[k] >= ncols || in[s->kidx[k]].type != s->ktype[k]) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": key column %d changed type or vanished "
                                    "(was %s)",
                             s->kidx[k], rel_type_name(s->ktype[k]));
            return EMBER_EINVAL;
        }
    for (int j = 0; j < s->na; j++) {
        const aggfn *a = &s->a[j];
        if (a->fn == F_COUNT_STAR && !s->merge)
            continue;
        if (a->arg >= ncols || in[a->arg].type != a->argt ||
            (a->fn == F_AVG && s->merge &&
             (a->arg + 1 >= ncols ||
              (in[a->arg + 1].type != EMBER_TYPE_INT64 &&
               in[a->arg + 1].type != EMBER_TYPE_NULL)))) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": argument column %d of %s changed type "
                                    "or vanished (was %s)",
                             a->arg, a->name, rel_type_name(a->argt));
            return EMBER_EINVAL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ updates */

#define VALID(c, i) rel_valid_bit((c), (i))

/* BODY runs for the rows i in [0, n) whose value is not NULL */
#define ROWS(c, off, n, BODY)                                                  \
    do {                                                                       \
        if (!(c)->validity) {                                                  \
            for (int64_t i = 0; i < (n); i++) {                                \
                BODY                                                           \
            }                                                                  \
        } else {                                                               \
            for (int64_t i = 0; i < (n); i++)                                  \
                if (VALID((c), (off) + i)) {                                   \
                    BODY                                                       \
                }                                                              \
        }                                                                      \
    } while (0)

#define MINMAX(T, ARR, LESS)                                                   \
    do {                                                                       \
        const T *v_ = (const T *)c->data + off;                                \
        T *m_ = (T *)(ARR);                                                    \
        if (a->fn == F_MIN)                                                    \
            ROWS(c, off, n, {                                                  \
                int32_t g_ = gid[i];                                           \
                if (!has[g_] || LESS(v_[i], m_[g_])) {                         \
                    m_[g_] = v_[i];                                            \
                    has[g_] = 1;                                               \
                }                                                              \
            });                                                                \
        else                                                                   \
            ROWS(c, off, n, {                                                  \
                int32_t g_ = gid[i];                                           \
                if (!has[g_] || LESS(m_[g_], v_[i])) {                         \
                    m_[g_] = v_[i];                                            \
                    has[g_] = 1;                                               \
                }                                                              \
            });                                                                \
    } while (0)

#define PLAIN_LT(x, y) ((x) < (y))

static int arena_put(aggfn *a, int32_t g, const char *s, size_t len)
{
    if (a->alen + len > a->acap) {
        size_t nc = a->acap ? a->acap : 4096;
        while (nc < a->alen + len)
            nc *= 2;
        if (grow_arr((void **)&a->arena, nc, 1))
            return EMBER_ENOMEM;
        a->acap = nc;
    }
    if (len)
        memcpy(a->arena + a->alen, s, len);
    if (a->has[g])
        a->alive -= (size_t)a->i32[g];
    a->alive += len;
    a->i64[g] = (int64_t)a->alen;
    a->i32[g] = (int32_t)len;
    a->has[g] = 1;
    a->alen += len;
    return 0;
}

/* drop superseded string values once they are most of the arena */
static int arena_compact(aggfn *a, int64_t ng)
{
    uint8_t *na;
    size_t len = 0;
    if (a->alen < ((size_t)1 << 20) || a->alen < 2 * a->alive)
        return 0;
    na = malloc(a->alive ? a->alive : 1);
    if (!na)
        return EMBER_ENOMEM;
    for (int64_t g = 0; g < ng; g++)
        if (a->has[g] == 1) {
            memcpy(na + len, a->arena + a->i64[g], (size_t)a->i32[g]);
            a->i64[g] = (int64_t)len;
            len += (size_t)a->i32[g];
        }
    free(a->arena);
    a->arena = na;
    a->alen = len;
    a->acap = a->alive ? a->alive : 1;
    return 0;
}

static int update_minmax_str(aggfn *a, const ember_column *c, int64_t off,
                             int64_t n, const int32_t *gid)
{
    uint8_t *has = a->has;
    int sign = a->fn == F_MIN ? 1 : -1;
    int rc = 0;
    ROWS(c, off, n, {
        int32_t g_ = gid[i];
        size_t len;
        const char *sv = rel_str(c, off + i, &len);
        if (!has[g_] ||
            sign * bytes_cmp((const uint8_t *)sv, len, a->arena + a->i64[g_],
                             (size_t)a->i32[g_]) <
                0) {
            rc = arena_put(a, g_, sv, len);
            if (rc)
                return rc;
        }
    });
    return rc;
}

/* first: the value of the first row of each group, NULL included (has 1:
 * a value, 2: NULL).  A partial state is one such value too, so merging
 * is the same update; every first() of a query takes its row's value, so
 * together they keep one whole row (drop_duplicates). */
static int update_first(aggfn *a, const ember_column *c, int64_t off, int64_t n,
                        const int32_t *gid)
{
    uint8_t *has = a->has;
    for (int64_t i = 0; i < n; i++) {
        int32_t g = gid[i];
        if (has[g])
            continue;
        if (c->type == EMBER_TYPE_NULL || (c->validity && !VALID(c, off + i))) {
            has[g] = 2;
            continue;
        }
        switch (c->type) {
        case EMBER_TYPE_BOOL:
            a->u8[g] = ((const uint8_t *)c->data)[off + i];
            break;
        case EMBER_TYPE_INT32:
        case EMBER_TYPE_DATE32:
            a->i32[g] = ((const int32_t *)c->data)[off + i];
            break;
        case EMBER_TYPE_INT64:
        case EMBER_TYPE_TIMESTAMP:
            a->i64[g] = ((const int64_t *)c->data)[off + i];
            break;
        case EMBER_TYPE_DOUBLE:
            a->f64[g] = ((const double *)c->data)[off + i];
            break;
        default: {
            size_t len;
            const char *sv = rel_str(c, off + i, &len);
            if (arena_put(a, g, sv, len))
                return EMBER_ENOMEM;
            continue;
        }
        }
        has[g] = 1;
    }
    return 0;
}

/* Update aggregate a over rows [off, off + n) of the input. */
int agg_update(agg *s, aggfn *a, const ember_column *in, int64_t off, int64_t n,
               const int32_t *gid)
{
    const ember_column *c = NULL;
    uint8_t *has = a->has;
    if (a->fn == F_COUNT_STAR && !s->merge) {
        for (int64_t i = 0; i < n; i++)
            a->i64[gid[i]]++;
        return 0;
    }
    c = &in[a->cur_arg];
    if (c->type == EMBER_TYPE_NULL && a->fn != F_FIRST)
        return 0; /* nothing but NULLs */
    switch (a->fn) {
    case F_COUNT:
    case F_COUNT_STAR:
        if (s->merge) {
            if (c->type == EMBER_TYPE_INT32) {
                const int32_t *v = (const int32_t *)c->data + off;
                ROWS(c, off, n, { a->i64[gid[i]] += v[i]; });
            } else {
                const int64_t *v = (const int64_t *)c->data + off;
                ROWS(c, off, n, { a->i64[gid[i]] += v[i]; });
            }
        } else {
            ROWS(c, off, n, { a->i64[gid[i]]++; });
        }
        return 0;
    case F_SUM:
    case F_AVG: {
        int avg = a->fn == F_AVG;
        if (c->type == EMBER_TYPE_DOUBLE) {
            const double *v = (const double *)c->data + off;
            double *sm = a->f64;
            if (avg && !s->merge)
                ROWS(c, off, n, {
                    sm[gid[i]] += v[i];
                    a->i64[gid[i]]++;
                });
            else if (avg)
                ROWS(c, off, n, { sm[gid[i]] += v[i]; });
            else
                ROWS(c, off, n, {
                    sm[gid[i]] += v[i];
                    has[gid[i]] = 1;
                });
        } else if (c->type == EMBER_TYPE_INT32) {
            const int32_t *v = (const int32_t *)c->data + off;
            if (avg)
                ROWS(c, off, n, {
                    a->f64[gid[i]] += v[i];
                    a->i64[gid[i]]++;
                });
            else
                ROWS(c, off, n, {
                    uint64_t *sm = (uint64_t *)a->i64;
                    sm[gid[i]] += (uint64_t)(int64_t)v[i];
                    has[gid[i]] = 1;
                });
        } else {
            const int64_t *v = (const int64_t *)c->data + off;
            if (avg)
                ROWS(c, off, n, {
                    a->f64[gid[i]] += (double)v[i];
                    a->i64[gid[i]]++;
                });
            else
                ROWS(c, off, n, {
                    uint64_t *sm = (uint64_t *)a->i64;
                    sm[gid[i]] += (uint64_t)v[i];
                    has[gid[i]] = 1;
                });
        }
        if (avg && s->merge) { /* the count column */
            const ember_column *cc = &in[a->cur_arg + 1];
            const int64_t *v = (const int64_t *)cc->data + off;
            if (cc->type == EMBER_TYPE_INT64)
                ROWS(cc, off, n, { a->i64[gid[i]] += v[i]; });
        }
        return 0;
    }
    case F_MIN:
    case F_MAX:
        switch (c->type) {
        case EMBER_TYPE_BOOL:
            MINMAX(uint8_t, a->u8, PLAIN_LT);
            return 0;
        case EMBER_TYPE_INT32:
        case EMBER_TYPE_DATE32:
            MINMAX(int32_t, a->i32, PLAIN_LT);
            return 0;
        case EMBER_TYPE_INT64:
        case EMBER_TYPE_TIMESTAMP:
            MINMAX(int64_t, a->i64, PLAIN_LT);
            return 0;
        case EMBER_TYPE_DOUBLE:
            MINMAX(double, a->f64, dlt);
            return 0;
        default: {
            int rc = update_minmax_str(a, c, off, n, gid);
            return rc ? rc : arena_compact(a, s->ng);
        }
        }
    case F_FIRST:
        return update_first(a, c, off, n, gid);
    case F_COUNT_DISTINCT: {
        uint64_t *vh = s->vh;
        rel_hash_col(c, off, n, vh, NULL, 1);
        for (int64_t i = 0; i < n; i++) {
            int rc;
            if (!VALID(c, off + i))
                continue;
            rc = dset_insert(&a->ds, gid[i],
                             rel_mix64(vh[i] ^ ((uint64_t)gid[i] * REL_HMUL)),
                             c, off + i);
            if (rc < 0)
                return rc;
            a->i64[gid[i]] += rc;
        }
        return 0;
    }
    }
    return 0;
}

/* ------------------------------------------------------- group lookup */

static int new_group(agg *s, const ember_column *in, int64_t row, uint64_t h,
                     int32_t *out)
{
    int64_t g = s->ng;
    for (int k = 0; k < s->nk; k++) {
        if (relcol_append_from(&s->keys[k], &in[s->cur_kidx[k]], row))
            return EMBER_ENOMEM;
        relcol_view(&s->keys[k], &s->kview[k]);
    }
    s->ghash[g] = h;
    s->ng++;
    *out = (int32_t)g;
    return 0;
}

/* Map rows [off, off + n) to group ids in s->gid. */
int agg_lookup(agg *s, const ember_column *in, int64_t off, int64_t n)
{
    uint64_t *h = s->h;
    int32_t *gid = s->gid;
    size_t mask;
    if (s->nk == 0) {
        if (s->ng == 0) {
            if (agg_groups_reserve(s, 1))
                return EMBER_ENOMEM;
            s->ghash[0] = 0;
            s->ng = 1;
        }
        memset(gid, 0, (size_t)n * sizeof *gid);
        return 0;
    }
    for (int k = 0; k < s->nk; k++)
        rel_hash_col(&in[s->cur_kidx[k]], off, n, h, NULL, k == 0);
    if (agg_groups_reserve(s, n))
        return EMBER_ENOMEM;
    if ((size_t)(s->ng + n) * 2 > s->scap) {
        size_t nc = s->scap ? s->scap : 1024;
        while ((size_t)(s->ng + n) * 2 > nc)
            nc *= 2;
        if (slots_rehash(s, nc))
            return EMBER_ENOMEM;
    }
    mask = s->scap - 1;
    /* One string key (word counts, dimension names): decided once per
     * operator, since slots are encoded differently.  A key of at most 11
     * bytes lives whole in its slot (pre: bytes 0-7; tag: bytes 8-10, the
     * length and bit 31), so finding it touches no key storage; a longer
     * key keeps its first 8 bytes and 31 bits of its hash there, and is
     * compared in full on a match.  NULL keys share one group outside the
     * table. */
    if (s->strmode < 0)
        s->strmode = s->nk == 1 && rel_type_varwidth(in[s->cur_kidx[0]].type);
    if (s->strmode) {
        const ember_column *kc = &in[s->cur_kidx[0]];
        const int32_t *ko = kc->offsets;
        const uint8_t *kd = kc->data;
        for (int64_t i = 0; i < n; i++) {
            uint64_t hv = h[i], pre = 0;
            uint32_t tag;
            size_t p = hv & mask;
            const uint8_t *x;
            size_t lx;
            if (i + PREFETCH_AHEAD < n)
                __builtin_prefetch(&s->slots[h[i + PREFETCH_AHEAD] & mask]);
            if (kc->validity && !rel_valid_bit(kc, off + i)) {
                if (s->null_gid < 0 &&
                    new_group(s, in, off + i, hv, &s->null_gid))
                    return EMBER_ENOMEM;
                gid[i] = s->null_gid;
                continue;
            }
            x = kd + ko[off + i];
            lx = (size_t)(ko[off + i + 1] - ko[off + i]);
            if (lx >= 8) {
                memcpy(&pre, x, 8);
            } else {
                for (size_t k = 0; k < lx; k++)
                    pre |= (uint64_t)x[k] << (8 * k);
            }
            if (lx <= 11) {
                tag = 0x80000000u | (uint32_t)lx << 24;
                for (size_t k = 8; k < lx; k++)
                    tag |= (uint32_t)x[k] << (8 * (k - 8));
            } else {
                tag = (uint32_t)(hv >> 32) & 0x7fffffffu;
            }
            for (;;) {
                agg_slot *sl = &s->slots[p];
                if (sl->gid < 0) {
                    if (new_group(s, in, off + i, hv, &gid[i]))
                        return EMBER_ENOMEM;
                    sl->tag = tag;
                    sl->gid = gid[i];
                    sl->pre = pre;
                    break;
                }
                if (sl->tag == tag && sl->pre == pre) {
                    const ember_column *kv;
                    const int32_t *vo;
                    if (lx <= 11) { /* the slot holds the whole key */
                        gid[i] = sl->gid;
                        break;
                    }
                    kv = &s->kview[0];
                    vo = kv->offsets;
                    if ((size_t)(vo[sl->gid + 1] - vo[sl->gid]) == lx &&
                        memcmp(x, (const uint8_t *)kv->data + vo[sl->gid],
                               lx) == 0) {
                        gid[i] = sl->gid;
                        break;
                    }
                }
                p = (p + 1) & mask;
            }
        }
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        uint64_t hv = h[i];
        uint32_t tag = (uint32_t)(hv >> 32);
        size_t p = hv & mask;
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(&s->slots[h[i + PREFETCH_AHEAD] & mask]);
        for (;;) {
            agg_slot *sl = &s->slots[p];
            if (sl->gid < 0) {
                if (new_group(s, in, off + i, hv, &gid[i]))
                    return EMBER_ENOMEM;
                sl->tag = tag;
                sl->gid = gid[i];
                sl->pre = 0;
                break;
            }
            /* the tag is the hash's upper half (the slot, its lower bits):
             * a match almost always means equal keys, so the keys are
             * compared at once rather than the full hash first */
            if (sl->tag == tag) {
                int k = 0;
                while (k < s->nk && rel_group_eq(&in[s->cur_kidx[k]], off + i,
                                                 &s->kview[k], sl->gid))
                    k++;
                if (k == s->nk) {
                    gid[i] = sl->gid;
                    break;
                }
            }
            p = (p + 1) & mask;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- output */

static int out_ncols(const agg *s, int partial)
{
    int n = s->nk;
    for (int j = 0; j < s->na; j++)
        n += (partial && s->a[j].fn == F_AVG) ? 2 : 1;
    return n;
}

static void out_layout(const agg *s, int partial, ember_type *types,
                       const char **names)
{
    int c = 0;
    for (int k = 0; k < s->nk; k++, c++) {
        types[c] = s->ktype[k];
        names[c] = s->kname[k];
    }
    for (int j = 0; j < s->na; j++) {
        const aggfn *a = &s->a[j];
        switch (a->fn) {
        case F_SUM:
        case F_MIN:
        case F_MAX:
        case F_FIRST:
            types[c] = a->st;
            break;
        case F_AVG:
            if (partial) {
                types[c] = EMBER_TYPE_DOUBLE;
                names[c++] = a->sname;
                types[c] = EMBER_TYPE_INT64;
                names[c++] = a->cname;
                continue;
            }
            types[c] = EMBER_TYPE_DOUBLE;
            break;
        default:
            types[c] = EMBER_TYPE_INT64;
        }
        names[c++] = a->name;
    }
}

/* Append groups sel[0..n) to cols (partial-state or final form). */
int agg_build_groups(agg *s, const int32_t *sel, int64_t n, int partial,
                     rel_col *cols)
{
    int c = s->nk, rc = 0;
    for (int k = 0; k < s->nk; k++)
        if (relcol_gather(&cols[k], &s->kview[k], sel, n))
            return EMBER_ENOMEM;
    for (int j = 0; j < s->na && !rc; j++) {
        const aggfn *a = &s->a[j];
        rel_col *o = &cols[c++];
        if (relcol_reserve(o, n, 0))
            return EMBER_ENOMEM;
        for (int64_t r = 0; r < n && !rc; r++) {
            int32_t g = sel[r];
            switch (a->fn) {
            case F_SUM:
                if (!a->has[g])
                    rc = relcol_append_null(o);
                else if (a->st == EMBER_TYPE_INT64)
                    rc = relcol_append_i64(o, a->i64[g]);
                else
                    rc = relcol_append_f64(o, a->f64[g]);
                break;
            case F_AVG:
                if (partial) {
                    rc = relcol_append_f64(o, a->f64[g]);
                    if (!rc)
                        rc = relcol_append_i64(o + 1, a->i64[g]);
                } else if (a->i64[g] == 0) {
                    rc = relcol_append_null(o);
                } else {
                    rc = relcol_append_f64(o, a->f64[g] / (double)a->i64[g]);
                }
                break;
            case F_MIN:
            case F_MAX:
            case F_FIRST:
                if (a->has[g] != 1) {
                    rc = relcol_append_null(o);
                    break;
                }
                switch (a->st) {
                case EMBER_TYPE_BOOL:
                    rc = relcol_append_bool(o, a->u8[g]);
                    break;
                case EMBER_TYPE_INT32:
                case EMBER_TYPE_DATE32:
                    rc = relcol_append_i32(o, a->i32[g]);
                    break;
                case EMBER_TYPE_INT64:
                case EMBER_TYPE_TIMESTAMP:
                    rc = relcol_append_i64(o, a->i64[g]);
                    break;
                case EMBER_TYPE_DOUBLE:
                    rc = relcol_append_f64(o, a->f64[g]);
                    break;
                default:
                    rc =
                        relcol_append_str(o, (const char *)a->arena + a->i64[g],
                                          (size_t)a->i32[g]);
                }
                break;
            default:
                rc = relcol_append_i64(o, a->i64[g]);
            }
        }
        if (partial && a->fn == F_AVG)
            c++;
    }
    return rc ? EMBER_ENOMEM : 0;
}

rel_col *agg_cols_new(const agg *s, int partial, int *ncols,
                      const char ***names)
{
    int n = out_ncols(s, partial);
    ember_type *types = malloc(sizeof *types * (size_t)(n + 1));
    rel_col *cols = malloc(sizeof *cols * (size_t)(n + 1));
    *names = malloc(sizeof **names * (size_t)(n + 1));
    if (!types || !cols || !*names) {
        free(types);
        free(cols);
        free((void *)*names);
        *names = NULL;
        return NULL;
    }
    out_layout(s, partial, types, *names);
    for (int i = 0; i < n; i++)
        relcol_init(&cols[i], types[i]);
    free(types);
    *ncols = n;
    return cols;
}

void agg_cols_free(rel_col *cols, int n, const char **names)
{
    for (int i = 0; cols && i < n; i++)
        relcol_free(&cols[i]);
    free(cols);
    free((void *)names);
}

/* Emit every group, OUT_ROWS at a time. */
int agg_emit_all(agg *s, int partial, ember_emit_fn emit, void *ud,
                 ember_error *err)
{
    int ncols, rc = 0;
    const char **names;
    rel_col *cols;
    int32_t *sel;
    if (s->ng == 0)
        return 0;
    cols = agg_cols_new(s, partial, &ncols, &names);
    sel = malloc(sizeof *sel * OUT_ROWS);
    if (!cols || !sel) {
        agg_cols_free(cols, ncols, names);
        free(sel);
        rel_host->seterr(err, EMBER_ENOMEM, OPNAME ": out of memory");
        return EMBER_ENOMEM;
    }
    for (int64_t g0 = 0; g0 < s->ng && !rc; g0 += OUT_ROWS) {
        int64_t n = s->ng - g0 < OUT_ROWS ? s->ng - g0 : OUT_ROWS;
        for (int64_t r = 0; r < n; r++)
            sel[r] = (int32_t)(g0 + r);
        rc = agg_build_groups(s, sel, n, partial, cols);
        if (rc)
            rel_host->seterr(err, rc, OPNAME ": out of memory");
        else
            rc = rel_emit(cols, names, ncols, emit, ud, err);
    }
    agg_cols_free(cols, ncols, names);
    free(sel);
    return rc;
}
