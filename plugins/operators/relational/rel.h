/*
 * rel.h -- shared internals of the op_relational plugin (vectorized
 * relational operators for ember's DataFrames).  Not installed: plugins
 * link nothing of ember's, so everything here is the plugin's own.
 *
 * What lives here:
 *   - rel_col: a growable Arrow-layout column being built (validity bitmap
 *     allocated on the first null, int32 offsets + bytes for strings);
 *   - value access on read-only ember_column views;
 *   - rel_emit: hand built columns (or views) to the host as one batch;
 *   - typed column-at-a-time key hashing and key equality (hash_agg,
 *     hash_join);
 *   - calendar arithmetic (inline) and values as text (rel_fmt.c);
 *   - the S-expression reader shared by every operator's parameters
 *     (expressions, key lists, aggregate lists: docs/dataframe-internals.md);
 *   - input path expansion of the file sources (rel_files.c);
 *   - spill files of hash_agg and sort (rel_spill.c);
 *   - registration hooks of each source file.
 *
 * Threads: operator state is used by one task thread at a time; nothing
 * here is global except the host pointer, set once in init().
 */
#ifndef EMBER_REL_H
#define EMBER_REL_H

#include <ember/plugin.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern const ember_host *rel_host;

/* ------------------------------------------------------------ columns */

typedef struct rel_col {
    ember_type type;
    int64_t n;        /* rows */
    int64_t nulls;    /* null count */
    uint8_t *valid;   /* NULL until the first null; bit i = row i valid */
    size_t valid_cap; /* bytes */
    int32_t *off;     /* var-width: n + 1 entries */
    size_t off_cap;   /* entries */
    uint8_t *data;    /* values (BOOL: one byte each) or string bytes */
    size_t data_len;  /* bytes used */
    size_t data_cap;  /* bytes */
} rel_col;

int rel_type_width(ember_type t);    /* 0 for var-width and NULL */
int rel_type_varwidth(ember_type t); /* STRING, BINARY, LUAVALUE */

void relcol_init(rel_col *c, ember_type t);
void relcol_free(rel_col *c);
void relcol_reset(rel_col *c); /* keep memory and type, drop rows */
/* Make room for `rows` more rows and, for strings, `bytes` more bytes. */
int relcol_reserve(rel_col *c, int64_t rows, size_t bytes);
int relcol_append_null(rel_col *c);
int relcol_append_bool(rel_col *c, int v);
int relcol_append_i32(rel_col *c, int32_t v); /* INT32, DATE32 */
int relcol_append_i64(rel_col *c, int64_t v); /* INT64, TIMESTAMP */
int relcol_append_f64(rel_col *c, double v);
int relcol_append_str(rel_col *c, const char *s, size_t len);
/* Append row `row` of src (same type) to c, nulls included. */
int relcol_append_from(rel_col *c, const ember_column *src, int64_t row);
/* Append the rows of src whose indices are in sel[0..n). */
int relcol_gather(rel_col *c, const ember_column *src, const int32_t *sel,
                  int64_t n);
/* Bytes held (for memory accounting). */
size_t relcol_bytes(const rel_col *c);
/* A read-only view of a built column (valid until the next append). */
void relcol_view(const rel_col *c, ember_column *out);

/* Build one batch from cols[0..n) named names[0..n), emit it, reset the
 * columns.  Returns emit's code (0, EMBER_ESTOP, or an error: building
 * failures and downstream errors are set in err, keeping a message the
 * downstream set). */
int rel_emit(rel_col *cols, const char *const *names, int n, ember_emit_fn emit,
             void *ud, ember_error *err);
/* The same over borrowed views v[0..n) (input columns, expression results),
 * without copying them into rel_cols first. */
int rel_emit_views(const ember_column *v, const char *const *names, int n,
                   ember_emit_fn emit, void *ud, ember_error *err);
/* Emit a borrowed batch as it is (same return and error rules). */
int rel_emit_batch(const ember_batch *b, ember_emit_fn emit, void *ud,
                   ember_error *err);

/* ----------------------------------------------------- reading values */

