/*
 * join.c -- rel.hash_join: equi-joins (inner, left, right, full, semi,
 * anti) of a probe side (input 0, push()) with a build side (input 1,
 * push_input()).
 *
 * How it works.  The host pushes every right (build) batch first; their
 * columns are copied into rel_col builders.  At the first left batch (or
 * at finish) the build table is made: the key columns are hashed column
 * at a time (typed loops; NULL never matches, doubles compare with
 * NaN = NaN and -0.0 = 0.0, int and bigint keys compare by value), and
 * rows with a non-NULL key are chained from a power-of-two bucket array
 * through a next-index array (no per-row allocation).  Each left batch is
 * probed in chunks: hashes first, then a loop walking the chains fills a
 * (left row, right row) selection vector pair (-1 = the NULL side), which
 * is gathered column by column into the output builders; output leaves in
 * batches of about OUT_ROWS rows.  Right and full joins remember which
 * right rows matched and emit the others at finish().
 *
 * Memory: the build side is accounted with ti->mem_acquire in MEM_CHUNK
 * steps; when refused the join goes on (logged once) -- a grace hash join
 * that partitions both sides to disk is future work.
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "rel.h"

#include <stdio.h>
#include <stdlib.h>

#define CHUNK_ROWS 4096
#define OUT_ROWS 8192
#define MEM_CHUNK ((int64_t)1 << 20)
#define OPNAME "rel.hash_join"

enum { J_INNER, J_LEFT, J_RIGHT, J_FULL, J_SEMI, J_ANTI };
static const char *const how_names[] = {"inner", "left", "right",
                                        "full",  "semi", "anti"};

/* ------------------------------------------------------------ hashing */

/* Key columns are hashed column at a time by rel_hash_col (rows with a
 * NULL key flagged in nul[]) and compared with rel_key_eq (rel.h). */

static int is_int_type(ember_type t)
{
    return t == EMBER_TYPE_INT32 || t == EMBER_TYPE_INT64;
}

/* ------------------------------------------------------------- state */

typedef struct schema {
    int n;
    ember_type *types;
    char **names;
} schema;

typedef struct join {
    int how;
    int nk;
    int *lk, *rk;
    schema rdecl, ldecl; /* from right_types / left_types (may be empty) */
    schema rs, ls;       /* bound schemas */
    int rbound, lbound;
    /* the build side */
    rel_col *rcols;
    ember_column *rview;
    int64_t rn;
    int built;
    int32_t *bucket, *next;
    uint64_t *rhash;
    uint8_t *matched;
    size_t nbuckets;
    /* probing */
    ember_column *lin;
    int lin_cap;
    uint64_t *h;
    int32_t *head;
    uint8_t *nul;
    int32_t *lsel, *rsel;
    int64_t npairs;
    /* output */
    rel_col *out;
    const char **onames;
    int nout;
    /* memory */
    const ember_task_info *ti;
    int64_t acquired;
    int warned;
} join;

