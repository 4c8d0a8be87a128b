/*
 * rel.h -- shared internals of the op_relational plugin (vectorized
 * relational operators for ember's DataFrames).  Not installed: plugins
 * link nothing of ember's, so everything here is the plugin's own.
 *
 * What lives here:
 *   - rel_col: a growable Arrow-layout column being built (validity bitmap
 *     allocated on the first null, int32 offsets + bytes for strings);
 *   - value access on read-only ember_column views;
 *   - rel_emit: hand built columns to the host as one batch and emit it;
 *   - the S-expression reader shared by every operator's parameters
 *     (expressions, key lists, aggregate lists: docs/dataframe-internals.md);
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
 * columns.  Returns emit's code (0, EMBER_ESTOP, or an error). */
int rel_emit(rel_col *cols, const char *const *names, int n, ember_emit_fn emit,
             void *ud, ember_error *err);

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

/* ----------------------------------------------------- registration */

/* Each source file registers its operators; rel.c calls these from init. */
int rel_register_expr(ember_registry *reg, ember_error *err);
int rel_register_scan(ember_registry *reg, ember_error *err);
int rel_register_agg(ember_registry *reg, ember_error *err);
int rel_register_join(ember_registry *reg, ember_error *err);
int rel_register_sort(ember_registry *reg, ember_error *err);
int rel_register_write(ember_registry *reg, ember_error *err);
int rel_register_colfile(ember_registry *reg, ember_error *err);

#endif /* EMBER_REL_H */