static inline int rel_isnull(const ember_column *c, int64_t i)
{
    return c->type == EMBER_TYPE_NULL ||
           (c->validity && !((c->validity[i >> 3] >> (i & 7)) & 1));
}
static inline int32_t rel_i32(const ember_column *c, int64_t i)
{
    return ((const int32_t *)c->data)[i];
}
static inline int64_t rel_i64(const ember_column *c, int64_t i)
{
    return ((const int64_t *)c->data)[i];
}
static inline double rel_f64(const ember_column *c, int64_t i)
{
    return ((const double *)c->data)[i];
}
static inline int rel_bool(const ember_column *c, int64_t i)
{
    return ((const uint8_t *)c->data)[i] != 0;
}
static inline const char *rel_str(const ember_column *c, int64_t i, size_t *len)
{
    *len = (size_t)(c->offsets[i + 1] - c->offsets[i]);
    return (const char *)c->data + c->offsets[i];
}

/* ------------------------------------------------------- key hashing */

/* Per-value pieces of the typed, column-at-a-time key hashing shared by
 * rel.hash_agg and rel.hash_join (inline: they run once per key value). */
#define REL_NULL_HASH 0x6a09e667f3bcc909ULL /* what a NULL key hashes as */
#define REL_HSEED 0x510e527fade682d1ULL     /* first key column: v ^ seed */
#define REL_HMUL 0x9e3779b97f4a7c15ULL      /* more columns: h * mul ^ v */

/* MurmurHash3's 64-bit finaliser. */
static inline uint64_t rel_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t rel_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A hash of len bytes at p, a word at a time. */
static inline uint64_t rel_hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h =
        0x243f6a8885a308d3ULL ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = rel_rotl(h ^ (w * 0xff51afd7ed558ccdULL), 31) *
            0xc4ceb9fe1a85ec53ULL;
        p += 8;
        len -= 8;
    }
    if (len) { /* the tail, without a variable-length memcpy call */
        uint64_t w = 0;
        for (size_t k = 0; k < len; k++)
            w |= (uint64_t)p[k] << (8 * k);
        h = rel_rotl(h ^ (w * 0xff51afd7ed558ccdULL), 31) *
            0xc4ceb9fe1a85ec53ULL;
    }
    return h;
}

/* The bits of d canonicalised for grouping: every NaN alike, -0.0 = 0.0. */
static inline uint64_t rel_dbl_bits(double d)
{
    uint64_t b;
    if (d != d)
        return 0x7ff8000000000000ULL;
    if (d == 0)
        d = 0;
    memcpy(&b, &d, 8);
    return b;
}

/* Is row i of c valid by its bitmap (1 when there is none)?  Unlike
 * rel_isnull, a column of type NULL is not special-cased. */
static inline int rel_valid_bit(const ember_column *c, int64_t i)
{
    return !c->validity || ((c->validity[i >> 3] >> (i & 7)) & 1);
}

/* Hash rows [off, off + n) of key column c into h[0..n): the first key
 * column (first != 0) sets h[i] = mix64(v ^ REL_HSEED), the others combine
 * h[i] = mix64(h[i] * REL_HMUL ^ v).  v is the value itself for integers
 * (INT32 and INT64 of the same value alike), rel_dbl_bits for doubles,
 * rel_hash_bytes for var-width types, REL_NULL_HASH for NULL.  When nul is
 * not NULL, nul[i] is set to 1 for NULL rows (and left alone otherwise). */
void rel_hash_col(const ember_column *c, int64_t off, int64_t n, uint64_t *h,
                  uint8_t *nul, int first);

/* Row i of an integer column (4- or 8-byte) as int64_t. */
static inline int64_t rel_int_at(const ember_column *c, int64_t i)
{
    return c->type == EMBER_TYPE_INT64 || c->type == EMBER_TYPE_TIMESTAMP
               ? rel_i64(c, i)
               : rel_i32(c, i);
}

/* Are the non-NULL values a[i] and b[j] equal as keys?  Same type, except
 * that INT32/INT64 (and DATE32/TIMESTAMP) widths may differ; NaN = NaN,
 * -0.0 = 0.0; strings bytewise. */
static inline int rel_key_eq(const ember_column *a, int64_t i,
                             const ember_column *b, int64_t j)
{
    switch (a->type) {
    case EMBER_TYPE_BOOL:
        return rel_bool(a, i) == rel_bool(b, j);
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        if (b->type == a->type)
            return rel_i32(a, i) == rel_i32(b, j);
        return rel_int_at(a, i) == rel_int_at(b, j);
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        if (b->type == a->type)
            return rel_i64(a, i) == rel_i64(b, j);
        return rel_int_at(a, i) == rel_int_at(b, j);
    case EMBER_TYPE_DOUBLE:
        return rel_dbl_bits(rel_f64(a, i)) == rel_dbl_bits(rel_f64(b, j));
    default: {
        size_t la, lb;
        const char *x = rel_str(a, i, &la), *y = rel_str(b, j, &lb);
        return la == lb && (la == 0 || memcmp(x, y, la) == 0);
    }
    }
}

