/*
 * agg.c -- rel.hash_agg: hash aggregation (GROUP BY) in three modes.
 *
 *   complete  raw rows      -> keys, one column per aggregate
 *   partial   raw rows      -> keys, state columns (merged later by final)
 *   final     partial rows  -> keys, one column per aggregate
 *
 * How it works.  Input is processed in chunks of up to CHUNK_ROWS rows,
 * column at a time: the key columns are hashed into an array (typed loops,
 * NULLs hash to a constant, doubles canonicalised so NaN = NaN and
 * -0.0 = 0.0), then an open-addressing table (linear probing; a slot holds
 * the upper 32 hash bits and the group id) maps every row to a group id;
 * keys are compared only when the tags match.  Group keys live in rel_col
 * builders, aggregate states in typed arrays indexed by group id, and each
 * aggregate is updated with one tight typed loop over the chunk.
 *
 * Memory: the table, keys and states are accounted with ti->mem_acquire
 * in MEM_CHUNK steps.  When refused, partial mode emits what it holds and
 * starts over (final merges the duplicates); complete and final modes
 * spill every group in partial-state form to one of NPART run files in
 * ti->local_dir (chosen by hash) and start over; finish() then merges one
 * partition at a time, so results stay exact.  Spill files are unlinked as
 * soon as they are created and closed in close(), so nothing is left
 * behind even on a crash.  count_distinct and global (key-less)
 * aggregation never spill: they keep going past the limit (warned once).
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "rel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHUNK_ROWS 8192
#define OUT_ROWS 8192
#define MEM_CHUNK ((int64_t)1 << 20)
#define NPART 16
#define OPNAME "rel.hash_agg"
#define RUN_MAGIC 0x52474145u /* "EAGR" */

enum {
    F_SUM,
    F_COUNT,
    F_COUNT_STAR,
    F_AVG,
    F_MIN,
    F_MAX,
    F_COUNT_DISTINCT,
    F_FIRST
};
static const char *const fn_names[] = {
    "sum", "count", "count_star",     "avg",
    "min", "max",   "count_distinct", "first"};

/* min, max and first keep a value of the column's type per group */
#define KEEPS_VALUE(fn) ((fn) == F_MIN || (fn) == F_MAX || (fn) == F_FIRST)

enum { M_PARTIAL, M_FINAL, M_COMPLETE };

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

/* A set of (group id, value) pairs; fixed-width values are stored as
 * canonical bits in ev, strings as offset (ev) + length (el) in arena. */
typedef struct dset {
    uint32_t *slot; /* entry index + 1, 0 = empty */
    size_t scap;
    int32_t *eg;
    uint64_t *eh;
    int64_t *ev;
    int32_t *el;
    size_t n, ecap;
    uint8_t *arena;
    size_t alen, acap;
} dset;

static void dset_free(dset *d)
{
    free(d->slot);
    free(d->eg);
    free(d->eh);
    free(d->ev);
    free(d->el);
    free(d->arena);
    memset(d, 0, sizeof *d);
}

static size_t dset_bytes(const dset *d)
{
    return d->scap * 4 + d->ecap * (4 + 8 + 8 + 4) + d->acap;
}

static int dset_rehash(dset *d, size_t ncap)
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
static int dset_insert(dset *d, int32_t g, uint64_t h, const ember_column *c,
                       int64_t row)
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

typedef struct aggfn {
    int fn;
    int arg;         /* ARG from the parameter */
    int cur_arg;     /* the column read now (the merge phase reads spills) */
    char *name;      /* output name */
    char *sname;     /* avg partial: <name>_sum */
    char *cname;     /* avg partial: <name>_count */
    ember_type st;   /* sum: INT64|DOUBLE; min/max/count_distinct: value */
    ember_type argt; /* bound type of the argument column */
    /* per-group state, by group id */
    int64_t *i64; /* sum(int), counts, min/max of 8-byte ints, str off */
    double *f64;  /* sum(double), avg sum, min/max double */
    int32_t *i32; /* min/max int32/date, string length */
    uint8_t *u8;  /* min/max bool */
    uint8_t *has; /* sum/min/max: a non-null value was seen */
    /* string min/max values */
    uint8_t *arena;
    size_t alen, acap, alive;
    dset ds;
} aggfn;

