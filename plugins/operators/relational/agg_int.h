/*
 * agg_int.h -- the internals of rel.hash_agg shared by its three files,
 * callable only by them:
 *
 *   agg.c        the operator: parameters, open/push/finish/close, the
 *                chunk loop and the memory policy (flush, spill or warn);
 *   agg_table.c  the hash table: key binding, group lookup, aggregate
 *                updates, count_distinct sets, and building the output;
 *   agg_spill.c  spill files: every group in partial-state form, cut into
 *                NPART hash partitions, written as runs and read back.
 *
 * Dependencies go one way: agg.c -> agg_spill.c -> agg_table.c.
 * Threads: an instance belongs to one task thread; no globals.
 */
#ifndef EMBER_REL_AGG_INT_H
#define EMBER_REL_AGG_INT_H

#include "rel.h"

#include <stdio.h>

#define CHUNK_ROWS 8192
#define OUT_ROWS 8192
#define MEM_CHUNK ((int64_t)1 << 20)
#define NPART 16
#define OPNAME "rel.hash_agg"

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

/* min, max and first keep a value of the column's type per group */
#define KEEPS_VALUE(fn) ((fn) == F_MIN || (fn) == F_MAX || (fn) == F_FIRST)

enum { M_PARTIAL, M_FINAL, M_COMPLETE };

/* ------------------------------------------------------------- state */

/* A set of (group id, value) pairs; fixed-width values are stored as
 * canonical bits in ev, strings as offset (ev) + length (el) in arena. */
typedef struct agg_dset {
    uint32_t *slot; /* entry index + 1, 0 = empty */
    size_t scap;
    int32_t *eg;
    uint64_t *eh;
    int64_t *ev;
    int32_t *el;
    size_t n, ecap;
    uint8_t *arena;
    size_t alen, acap;
} agg_dset;

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
    agg_dset ds;
} aggfn;

typedef struct agg_slot {
    uint32_t tag; /* hash >> 32 */
    int32_t gid;  /* -1: empty */
    uint64_t pre; /* string mode: the key's first 8 bytes (see lookup) */
} agg_slot;

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
    agg_slot *slots;
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
    rel_spill part[NPART];
    int spilled;
    int merging;
    char local_dir[4096];
} agg;

/* ------------------------------------------------- agg_table.c: table */

/* Bytes the table, keys and states hold (for memory accounting). */
size_t agg_table_bytes(const agg *s);
/* Drop every group and free the table's memory (types stay bound). */
void agg_table_reset(agg *s);
/* Room for `more` groups in the state arrays: 0 or EMBER_ENOMEM. */
int agg_groups_reserve(agg *s, int64_t more);
/* Decide key and state types from the input column types (names may be
 * NULL).  Returns 0 or EMBER_EINVAL / EMBER_ENOMEM with err set. */
int agg_bind(agg *s, const ember_type *types, const char *const *names,
             int ncols, ember_error *err);
/* Check that a later batch has the bound types (EMBER_EINVAL, err set). */
int agg_check_types(const agg *s, const ember_column *in, int ncols,
                    ember_error *err);
/* Map rows [off, off + n) of in to group ids in s->gid, adding groups.
 * Returns 0 or EMBER_ENOMEM. */
int agg_lookup(agg *s, const ember_column *in, int64_t off, int64_t n);
/* Update aggregate a over rows [off, off + n) of in, row i belonging to
 * group gid[i].  Returns 0 or EMBER_ENOMEM. */
int agg_update(agg *s, aggfn *a, const ember_column *in, int64_t off, int64_t n,
               const int32_t *gid);

/* Output columns in partial-state (partial != 0) or final form: a new
 * array of *ncols builders and a new array *names of names borrowed from
 * s, both freed with agg_cols_free; NULL when out of memory. */
rel_col *agg_cols_new(const agg *s, int partial, int *ncols,
                      const char ***names);
void agg_cols_free(rel_col *cols, int n, const char **names);
/* Append groups sel[0..n) to cols.  Returns 0 or EMBER_ENOMEM. */
int agg_build_groups(agg *s, const int32_t *sel, int64_t n, int partial,
                     rel_col *cols);
/* Emit every group, OUT_ROWS at a time; emit's code or an error (err). */
int agg_emit_all(agg *s, int partial, ember_emit_fn emit, void *ud,
                 ember_error *err);

/* ------------------------------------------- agg_spill.c: spill files */

/* One run read back: its columns point into bufs (3 per column). */
typedef struct agg_run {
    int ncols;
    int64_t n;
    ember_column *cols;
    void **bufs;
} agg_run;

/* Write every group to its partition's run file (creating the NPART
 * spill files, rel_spill.c, on first use), count the bytes as
 * spill_bytes, then reset the table.  Returns 0, EMBER_ENOMEM or
 * EMBER_EIO (err set). */
int agg_spill_all(agg *s, ember_error *err);
/* End partition p's file (no spill may follow) and rewind it for reading
 * (EMBER_EIO, err set). */
int agg_spill_rewind(agg *s, int p, ember_error *err);
/* Read partition p's next run into r (zeroed or freed): 1 = a run was
 * read, 0 = end of file, <0 = EMBER_ECORRUPT, EMBER_EIO or EMBER_ENOMEM
 * (err set). */
int agg_spill_read(agg *s, int p, agg_run *r, ember_error *err);
void agg_run_free(agg_run *r);
/* Close and remove the spill files. */
void agg_spill_close(agg *s);

#endif /* EMBER_REL_AGG_INT_H */