/* Key equality with SQL grouping semantics: NULL = NULL (else as
 * rel_key_eq). */
static inline int rel_group_eq(const ember_column *a, int64_t i,
                               const ember_column *b, int64_t j)
{
    int an = rel_isnull(a, i), bn = rel_isnull(b, j);
    if (an || bn)
        return an == bn;
    return rel_key_eq(a, i, b, j);
}

/* A 64-bit hash of row i of c (equal values hash equal across INT32 and
 * INT64 of the same value; NULL hashes to a constant). */
uint64_t rel_hash_value(const ember_column *c, int64_t i, uint64_t seed);
/* Compare row i of a with row j of b (same type; nulls not handled):
 * <0, 0, >0.  Strings compare bytewise (UTF-8 order). */
int rel_cmp_value(const ember_column *a, int64_t i, const ember_column *b,
                  int64_t j);

/* --------------------------------------------------------- type names */

/* "boolean" "int" "bigint" "double" "string" "date" "timestamp" "binary"
 * "null" <-> ember_type; returns -1 for an unknown name. */
int rel_type_from_name(const char *name, size_t len);
const char *rel_type_name(ember_type t);

/* -------------------------------------------------------- S-expressions */

/* Parameters that carry structure (expressions, lists) are S-expressions:
 *   atom     = integer | decimal | symbol | "string" (with \" \\ \n \t)
 *   list     = '(' { atom | list } ')'
 * rel_sx_parse builds a tree; errors say what and at which byte. */
typedef enum { SX_LIST, SX_SYM, SX_INT, SX_NUM, SX_STR } rel_sx_kind;

typedef struct rel_sx {
    rel_sx_kind kind;
    int n; /* SX_LIST: number of items */
    struct rel_sx **items;
    char *s;    /* SX_SYM / SX_STR: NUL-terminated text */
    size_t len; /* SX_STR: byte length (may contain NUL) */
    int64_t i;  /* SX_INT */
    double d;   /* SX_NUM (also set for SX_INT) */
} rel_sx;

rel_sx *rel_sx_parse(const char *text, ember_error *err);
void rel_sx_free(rel_sx *x);
/* Helpers: is x the symbol `name`? is x a list whose head is `name`? */
int rel_sx_is(const rel_sx *x, const char *name);
int rel_sx_head(const rel_sx *x, const char *name);
/* Column indices: read the items of list x, integers in [0, max], into
 * out[0..x->n).  Returns 0, or the 1-based position of the first item that
 * is not one (out is then filled up to it). */
int rel_sx_indices(const rel_sx *x, int64_t max, int *out);

/* ------------------------------------------------- dates and text */

/* Dates are days since 1970-01-01 in the proleptic Gregorian calendar,
 * timestamps microseconds since 1970-01-01 00:00:00 UTC (H. Hinnant's
 * civil algorithms; inline: the CSV reader converts every date value). */
#define REL_US_PER_DAY 86400000000LL
#define REL_US_PER_SEC 1000000LL

/* a / b rounded towards negative infinity (b > 0) */
static inline int64_t rel_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; not checked). */
static inline int64_t rel_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year, month (1..12) and day (1..31) of day z since 1970-01-01. */
static inline void rel_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