#define PREFETCH_AHEAD 8

typedef struct slot {
    uint32_t tag; /* hash >> 32 */
    int32_t gid;  /* -1: empty */
    uint64_t pre; /* string mode: the key's first 8 bytes (see lookup) */
} slot;

typedef struct agg {
    int mode;
    int strmode;      /* one string key: -1 undecided, 0 no, 1 yes */
    int32_t null_gid; /* string mode: the NULL key's group, -1 none */
    int merge;        /* inputs are partial states (final mode, merge phase) */
    int nk;
    int *kidx, *cur_kidx;
    int na;
    aggfn *a;
    int has_distinct;
    ember_type *intypes; /* from the input_types parameter */
    int nintypes;
    /* bound at the first batch */
    int bound;
    ember_type *ktype;
    char **kname;
    /* the table */
    slot *slots;
    size_t scap;
    rel_col *keys;
    ember_column *kview;
    uint64_t *ghash;
    int64_t ng, gcap;
    /* scratch */
    uint64_t *h, *vh;
    int32_t *gid;
    ember_column *in;
    int in_cap;
    /* memory */
    const ember_task_info *ti;
    int64_t acquired;
    int warned;
    /* spilling */
    FILE *part[NPART];
    int spilled;
    int merging;
    char local_dir[4096];
} agg;

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