static void schema_free(schema *s)
{
    for (int i = 0; s->names && i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    memset(s, 0, sizeof *s);
}

static int schema_set(schema *s, int n)
{
    s->n = n;
    s->types = calloc((size_t)n + 1, sizeof *s->types);
    s->names = calloc((size_t)n + 1, sizeof *s->names);
    return s->types && s->names ? 0 : EMBER_ENOMEM;
}

static int schema_from_batch(schema *s, const ember_batch *b)
{
    int n = rel_host->batch_num_columns(b);
    if (schema_set(s, n))
        return EMBER_ENOMEM;
    for (int i = 0; i < n; i++) {
        ember_column c;
        const char *nm = rel_host->batch_column_name(b, i);
        if (rel_host->batch_column(b, i, &c))
            return EMBER_EINVAL;
        s->types[i] = c.type;
        s->names[i] = strdup(nm ? nm : "");
        if (!s->names[i])
            return EMBER_ENOMEM;
    }
    return 0;
}

static int schema_copy(schema *d, const schema *s)
{
    if (schema_set(d, s->n))
        return EMBER_ENOMEM;
    for (int i = 0; i < s->n; i++) {
        d->types[i] = s->types[i];
        if (!(d->names[i] = strdup(s->names[i])))
            return EMBER_ENOMEM;
    }
    return 0;
}

/* Does batch b have schema s's column types? */
static int schema_check(const schema *s, const ember_batch *b, const char *side,
                        ember_error *err)
{
    int n = rel_host->batch_num_columns(b);
    if (n != s->n) {
        rel_host->seterr(err, EMBER_EINVAL,
                         OPNAME ": %s batch has %d columns, expected %d", side,
                         n, s->n);
        return EMBER_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        ember_column c;
        if (rel_host->batch_column(b, i, &c) || c.type != s->types[i]) {
            rel_host->seterr(
                err, EMBER_EINVAL, OPNAME ": %s column %d is %s, expected %s",
                side, i, rel_type_name(c.type), rel_type_name(s->types[i]));
            return EMBER_EINVAL;
        }
    }
    return 0;
}

static void mem_account(join *j)
{
    int64_t held = 0;
    if (!j->ti || !j->ti->mem_acquire || j->warned)
        return;
    for (int i = 0; i < j->rs.n; i++)
        held += (int64_t)relcol_bytes(&j->rcols[i]);
    held += (int64_t)j->nbuckets * 4 + (j->built ? j->rn * 13 : 0);
    while (held > j->acquired) {
        if (j->ti->mem_acquire(j->ti->ctx, MEM_CHUNK) != 0) {
            rel_host->log(EMBER_LOG_WARN, OPNAME,
                          "execution memory refused with a build side of "
                          "%lld bytes; going on in memory (no grace hash "
                          "join yet)",
                          (long long)held);
            j->warned = 1;
            return;
        }
        j->acquired += MEM_CHUNK;
    }
}

/* -------------------------------------------------------- build side */

static int bind_right(join *j, const ember_batch *b, ember_error *err)
{
    int rc;
    if (j->rdecl.n > 0) {
        rc = schema_check(&j->rdecl, b, "right", err);
        if (rc)
            return rc;
    }
    rc = schema_from_batch(&j->rs, b);
    if (rc) {
        rel_host->seterr(err, rc, OPNAME ": cannot read the right batch");
        return rc;
    }
    for (int k = 0; k < j->nk; k++)
        if (j->rk[k] >= j->rs.n) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": right key column %d out of range "
                                    "(the right side has %d columns)",
                             j->rk[k], j->rs.n);
            return EMBER_EINVAL;
        }
    j->rcols = calloc((size_t)j->rs.n + 1, sizeof *j->rcols);
    j->rview = calloc((size_t)j->rs.n + 1, sizeof *j->rview);
    if (!j->rcols || !j->rview) {
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < j->rs.n; i++)
        relcol_init(&j->rcols[i], j->rs.types[i]);
    j->rbound = 1;
    return 0;
}

static int join_push_input(void *state, int input, const ember_batch *b,
                           ember_emit_fn emit, void *ud, ember_error *err)
{
    join *j = state;
    int64_t n = rel_host->batch_num_rows(b);
    int rc;
    (void)emit;
    (void)ud;
    if (input != 1) {
        rel_host->seterr(err, EMBER_EINVAL, OPNAME ": no input %d", input);
        return EMBER_EINVAL;
    }
    if (j->built || j->lbound) {
        rel_host->seterr(err, EMBER_EINVAL,
                         OPNAME ": right batch after the left side started");
        return EMBER_EINVAL;
    }
    rc = j->rbound ? schema_check(&j->rs, b, "right", err)
                   : bind_right(j, b, err);
    if (rc)
        return rc;
    if (j->rn + n > INT32_MAX) {
        rel_host->seterr(err, EMBER_ETOOBIG,
                         OPNAME ": build side over 2^31 rows");
        return EMBER_ETOOBIG;
    }
    for (int i = 0; i < j->rs.n; i++) {
        ember_column c;
        rel_host->batch_column(b, i, &c);
        for (int64_t off = 0; off < n; off += CHUNK_ROWS) {
            int64_t m = n - off < CHUNK_ROWS ? n - off : CHUNK_ROWS;
            for (int64_t r = 0; r < m; r++)
                j->lsel[r] = (int32_t)(off + r);
            if (relcol_gather(&j->rcols[i], &c, j->lsel, m)) {
                rel_host->seterr(err, EMBER_ENOMEM,
                                 OPNAME ": out of memory copying the build "
                                        "side");
                return EMBER_ENOMEM;
            }
        }
    }
    j->rn += n;
    mem_account(j);
    return 0;
}