/* Days in month m (1..12) of year y. */
static inline int rel_days_in_month(int64_t y, int m)
{
    static const int8_t dm[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Values as text (rel_fmt.c).  Each writes into o, which has room for
 * REL_FMT_MAX bytes, and returns the length (no NUL is written). */
#define REL_FMT_MAX 48
/* Decimal digits with a '-' for negatives. */
size_t rel_fmt_i64(int64_t v, char *o);
/* Java's Double.toString (Spark's cast to string): the shortest digits
 * that read back as d, plain for 1e-3 <= |d| < 1e7 ("1.0", "0.001"), else
 * "1.0E10"; "NaN", "Infinity", "-Infinity", "-0.0". */
size_t rel_fmt_double(double d, char *o);
/* yyyy-MM-dd; years outside 0..9999 with all their digits, negative
 * years as '-' and at least four digits ("-0044-03-15"). */
size_t rel_fmt_date(int64_t days, char *o);
/* yyyy-MM-dd HH:mm:ss[.ffffff] (UTC), the fraction without trailing
 * zeros. */
size_t rel_fmt_ts(int64_t us, char *o);

/* ------------------------------------------------------- input files */

/* Input path expansion of the file sources (rel_files.c).  A path is a
 * regular file, a directory (its regular files whose names start with
 * neither '.' nor '_', sorted by name) or a glob pattern of those. */
typedef struct rel_flist {
    char **paths; /* owned */
    int64_t *sizes;
    int n, cap;
} rel_flist;

/* Append a copy of path with its size: 0 or EMBER_ENOMEM. */
int rel_flist_add(rel_flist *f, const char *path, int64_t size);
/* Free the paths and arrays and zero *f (a zeroed list is empty). */
void rel_flist_free(rel_flist *f);
/* Add the listed regular files of directory dir; with suffix non-NULL,
 * only names ending with it.  Errors (EMBER_EIO when dir cannot be read,
 * EMBER_ENOMEM) are set in err prefixed with `op`. */
int rel_flist_add_dir(rel_flist *f, const char *dir, const char *suffix,
                      const char *op, ember_error *err);
/* Add path if it is a regular file (whatever its name), or its directory
 * listing (rel_flist_add_dir); anything else, missing paths included, adds
 * nothing and returns 0. */
int rel_flist_add_path(rel_flist *f, const char *path, const char *suffix,
                       const char *op, ember_error *err);
/* Add what path names: when it exists, as rel_flist_add_path; else each
 * match of it as a glob pattern.  EMBER_ENOTFOUND ("<op>: input path does
 * not exist: <path>") when nothing matches; f may end up empty (a
 * directory without data files).  On error f keeps what was added. */
int rel_flist_expand(rel_flist *f, const char *path, const char *suffix,
                     const char *op, ember_error *err);

/* ------------------------------------------------------- spill files */

/* A spill file of an operator (rel_spill.c): the host's
 * (ember_task_info.spill_*, ABI 1.3: private, and encrypted with
 * io.encryption.enabled) when the host offers them, else a file of our
 * own in local_dir.  Written front to back, finished, then read front to
 * back (rewind starts over); closing removes it.  Errors are set in err
 * prefixed with the operator's name. */
typedef struct rel_spill {
    const ember_task_info *ti; /* the host's functions, or NULL */
    const char *op;            /* for messages, e.g. "rel.sort" */
    ember_spill *h;            /* the host's file */
    FILE *f;                   /* or ours */
    char *path;
    int64_t bytes; /* bytes written */
    int finished;  /* rel_spill_finish was called */
} rel_spill;

/* 1 if ti offers spill files (struct_size covers them, none NULL). */
int rel_spill_hosted(const ember_task_info *ti);
/* Create s (zeroed or closed) in dir, through ti when it offers spill
 * files.  Returns 0, EMBER_ENOMEM or EMBER_EIO. */
int rel_spill_create(rel_spill *s, const ember_task_info *ti, const char *dir,
                     const char *op, ember_error *err);
int rel_spill_write(rel_spill *s, const void *p, size_t n, ember_error *err);
int rel_spill_finish(rel_spill *s, ember_error *err);
int rel_spill_rewind(rel_spill *s, ember_error *err);
/* Exactly n bytes: EMBER_ECORRUPT when the file ends first (or, hosted
 * and encrypted, fails authentication). */
int rel_spill_read(rel_spill *s, void *p, size_t n, ember_error *err);
/* Close and remove; s is zeroed.  A zeroed s is fine. */
void rel_spill_close(rel_spill *s);
/* 1 while s holds a file. */
static inline int rel_spill_open(const rel_spill *s)
{
    return s->h != NULL || s->path != NULL;
}

/* ----------------------------------------------------- registration */

/* Register ops[0..n) with the host: 0, or the host's error with err set
 * ("cannot register <name>"); stops at the first failure. */
int rel_register_ops(ember_registry *reg, const ember_op_desc *ops, size_t n,
                     ember_error *err);

/* Each source file registers its operators; rel.c calls these from init. */
int rel_register_expr(ember_registry *reg, ember_error *err);
int rel_register_scan(ember_registry *reg, ember_error *err);
int rel_register_agg(ember_registry *reg, ember_error *err);
int rel_register_join(ember_registry *reg, ember_error *err);
int rel_register_sort(ember_registry *reg, ember_error *err);
int rel_register_write(ember_registry *reg, ember_error *err);
int rel_register_colfile(ember_registry *reg, ember_error *err);

#endif /* EMBER_REL_H */