static size_t table_bytes(const agg *s)
{
    size_t b = s->scap * sizeof(slot) + (size_t)s->gcap * 8;
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
static void table_reset(agg *s)
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
static int groups_reserve(agg *s, int64_t more)
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
    slot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        ns[i].gid = -1;
    for (size_t i = 0; i < s->scap; i++) { /* old slots, with their keys */
        const slot *o = &s->slots[i];
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
static int bind(agg *s, const ember_type *types, const char *const *names,
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
static int check_types(const agg *s, const ember_column *in, int ncols,
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
static int update(agg *s, aggfn *a, const ember_column *in, int64_t off,
                  int64_t n, const int32_t *gid)
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
static int lookup(agg *s, const ember_column *in, int64_t off, int64_t n)
{
    uint64_t *h = s->h;
    int32_t *gid = s->gid;
    size_t mask;
    if (s->nk == 0) {
        if (s->ng == 0) {
            if (groups_reserve(s, 1))
                return EMBER_ENOMEM;
            s->ghash[0] = 0;
            s->ng = 1;
        }
        memset(gid, 0, (size_t)n * sizeof *gid);
        return 0;
    }
    for (int k = 0; k < s->nk; k++)
        rel_hash_col(&in[s->cur_kidx[k]], off, n, h, NULL, k == 0);
    if (groups_reserve(s, n))
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
                slot *sl = &s->slots[p];
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
            slot *sl = &s->slots[p];
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
static int build_groups(agg *s, const int32_t *sel, int64_t n, int partial,
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

static rel_col *cols_new(const agg *s, int partial, int *ncols,
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

static void cols_free(rel_col *cols, int n, const char **names)
{
    for (int i = 0; cols && i < n; i++)
        relcol_free(&cols[i]);
    free(cols);
    free((void *)names);
}

/* Emit every group, OUT_ROWS at a time. */
static int emit_all(agg *s, int partial, ember_emit_fn emit, void *ud,
                    ember_error *err)
{
    int ncols, rc = 0;
    const char **names;
    rel_col *cols;
    int32_t *sel;
    if (s->ng == 0)
        return 0;
    cols = cols_new(s, partial, &ncols, &names);
    sel = malloc(sizeof *sel * OUT_ROWS);
    if (!cols || !sel) {
        cols_free(cols, ncols, names);
        free(sel);
        rel_host->seterr(err, EMBER_ENOMEM, OPNAME ": out of memory");
        return EMBER_ENOMEM;
    }
    for (int64_t g0 = 0; g0 < s->ng && !rc; g0 += OUT_ROWS) {
        int64_t n = s->ng - g0 < OUT_ROWS ? s->ng - g0 : OUT_ROWS;
        for (int64_t r = 0; r < n; r++)
            sel[r] = (int32_t)(g0 + r);
        rc = build_groups(s, sel, n, partial, cols);
        if (rc)
            rel_host->seterr(err, rc, OPNAME ": out of memory");
        else
            rc = rel_emit(cols, names, ncols, emit, ud, err);
    }
    cols_free(cols, ncols, names);
    free(sel);
    return rc;
}

/* ------------------------------------------------------------ spilling */

static int wr(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : EMBER_EIO;
}

/* One run: magic, rows, columns, then per column: type, nulls,
 * [validity], [offsets, data length], data. */
static int write_run(FILE *f, rel_col *cols, int ncols)
{
    uint32_t magic = RUN_MAGIC;
    int64_t n = cols[0].n;
    int32_t nc = ncols;
    int rc = wr(f, &magic, 4) || wr(f, &n, 8) || wr(f, &nc, 4);
    for (int i = 0; i < ncols && !rc; i++) {
        ember_column v;
        int32_t t;
        int64_t dl;
        relcol_view(&cols[i], &v);
        t = (int32_t)v.type;
        rc = wr(f, &t, 4) || wr(f, &v.null_count, 8);
        if (!rc && v.null_count)
            rc = wr(f, v.validity, (size_t)(n + 7) / 8);
        if (!rc && rel_type_varwidth(v.type)) {
            dl = v.offsets[n];
            rc = wr(f, v.offsets, (size_t)(n + 1) * 4) || wr(f, &dl, 8) ||
                 wr(f, v.data, (size_t)dl);
        } else if (!rc) {
            rc = wr(f, v.data, (size_t)n * (size_t)rel_type_width(v.type));
        }
    }
    return rc ? EMBER_EIO : 0;
}

typedef struct run {
    int ncols;
    int64_t n;
    ember_column *cols;
    void **bufs; /* 3 per column */
} run;

static void run_free(run *r)
{
    for (int i = 0; r->bufs && i < 3 * r->ncols; i++)
        free(r->bufs[i]);
    free(r->bufs);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static void *rd_alloc(FILE *f, size_t n, int *rc)
{
    void *p;
    if (*rc)
        return NULL;
    p = malloc(n ? n : 1);
    if (!p)
        *rc = EMBER_ENOMEM;
    else if (n && fread(p, 1, n, f) != n)
        *rc = EMBER_ECORRUPT;
    return p;
}

/* 1 = a run was read, 0 = end of file, <0 = error */
static int read_run(FILE *f, run *r)
{
    uint32_t magic;
    int32_t nc;
    int rc = 0;
    size_t got = fread(&magic, 1, 4, f);
    if (got == 0 && feof(f))
        return 0;
    if (got != 4 || magic != RUN_MAGIC || fread(&r->n, 1, 8, f) != 8 ||
        fread(&nc, 1, 4, f) != 4 || nc <= 0 || nc > 100000 || r->n < 0 ||
        r->n > ((int64_t)1 << 31))
        return EMBER_ECORRUPT;
    r->cols = calloc((size_t)nc, sizeof *r->cols);
    r->bufs = calloc((size_t)nc * 3, sizeof *r->bufs);
    r->ncols = nc;
    if (!r->cols || !r->bufs)
        return EMBER_ENOMEM;
    for (int i = 0; i < nc && !rc; i++) {
        ember_column *c = &r->cols[i];
        int32_t t;
        if (fread(&t, 1, 4, f) != 4 || fread(&c->null_count, 1, 8, f) != 8 ||
            t < 0 || t > EMBER_TYPE_LUAVALUE)
            return EMBER_ECORRUPT;
        c->type = (ember_type)t;
        c->length = r->n;
        if (c->null_count)
            c->validity = r->bufs[3 * i] =
                rd_alloc(f, (size_t)(r->n + 7) / 8, &rc);
        if (rel_type_varwidth(c->type)) {
            int64_t dl = 0;
            c->offsets = r->bufs[3 * i + 1] =
                rd_alloc(f, (size_t)(r->n + 1) * 4, &rc);
            if (!rc &&
                (fread(&dl, 1, 8, f) != 8 || dl < 0 || dl != c->offsets[r->n]))
                rc = EMBER_ECORRUPT;
            c->data = r->bufs[3 * i + 2] = rd_alloc(f, (size_t)dl, &rc);
        } else {
            c->data = r->bufs[3 * i + 2] = rd_alloc(
                f, (size_t)r->n * (size_t)rel_type_width(c->type), &rc);
        }
    }
    return rc ? rc : 1;
}

static int open_parts(agg *s, ember_error *err)
{
    for (int p = 0; p < NPART; p++) {
        char path[4200];
        int fd;
        if (s->part[p])
            continue;
        snprintf(path, sizeof path, "%s/ember-agg-spill-XXXXXX", s->local_dir);
        fd = mkstemp(path);
        if (fd < 0) {
            rel_host->seterr(err, EMBER_EIO,
                             OPNAME ": cannot create a spill file in %s: %s",
                             s->local_dir, strerror(errno));
            return EMBER_EIO;
        }
        unlink(path); /* gone when closed, whatever happens */
        s->part[p] = fdopen(fd, "w+b");
        if (!s->part[p]) {
            close(fd);
            rel_host->seterr(err, EMBER_EIO, OPNAME ": fdopen: %s",
                             strerror(errno));
            return EMBER_EIO;
        }
    }
    return 0;
}

/* Write every group to its partition's run file, then reset the table. */
static int spill_all(agg *s, ember_error *err)
{
    int64_t cnt[NPART + 1] = {0};
    int32_t *sel = NULL;
    rel_col *cols = NULL;
    const char **names = NULL;
    int ncols = 0, rc;
    long before = 0, after = 0;
    if (s->ng == 0)
        return 0;
    rc = open_parts(s, err);
    if (rc)
        return rc;
    sel = malloc(sizeof *sel * (size_t)s->ng);
    cols = cols_new(s, 1, &ncols, &names);
    if (!sel || !cols) {
        rc = EMBER_ENOMEM;
        rel_host->seterr(err, rc, OPNAME ": out of memory while spilling");
        goto out;
    }
    for (int p = 0; p < NPART; p++) /* spilled bytes: file growth */
        before += ftell(s->part[p]);
    for (int64_t g = 0; g < s->ng; g++)
        cnt[(s->ghash[g] >> 60) + 1]++;
    for (int p = 1; p <= NPART; p++)
        cnt[p] += cnt[p - 1];
    for (int64_t g = 0; g < s->ng; g++)
        sel[cnt[s->ghash[g] >> 60]++] = (int32_t)g;
    /* cnt[p] is now the end of partition p */
    for (int p = 0; p < NPART && !rc; p++) {
        int64_t b = p ? cnt[p - 1] : 0, e = cnt[p];
        for (int64_t g0 = b; g0 < e && !rc; g0 += OUT_ROWS) {
            int64_t n = e - g0 < OUT_ROWS ? e - g0 : OUT_ROWS;
            rc = build_groups(s, sel + g0, n, 1, cols);
            if (rc) {
                rel_host->seterr(err, rc, OPNAME ": out of memory");
                break;
            }
            rc = write_run(s->part[p], cols, ncols);
            if (rc)
                rel_host->seterr(err, rc,
                                 OPNAME ": cannot write a spill "
                                        "file: %s",
                                 strerror(errno));
            for (int i = 0; i < ncols; i++)
                relcol_reset(&cols[i]);
        }
    }
    s->spilled = 1;
    table_reset(s);
out:
    if (!rc && s->ti && s->ti->add_counter) {
        for (int p = 0; p < NPART; p++) {
            fflush(s->part[p]);
            after += ftell(s->part[p]);
        }
        if (after > before)
            s->ti->add_counter(s->ti->ctx, "spill_bytes",
                               (int64_t)(after - before));
    }
    free(sel);
    cols_free(cols, ncols, names);
    return rc;
}

/* --------------------------------------------------------- processing */

static void mem_release_all(agg *s)
{
    if (s->acquired && s->ti && s->ti->mem_release)
        s->ti->mem_release(s->ti->ctx, s->acquired);
    s->acquired = 0;
}

/* Account what the table holds; spill or flush when refused. */
static int mem_check(agg *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    int64_t held;
    int rc = 0;
    if (!s->ti || !s->ti->mem_acquire)
        return 0;
    held = (int64_t)table_bytes(s);
    while (held > s->acquired) {
        if (s->ti->mem_acquire(s->ti->ctx, MEM_CHUNK) == 0) {
            s->acquired += MEM_CHUNK;
            continue;
        }
        if (s->merging || s->nk == 0 ||
            (s->has_distinct && s->mode != M_PARTIAL)) {
            if (!s->warned)
                rel_host->log(EMBER_LOG_WARN, OPNAME,
                              "execution memory refused at %lld bytes; "
                              "going on without spilling",
                              (long long)held);
            s->warned = 1;
            return 0;
        }
        if (s->mode == M_PARTIAL) {
            rc = emit_all(s, 1, emit, ud, err);
            table_reset(s);
        } else {
            rc = spill_all(s, err);
        }
        mem_release_all(s);
        return rc;
    }
    return 0;
}

/* Aggregate nrows rows of the columns in[]. */
static int process(agg *s, const ember_column *in, int64_t nrows,
                   ember_emit_fn emit, void *ud, ember_error *err)
{
    for (int64_t off = 0; off < nrows; off += CHUNK_ROWS) {
        int64_t n = nrows - off < CHUNK_ROWS ? nrows - off : CHUNK_ROWS;
        int rc = lookup(s, in, off, n);
        for (int j = 0; j < s->na && !rc; j++)
            rc = update(s, &s->a[j], in, off, n, s->gid);
        if (rc) {
            rel_host->seterr(err, rc, OPNAME ": out of memory");
            return rc;
        }
        rc = mem_check(s, emit, ud, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* -------------------------------------------------------------- params */

/* prefix the S-expression reader's message with the parameter's name */
static int sx_fail(const char *what, ember_error *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "bad S-expression");
    rel_host->seterr(err, EMBER_EINVAL, OPNAME ": parameter %s: %s", what, msg);
    return EMBER_EINVAL;
}

static int parse_index_list(const char *text, const char *what, int **out,
                            int *n, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x)
        return sx_fail(what, err);
    if (x->kind != SX_LIST)
        goto bad;
    *out = calloc((size_t)x->n + 1, sizeof **out);
    if (!*out) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    if (rel_sx_indices(x, 100000, *out))
        goto bad;
    *n = x->n;
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter %s must be a list of column "
                            "indices like (0 3), got %s",
                     what, text);
    return EMBER_EINVAL;
}

static int parse_aggs(agg *s, const char *text, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    char why[512] = "";
    if (!x)
        return sx_fail("aggs", err);
    if (x->kind != SX_LIST) {
        snprintf(why, sizeof why, "not a list");
        goto bad;
    }
    s->a = calloc((size_t)x->n + 1, sizeof *s->a);
    if (!s->a) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    for (int j = 0; j < x->n; j++) {
        const rel_sx *it = x->items[j], *f;
        aggfn *a = &s->a[j];
        int fn = -1, nargs;
        s->na = j + 1;
        if (!rel_sx_head(it, "as") || it->n != 3 ||
            (it->items[1]->kind != SX_STR && it->items[1]->kind != SX_SYM) ||
            it->items[2]->kind != SX_LIST || it->items[2]->n < 1 ||
            it->items[2]->items[0]->kind != SX_SYM) {
            snprintf(why, sizeof why, "item %d is not (as \"name\" (fn arg))",
                     j + 1);
            goto bad;
        }
        f = it->items[2];
        for (int k = 0; k < (int)(sizeof fn_names / sizeof fn_names[0]); k++)
            if (rel_sx_is(f->items[0], fn_names[k]))
                fn = k;
        if (fn < 0) {
            snprintf(why, sizeof why,
                     "unknown aggregate function '%s' (known: sum count "
                     "count_star avg min max count_distinct first)",
                     f->items[0]->s);
            goto bad;
        }
        nargs = fn == F_COUNT_STAR && s->mode != M_FINAL ? 0 : 1;
        if (f->n - 1 != nargs ||
            (nargs && (f->items[1]->kind != SX_INT || f->items[1]->i < 0 ||
                       f->items[1]->i > 100000))) {
            snprintf(why, sizeof why,
                     "%s takes %s, got %d argument(s) in item %d", fn_names[fn],
                     nargs ? "one column index" : "no argument", f->n - 1,
                     j + 1);
            goto bad;
        }
        if (fn == F_COUNT_DISTINCT && s->mode != M_COMPLETE) {
            snprintf(why, sizeof why,
                     "count_distinct is only allowed in mode complete");
            goto bad;
        }
        a->fn = fn;
        a->arg = a->cur_arg = nargs ? (int)f->items[1]->i : -1;
        a->name = strdup(it->items[1]->s);
        a->sname = malloc(strlen(it->items[1]->s) + 8);
        a->cname = malloc(strlen(it->items[1]->s) + 8);
        if (!a->name || !a->sname || !a->cname) {
            rel_sx_free(x);
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        sprintf(a->sname, "%s_sum", a->name);
        sprintf(a->cname, "%s_count", a->name);
        if (fn == F_COUNT_DISTINCT)
            s->has_distinct = 1;
    }
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL, OPNAME ": parameter aggs: %s in %s",
                     why, text);
    return EMBER_EINVAL;
}

static int parse_types(agg *s, const char *text, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x || x->kind != SX_LIST)
        goto bad;
    s->intypes = calloc((size_t)x->n + 1, sizeof *s->intypes);
    if (!s->intypes)
        goto bad;
    for (int i = 0; i < x->n; i++) {
        const rel_sx *t = x->items[i];
        int ty;
        if (t->kind == SX_LIST && t->n == 2) /* ("name" type) */
            t = t->items[1];
        if (t->kind != SX_SYM && t->kind != SX_STR)
            goto bad;
        ty = rel_type_from_name(t->s, strlen(t->s));
        if (ty < 0)
            goto bad;
        s->intypes[i] = (ember_type)ty;
    }
    s->nintypes = x->n;
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter input_types must be a list of type "
                            "names, got %s",
                     text);
    return EMBER_EINVAL;
}

/* ------------------------------------------------------------ operator */

static void agg_close(void *state)
{
    agg *s = state;
    if (!s)
        return;
    table_reset(s);
    mem_release_all(s);
    for (int p = 0; p < NPART; p++)
        if (s->part[p])
            fclose(s->part[p]);
    for (int j = 0; j < s->na; j++) {
        free(s->a[j].name);
        free(s->a[j].sname);
        free(s->a[j].cname);
    }
    for (int k = 0; k < s->nk && s->kname; k++)
        free(s->kname[k]);
    free(s->kname);
    free(s->ktype);
    free(s->keys);
    free(s->kview);
    free(s->kidx);
    free(s->cur_kidx);
    free(s->a);
    free(s->intypes);
    free(s->h);
    free(s->vh);
    free(s->gid);
    free(s->in);
    free(s);
}

static int agg_open(const ember_host *host, const ember_params *p,
                    const ember_task_info *ti, void **state, ember_error *err)
{
    agg *s = calloc(1, sizeof *s);
    if (s) {
        s->strmode = -1;
        s->null_gid = -1;
    }
    const char *mode = host->param_str(p, "mode");
    const char *dir;
    int rc;
    if (!s) {
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    if (strcmp(mode, "complete") == 0)
        s->mode = M_COMPLETE;
    else if (strcmp(mode, "partial") == 0)
        s->mode = M_PARTIAL;
    else if (strcmp(mode, "final") == 0)
        s->mode = M_FINAL;
    else {
        host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter mode must be partial, final or "
                            "complete, not '%s'",
                     mode);
        agg_close(s);
        return EMBER_EINVAL;
    }
    s->merge = s->mode == M_FINAL;
    s->ti = ti;
    dir = ti && ti->local_dir && *ti->local_dir ? ti->local_dir : NULL;
    if (!dir)
        dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s->local_dir, sizeof s->local_dir, "%s", dir);
    rc = parse_index_list(host->param_str(p, "keys"), "keys", &s->kidx, &s->nk,
                          err);
    if (!rc)
        rc = parse_aggs(s, host->param_str(p, "aggs"), err);
    if (!rc)
        rc = parse_types(s, host->param_str(p, "input_types"), err);
    if (rc) {
        agg_close(s);
        return rc;
    }
    s->cur_kidx = calloc((size_t)s->nk + 1, sizeof *s->cur_kidx);
    s->ktype = calloc((size_t)s->nk + 1, sizeof *s->ktype);
    s->kname = calloc((size_t)s->nk + 1, sizeof *s->kname);
    s->keys = calloc((size_t)s->nk + 1, sizeof *s->keys);
    s->kview = calloc((size_t)s->nk + 1, sizeof *s->kview);
    s->h = malloc(sizeof *s->h * CHUNK_ROWS);
    s->vh = malloc(sizeof *s->vh * CHUNK_ROWS);
    s->gid = malloc(sizeof *s->gid * CHUNK_ROWS);
    if (!s->cur_kidx || !s->ktype || !s->kname || !s->keys || !s->kview ||
        !s->h || !s->vh || !s->gid) {
        agg_close(s);
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    memcpy(s->cur_kidx, s->kidx, sizeof *s->kidx * (size_t)s->nk);
    *state = s;
    return 0;
}

static int agg_push(void *state, const ember_batch *b, ember_emit_fn emit,
                    void *ud, ember_error *err)
{
    agg *s = state;
    int nc = rel_host->batch_num_columns(b);
    int64_t nrows = rel_host->batch_num_rows(b);
    if (nc > s->in_cap) {
        ember_column *ni = realloc(s->in, sizeof *ni * (size_t)nc);
        if (!ni) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        s->in = ni;
        s->in_cap = nc;
    }
    for (int i = 0; i < nc; i++)
        if (rel_host->batch_column(b, i, &s->in[i])) {
            rel_host->seterr(err, EMBER_EINVAL, OPNAME ": bad input column");
            return EMBER_EINVAL;
        }
    if (!s->bound) {
        ember_type *types = malloc(sizeof *types * (size_t)(nc + 1));
        const char **names = malloc(sizeof *names * (size_t)(nc + 1));
        int rc = types && names ? 0 : EMBER_ENOMEM;
        for (int i = 0; i < nc && !rc; i++) {
            types[i] = s->in[i].type;
            names[i] = rel_host->batch_column_name(b, i);
        }
        if (rc)
            rel_host->seterr(err, rc, "out of memory");
        else
            rc = bind(s, types, names, nc, err);
        free(types);
        free((void *)names);
        if (rc)
            return rc;
    } else {
        int rc = check_types(s, s->in, nc, err);
        if (rc)
            return rc;
    }
    if (nrows == 0)
        return 0;
    return process(s, s->in, nrows, emit, ud, err);
}

/* Merge the spilled partitions one at a time and emit their groups. */
static int merge_spills(agg *s, ember_emit_fn emit, void *ud, ember_error *err)
{
    int rc = spill_all(s, err), c = s->nk;
    mem_release_all(s);
    if (rc)
        return rc;
    s->merging = 1;
    s->merge = 1;
    for (int k = 0; k < s->nk; k++)
        s->cur_kidx[k] = k;
    for (int j = 0; j < s->na; j++) {
        s->a[j].cur_arg = c;
        c += s->a[j].fn == F_AVG ? 2 : 1;
    }
    for (int p = 0; p < NPART && !rc; p++) {
        FILE *f = s->part[p];
        run r;
        memset(&r, 0, sizeof r);
        if (fflush(f) || fseek(f, 0, SEEK_SET)) {
            rel_host->seterr(err, EMBER_EIO, OPNAME ": spill file: %s",
                             strerror(errno));
            return EMBER_EIO;
        }
        while (!rc && (rc = read_run(f, &r)) == 1) {
            rc = r.ncols == c ? process(s, r.cols, r.n, emit, ud, err)
                              : EMBER_ECORRUPT;
            run_free(&r);
        }
        run_free(&r);
        if (rc < 0) {
            if (rc == EMBER_ECORRUPT || (err && !err->msg[0]))
                rel_host->seterr(err, rc,
                                 OPNAME ": cannot read a spill file: %s",
                                 rel_host->strerror(rc));
            return rc;
        }
        rc = emit_all(s, 0, emit, ud, err);
        table_reset(s);
        mem_release_all(s);
    }
    return rc;
}

static int agg_finish(void *state, ember_emit_fn emit, void *ud,
                      ember_error *err)
{
    agg *s = state;
    if (!s->bound) {
        /* no input at all: only a global aggregate has a row to emit */
        ember_type *types;
        int n = s->nintypes, rc;
        if (s->nk > 0 || s->mode == M_PARTIAL)
            return 0;
        for (int j = 0; j < s->na; j++) {
            if (s->a[j].arg + 2 > n)
                n = s->a[j].arg + 2;
        }
        types = calloc((size_t)n + 1, sizeof *types);
        if (!types) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        for (int i = 0; i < n; i++)
            types[i] = i < s->nintypes ? s->intypes[i] : EMBER_TYPE_NULL;
        /* an unknown avg count column is fine as NULL */
        rc = bind(s, types, NULL, n, err);
        free(types);
        if (rc)
            return rc;
    }
    if (s->spilled)
        return merge_spills(s, emit, ud, err);
    if (s->nk == 0 && s->mode != M_PARTIAL && s->ng == 0) {
        if (groups_reserve(s, 1)) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        s->ng = 1;
    }
    return emit_all(s, s->mode == M_PARTIAL, emit, ud, err);
}

static const ember_param_desc agg_params[] = {
    {"keys", EMBER_PARAM_STRING, "()", "group key column indices, e.g. (0 3)"},
    {"aggs", EMBER_PARAM_STRING, "()",
     "aggregates: ((as \"name\" (fn arg)) ...), fn one of sum count "
     "count_star avg min max count_distinct first"},
    {"mode", EMBER_PARAM_STRING, "complete", "partial | final | complete"},
    {"input_types", EMBER_PARAM_STRING, "()",
     "optional input column types (type ...) or ((\"name\" type) ...), "
     "used to type a global aggregate's row when no batch arrives"},
};

static const ember_op_desc agg_op = {
    sizeof(ember_op_desc),
    OPNAME,
    "hash aggregation (GROUP BY) in partial, final or complete mode",
    EMBER_OP_TRANSFORM,
    agg_params,
    sizeof agg_params / sizeof agg_params[0],
    NULL,
    agg_open,
    NULL,
    agg_push,
    agg_finish,
    agg_close,
    NULL};

int rel_register_agg(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, &agg_op, 1, err);
}