/* Hash the build side and chain its rows by bucket. */
static int build(join *j, ember_error *err)
{
    size_t nb = 16;
    j->built = 1;
    if (!j->rbound)
        return 0;
    for (int i = 0; i < j->rs.n; i++)
        relcol_view(&j->rcols[i], &j->rview[i]);
    while (nb < (size_t)j->rn)
        nb *= 2;
    j->bucket = malloc(nb * sizeof *j->bucket);
    j->next = malloc(((size_t)j->rn + 1) * sizeof *j->next);
    j->rhash = malloc(((size_t)j->rn + 1) * sizeof *j->rhash);
    if (j->how == J_RIGHT || j->how == J_FULL)
        j->matched = calloc((size_t)j->rn + 1, 1);
    if (!j->bucket || !j->next || !j->rhash ||
        ((j->how == J_RIGHT || j->how == J_FULL) && !j->matched)) {
        rel_host->seterr(err, EMBER_ENOMEM,
                         OPNAME ": out of memory building the hash table");
        return EMBER_ENOMEM;
    }
    j->nbuckets = nb;
    memset(j->bucket, 0xff, nb * sizeof *j->bucket);
    for (int64_t off = 0; off < j->rn; off += CHUNK_ROWS) {
        int64_t m = j->rn - off < CHUNK_ROWS ? j->rn - off : CHUNK_ROWS;
        memset(j->nul, 0, (size_t)m);
        for (int k = 0; k < j->nk; k++)
            rel_hash_col(&j->rview[j->rk[k]], off, m, j->rhash + off, j->nul,
                         k == 0);
        for (int64_t i = 0; i < m; i++)
            j->next[off + i] = j->nul[i] ? -2 : -1; /* -2: a NULL key */
    }
    /* insert back to front so that chains run in input order */
    for (int64_t r = j->rn - 1; r >= 0; r--) {
        size_t bk;
        if (j->next[r] == -2)
            continue;
        bk = j->rhash[r] & (nb - 1);
        j->next[r] = j->bucket[bk];
        j->bucket[bk] = (int32_t)r;
    }
    mem_account(j);
    return 0;
}

/* ------------------------------------------------------------- output */

static int setup_output(join *j, ember_error *err)
{
    int withr = j->how != J_SEMI && j->how != J_ANTI;
    int n = j->ls.n + (withr ? j->rs.n : 0), c = 0;
    j->out = calloc((size_t)n + 1, sizeof *j->out);
    j->onames = calloc((size_t)n + 1, sizeof *j->onames);
    if (!j->out || !j->onames) {
        rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < j->ls.n; i++, c++) {
        relcol_init(&j->out[c], j->ls.types[i]);
        j->onames[c] = j->ls.names[i];
    }
    for (int i = 0; withr && i < j->rs.n; i++, c++) {
        relcol_init(&j->out[c], j->rs.types[i]);
        j->onames[c] = j->rs.names[i];
    }
    j->nout = n;
    return 0;
}

/* Append src rows sel[0..n) to c; -1 appends NULL. */
static int gather_nullable(rel_col *c, const ember_column *src,
                           const int32_t *sel, int64_t n)
{
    int64_t i = 0;
    while (i < n) {
        int64_t e = i;
        if (sel[i] < 0) {
            while (e < n && sel[e] < 0)
                e++;
            if (relcol_reserve(c, e - i, 0))
                return EMBER_ENOMEM;
            for (; i < e; i++)
                if (relcol_append_null(c))
                    return EMBER_ENOMEM;
            continue;
        }
        while (e < n && sel[e] >= 0)
            e++;
        if (relcol_gather(c, src, sel + i, e - i))
            return EMBER_ENOMEM;
        i = e;
    }
    return 0;
}

/* Move the pairs into the output builders; emit when a batch is full
 * (or when `all`). */
static int flush(join *j, const ember_column *left, int all, ember_emit_fn emit,
                 void *ud, ember_error *err)
{
    int withr = j->how != J_SEMI && j->how != J_ANTI;
    if (j->npairs && j->nout > 0 && j->out[0].n > 0 &&
        j->out[0].n + j->npairs > OUT_ROWS) {
        int rc = rel_emit(j->out, j->onames, j->nout, emit, ud, err);
        if (rc)
            return rc;
    }
    if (j->npairs) {
        for (int i = 0; i < j->ls.n; i++) {
            int rc =
                left ? relcol_gather(&j->out[i], &left[i], j->lsel, j->npairs)
                     : gather_nullable(&j->out[i], NULL, j->lsel, j->npairs);
            if (rc) {
                rel_host->seterr(err, rc, OPNAME ": out of memory");
                return rc;
            }
        }
        for (int i = 0; withr && i < j->rs.n; i++) {
            if (gather_nullable(&j->out[j->ls.n + i], &j->rview[i], j->rsel,
                                j->npairs)) {
                rel_host->seterr(err, EMBER_ENOMEM, OPNAME ": out of memory");
                return EMBER_ENOMEM;
            }
        }
        j->npairs = 0;
    }
    if (j->nout > 0 && j->out[0].n > 0 && (all || j->out[0].n >= OUT_ROWS))
        return rel_emit(j->out, j->onames, j->nout, emit, ud, err);
    return 0;
}

#define ADD_PAIR(L, R)                                                         \
    do {                                                                       \
        j->lsel[j->npairs] = (L);                                              \
        j->rsel[j->npairs] = (R);                                              \
        if (++j->npairs == OUT_ROWS) {                                         \
            int rc_ = flush(j, lin, 0, emit, ud, err);                         \
            if (rc_)                                                           \
                return rc_;                                                    \
        }                                                                      \
    } while (0)

/* Probe rows [off, off + n) of the left batch. */
static int probe(join *j, const ember_column *lin, int64_t off, int64_t n,
                 ember_emit_fn emit, void *ud, ember_error *err)
{
    uint64_t *h = j->h;
    uint8_t *nul = j->nul;
    size_t mask = j->nbuckets - 1;
    int how = j->how;
    memset(nul, 0, (size_t)n);
    int32_t *head = j->head;
    if (j->rn > 0) {
        for (int k = 0; k < j->nk; k++)
            rel_hash_col(&lin[j->lk[k]], off, n, h, nul, k == 0);
        /* the table is bigger than the caches: fetch the buckets, then the
         * chain heads' hashes, for the whole chunk before walking chains */
        for (int64_t i = 0; i < n; i++)
            __builtin_prefetch(&j->bucket[h[i] & mask]);
        for (int64_t i = 0; i < n; i++) {
            head[i] = nul[i] ? -1 : j->bucket[h[i] & mask];
            if (head[i] >= 0)
                __builtin_prefetch(&j->rhash[head[i]]);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t row = (int32_t)(off + i);
        int found = 0;
        if (j->rn > 0 && !nul[i]) {
            int32_t r = head[i];
            for (; r >= 0; r = j->next[r]) {
                int k = 0;
                if (j->rhash[r] != h[i])
                    continue;
                while (k < j->nk &&
                       rel_key_eq(&lin[j->lk[k]], row, &j->rview[j->rk[k]], r))
                    k++;
                if (k < j->nk)
                    continue;
                found = 1;
                if (how == J_SEMI || how == J_ANTI)
                    break;
                if (j->matched)
                    j->matched[r] = 1;
                ADD_PAIR(row, r);
            }
        }
        if ((how == J_SEMI && found) ||
            (!found && (how == J_ANTI || how == J_LEFT || how == J_FULL)))
            ADD_PAIR(row, -1);
    }
    return 0;
}

static int bind_left(join *j, const ember_batch *b, ember_error *err)
{
    int rc = schema_from_batch(&j->ls, b);
    if (rc) {
        rel_host->seterr(err, rc, OPNAME ": cannot read the left batch");
        return rc;
    }
    return 0;
}

/* Schemas known, keys in range and of matching types? */
static int check_keys(join *j, ember_error *err)
{
    for (int k = 0; k < j->nk; k++) {
        ember_type lt, rt;
        if (j->lk[k] >= j->ls.n) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": left key column %d out of range (the "
                                    "left side has %d columns)",
                             j->lk[k], j->ls.n);
            return EMBER_EINVAL;
        }
        if (!j->rbound)
            continue;
        lt = j->ls.types[j->lk[k]];
        rt = j->rs.types[j->rk[k]];
        if (lt != rt && !(is_int_type(lt) && is_int_type(rt))) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": key %d compares %s (left column %d) "
                                    "with %s (right column %d)",
                             k, rel_type_name(lt), j->lk[k], rel_type_name(rt),
                             j->rk[k]);
            return EMBER_EINVAL;
        }
    }
    return 0;
}

/* Left/full joins need the right schema even without right rows. */
static int need_right_schema(join *j, ember_error *err)
{
    int rc;
    if (j->rbound || j->how == J_SEMI || j->how == J_ANTI)
        return 0;
    if (j->rdecl.n == 0 && (j->how == J_LEFT || j->how == J_FULL)) {
        rel_host->seterr(err, EMBER_EINVAL,
                         OPNAME ": no right batch arrived and parameter "
                                "right_types is empty: the output schema "
                                "is unknown");
        return EMBER_EINVAL;
    }
    rc = schema_copy(&j->rs, &j->rdecl);
    if (!rc) {
        j->rcols = calloc((size_t)j->rs.n + 1, sizeof *j->rcols);
        j->rview = calloc((size_t)j->rs.n + 1, sizeof *j->rview);
        if (!j->rcols || !j->rview)
            rc = EMBER_ENOMEM;
    }
    if (rc) {
        rel_host->seterr(err, rc, "out of memory");
        return rc;
    }
    for (int i = 0; i < j->rs.n; i++) {
        relcol_init(&j->rcols[i], j->rs.types[i]);
        relcol_view(&j->rcols[i], &j->rview[i]);
    }
    j->rbound = 1;
    return 0;
}

static int join_push(void *state, const ember_batch *b, ember_emit_fn emit,
                     void *ud, ember_error *err)
{
    join *j = state;
    int64_t n = rel_host->batch_num_rows(b);
    int nc = rel_host->batch_num_columns(b);
    int rc;
    if (!j->lbound) {
        rc = bind_left(j, b, err);
        if (!rc)
            rc = need_right_schema(j, err);
        if (!rc)
            rc = check_keys(j, err);
        if (!rc)
            rc = build(j, err);
        if (!rc)
            rc = setup_output(j, err);
        if (rc)
            return rc;
        j->lbound = 1;
    } else {
        rc = schema_check(&j->ls, b, "left", err);
        if (rc)
            return rc;
    }
    if (nc > j->lin_cap) {
        ember_column *ni = realloc(j->lin, sizeof *ni * (size_t)nc);
        if (!ni) {
            rel_host->seterr(err, EMBER_ENOMEM, "out of memory");
            return EMBER_ENOMEM;
        }
        j->lin = ni;
        j->lin_cap = nc;
    }
    for (int i = 0; i < nc; i++)
        rel_host->batch_column(b, i, &j->lin[i]);
    if (n == 0 || (j->rn == 0 && (j->how == J_INNER || j->how == J_RIGHT ||
                                  j->how == J_SEMI)))
        return 0;
    for (int64_t off = 0; off < n; off += CHUNK_ROWS) {
        int64_t m = n - off < CHUNK_ROWS ? n - off : CHUNK_ROWS;
        rc = probe(j, j->lin, off, m, emit, ud, err);
        if (rc)
            return rc;
    }
    /* the pairs point into this batch: gather them now */
    return flush(j, j->lin, 0, emit, ud, err);
}

static int join_finish(void *state, ember_emit_fn emit, void *ud,
                       ember_error *err)
{
    join *j = state;
    const ember_column *lin = NULL;
    int rc;
    if (!j->lbound) {
        /* no left batch: only right and full joins have rows to emit */
        if ((j->how != J_RIGHT && j->how != J_FULL) || j->rn == 0)
            return 0;
        if (j->ldecl.n == 0) {
            rel_host->seterr(err, EMBER_EINVAL,
                             OPNAME ": no left batch arrived and parameter "
                                    "left_types is empty: the output schema "
                                    "is unknown");
            return EMBER_EINVAL;
        }
        rc = schema_copy(&j->ls, &j->ldecl);
        if (!rc)
            rc = check_keys(j, err);
        if (!rc)
            rc = build(j, err);
        if (!rc)
            rc = setup_output(j, err);
        if (rc)
            return rc;
        j->lbound = 1;
    }
    if (j->how == J_RIGHT || j->how == J_FULL) {
        for (int64_t r = 0; r < j->rn; r++)
            if (!j->matched[r])
                ADD_PAIR(-1, (int32_t)r);
    }
    return flush(j, NULL, 1, emit, ud, err);
}

/* -------------------------------------------------------------- params */

static void join_close(void *state)
{
    join *j = state;
    if (!j)
        return;
    if (j->acquired && j->ti && j->ti->mem_release)
        j->ti->mem_release(j->ti->ctx, j->acquired);
    for (int i = 0; j->rcols && i < j->rs.n; i++)
        relcol_free(&j->rcols[i]);
    for (int i = 0; j->out && i < j->nout; i++)
        relcol_free(&j->out[i]);
    free(j->rcols);
    free(j->rview);
    free(j->out);
    free(j->onames);
    schema_free(&j->rs);
    schema_free(&j->ls);
    schema_free(&j->rdecl);
    schema_free(&j->ldecl);
    free(j->lk);
    free(j->rk);
    free(j->bucket);
    free(j->next);
    free(j->rhash);
    free(j->matched);
    free(j->lin);
    free(j->h);
    free(j->head);
    free(j->nul);
    free(j->lsel);
    free(j->rsel);
    free(j);
}

static int param_fail(const char *name, const char *what, const char *text,
                      ember_error *err)
{
    rel_host->seterr(err, EMBER_EINVAL,
                     OPNAME ": parameter %s must be %s, got %s", name, what,
                     text);
    return EMBER_EINVAL;
}

static int parse_keys(const char *name, const char *text, int **out, int *n,
                      ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x || x->kind != SX_LIST || x->n == 0)
        goto bad;
    *out = calloc((size_t)x->n, sizeof **out);
    if (!*out)
        goto bad;
    if (rel_sx_indices(x, 100000, *out))
        goto bad;
    *n = x->n;
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    return param_fail(name, "a non-empty list of column indices like (0 2)",
                      text, err);
}

static int parse_types(const char *name, const char *text, schema *s,
                       ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    if (!x || x->kind != SX_LIST || schema_set(s, x->n))
        goto bad;
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        int t;
        if (it->kind != SX_LIST || it->n != 2 ||
            (it->items[0]->kind != SX_STR && it->items[0]->kind != SX_SYM) ||
            (it->items[1]->kind != SX_SYM && it->items[1]->kind != SX_STR))
            goto bad;
        t = rel_type_from_name(it->items[1]->s, strlen(it->items[1]->s));
        if (t < 0)
            goto bad;
        s->types[i] = (ember_type)t;
        if (!(s->names[i] = strdup(it->items[0]->s)))
            goto bad;
    }
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    return param_fail(name, "a list ((\"name\" type) ...)", text, err);
}

static int join_open(const ember_host *host, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    join *j = calloc(1, sizeof *j);
    const char *how = host->param_str(p, "how");
    int nl = 0, nr = 0, rc;
    if (!j) {
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    j->how = -1;
    for (int i = 0; i < (int)(sizeof how_names / sizeof how_names[0]); i++)
        if (strcmp(how, how_names[i]) == 0)
            j->how = i;
    j->ti = ti;
    if (j->how < 0) {
        rc = param_fail("how", "inner, left, right, full, semi or anti", how,
                        err);
        goto fail;
    }
    rc = parse_keys("left_keys", host->param_str(p, "left_keys"), &j->lk, &nl,
                    err);
    if (!rc)
        rc = parse_keys("right_keys", host->param_str(p, "right_keys"), &j->rk,
                        &nr, err);
    if (!rc && nl != nr) {
        host->seterr(err, EMBER_EINVAL,
                     OPNAME ": left_keys has %d columns but right_keys %d", nl,
                     nr);
        rc = EMBER_EINVAL;
    }
    if (!rc)
        rc = parse_types("right_types", host->param_str(p, "right_types"),
                         &j->rdecl, err);
    if (!rc)
        rc = parse_types("left_types", host->param_str(p, "left_types"),
                         &j->ldecl, err);
    if (rc)
        goto fail;
    j->nk = nl;
    for (int k = 0; k < j->nk && j->rdecl.n > 0; k++)
        if (j->rk[k] >= j->rdecl.n) {
            rc = param_fail("right_keys", "within right_types",
                            host->param_str(p, "right_keys"), err);
            goto fail;
        }
    j->h = malloc(sizeof *j->h * CHUNK_ROWS);
    j->nul = malloc(CHUNK_ROWS);
    j->head = malloc(sizeof *j->head * CHUNK_ROWS);
    j->lsel = malloc(sizeof *j->lsel * OUT_ROWS);
    j->rsel = malloc(sizeof *j->rsel * OUT_ROWS);
    if (!j->h || !j->nul || !j->head || !j->lsel || !j->rsel) {
        host->seterr(err, EMBER_ENOMEM, "out of memory");
        rc = EMBER_ENOMEM;
        goto fail;
    }
    *state = j;
    return 0;
fail:
    join_close(j);
    return rc;
}

static const ember_param_desc join_params[] = {
    {"how", EMBER_PARAM_STRING, "inner",
     "inner | left | right | full | semi | anti"},
    {"left_keys", EMBER_PARAM_STRING, NULL,
     "key column indices of the left (probe) input, e.g. (0 2)"},
    {"right_keys", EMBER_PARAM_STRING, NULL,
     "key column indices of the right (build) input"},
    {"right_types", EMBER_PARAM_STRING, "()",
     "right schema ((\"name\" type) ...): output columns when no right "
     "batch arrives; checks the right batches"},
    {"left_types", EMBER_PARAM_STRING, "()",
     "left schema ((\"name\" type) ...): output columns of right/full "
     "joins when no left batch arrives"},
};

static const ember_op_desc join_op = {
    sizeof(ember_op_desc),
    OPNAME,
    "hash equi-join: inner, left, right, full, semi, anti",
    EMBER_OP_TRANSFORM,
    join_params,
    sizeof join_params / sizeof join_params[0],
    NULL,
    join_open,
    NULL,
    join_push,
    join_finish,
    join_close,
    join_push_input};

int rel_register_join(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, &join_op, 1, err);
}
