/*
 * agg_spill.c -- spill files of rel.hash_agg (see agg_int.h).
 *
 * When complete or final mode is refused execution memory, agg.c spills
 * every group in partial-state form to one of NPART run files in
 * ti->local_dir, chosen by the top bits of the group's hash, and starts
 * over; finish() then reads the partitions back one at a time (agg.c
 * merges each as final-mode input), so results stay exact.  The files are
 * the host's spill files when it offers them (rel_spill.c: private, and
 * encrypted with io.encryption.enabled), and are removed in close().
 *
 * A partition file is a sequence of runs ended by a 0 magic; a run is one
 * batch of groups: magic, rows, columns, then per column: type, nulls,
 * [validity], [offsets, data length], data, in host byte order (the files
 * never leave the task).  Each is written as whole buffers.
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "agg_int.h"

#include <stdlib.h>

#define RUN_MAGIC 0x52474145u /* "EAGR" */
#define END_MAGIC 0u          /* after the last run */

/* --------------------------------------------------------------- runs */

/* One run: magic, rows, columns, then per column: type, nulls,
 * [validity], [offsets, data length], data.  0 or the error (err set). */
static int write_run(rel_spill *f, rel_col *cols, int ncols, ember_error *err)
{
    uint32_t magic = RUN_MAGIC;
    int64_t n = cols[0].n;
    int32_t nc = ncols;
    int rc = rel_spill_write(f, &magic, 4, err);
    if (!rc)
        rc = rel_spill_write(f, &n, 8, err);
    if (!rc)
        rc = rel_spill_write(f, &nc, 4, err);
    for (int i = 0; i < ncols && !rc; i++) {
        ember_column v;
        int32_t t;
        int64_t dl;
        relcol_view(&cols[i], &v);
        t = (int32_t)v.type;
        rc = rel_spill_write(f, &t, 4, err);
        if (!rc)
            rc = rel_spill_write(f, &v.null_count, 8, err);
        if (!rc && v.null_count)
            rc = rel_spill_write(f, v.validity, (size_t)(n + 7) / 8, err);
        if (!rc && rel_type_varwidth(v.type)) {
            dl = v.offsets[n];
            rc = rel_spill_write(f, v.offsets, (size_t)(n + 1) * 4, err);
            if (!rc)
                rc = rel_spill_write(f, &dl, 8, err);
            if (!rc)
                rc = rel_spill_write(f, v.data, (size_t)dl, err);
        } else if (!rc) {
            rc = rel_spill_write(
                f, v.data, (size_t)n * (size_t)rel_type_width(v.type), err);
        }
    }
    return rc;
}

void agg_run_free(agg_run *r)
{
    for (int i = 0; r->bufs && i < 3 * r->ncols; i++)
        free(r->bufs[i]);
    free(r->bufs);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static void *rd_alloc(rel_spill *f, size_t n, int *rc, ember_error *err)
{
    void *p;
    if (*rc)
        return NULL;
    p = malloc(n ? n : 1);
    if (!p)
        *rc = EMBER_ENOMEM;
    else
        *rc = rel_spill_read(f, p, n, err);
    return p;
}

/* A run's header field out of range: the file is not what we wrote. */
static int bad_run(const rel_spill *f, ember_error *err)
{
    rel_host->seterr(err, EMBER_ECORRUPT, OPNAME ": corrupt spill file (%s)",
                     f->h ? "host spill file" : f->path);
    return EMBER_ECORRUPT;
}

/* 1 = a run was read, 0 = the end, <0 = error (err set) */
static int read_run(rel_spill *f, agg_run *r, ember_error *err)
{
    uint32_t magic;
    int32_t nc;
    int rc = rel_spill_read(f, &magic, 4, err);
    if (rc)
        return rc;
    if (magic == END_MAGIC)
        return 0;
    if (magic != RUN_MAGIC || (rc = rel_spill_read(f, &r->n, 8, err)) ||
        (rc = rel_spill_read(f, &nc, 4, err)))
        return rc ? rc : bad_run(f, err);
    if (nc <= 0 || nc > 100000 || r->n < 0 || r->n > ((int64_t)1 << 31))
        return bad_run(f, err);
    r->cols = calloc((size_t)nc, sizeof *r->cols);
    r->bufs = calloc((size_t)nc * 3, sizeof *r->bufs);
    r->ncols = nc;
    if (!r->cols || !r->bufs) {
        rel_host->seterr(err, EMBER_ENOMEM, OPNAME ": out of memory");
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < nc && !rc; i++) {
        ember_column *c = &r->cols[i];
        int32_t t;
        if ((rc = rel_spill_read(f, &t, 4, err)) ||
            (rc = rel_spill_read(f, &c->null_count, 8, err)))
            return rc;
        if (t < 0 || t > EMBER_TYPE_LUAVALUE)
            return bad_run(f, err);
        c->type = (ember_type)t;
        c->length = r->n;
        if (c->null_count)
            c->validity = r->bufs[3 * i] =
                rd_alloc(f, (size_t)(r->n + 7) / 8, &rc, err);
        if (rel_type_varwidth(c->type)) {
            int64_t dl = 0;
            c->offsets = r->bufs[3 * i + 1] =
                rd_alloc(f, (size_t)(r->n + 1) * 4, &rc, err);
            if (!rc && (rc = rel_spill_read(f, &dl, 8, err)) == 0 &&
                (dl < 0 || dl != c->offsets[r->n]))
                return bad_run(f, err);
            c->data = r->bufs[3 * i + 2] = rd_alloc(f, (size_t)dl, &rc, err);
        } else {
            c->data = r->bufs[3 * i + 2] = rd_alloc(
                f, (size_t)r->n * (size_t)rel_type_width(c->type), &rc, err);
        }
    }
    if (rc == EMBER_ENOMEM)
        rel_host->seterr(err, rc, OPNAME ": out of memory");
    return rc ? rc : 1;
}

/* ---------------------------------------------------- partition files */

static int open_parts(agg *s, ember_error *err)
{
    for (int p = 0; p < NPART; p++) {
        int rc;
        if (rel_spill_open(&s->part[p]))
            continue;
        rc = rel_spill_create(&s->part[p], s->ti, s->local_dir, OPNAME, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Write every group to its partition's run file, then reset the table. */
int agg_spill_all(agg *s, ember_error *err)
{
    int64_t cnt[NPART + 1] = {0};
    int32_t *sel = NULL;
    rel_col *cols = NULL;
    const char **names = NULL;
    int ncols = 0, rc;
    int64_t before = 0, after = 0;
    if (s->ng == 0)
        return 0;
    rc = open_parts(s, err);
    if (rc)
        return rc;
    sel = malloc(sizeof *sel * (size_t)s->ng);
    cols = agg_cols_new(s, 1, &ncols, &names);
    if (!sel || !cols) {
        rc = EMBER_ENOMEM;
        rel_host->seterr(err, rc, OPNAME ": out of memory while spilling");
        goto out;
    }
    for (int p = 0; p < NPART; p++) /* spilled bytes: what was written */
        before += s->part[p].bytes;
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
            rc = agg_build_groups(s, sel + g0, n, 1, cols);
            if (rc) {
                rel_host->seterr(err, rc, OPNAME ": out of memory");
                break;
            }
            rc = write_run(&s->part[p], cols, ncols, err);
            for (int i = 0; i < ncols; i++)
                relcol_reset(&cols[i]);
        }
    }
    s->spilled = 1;
    agg_table_reset(s);
out:
    if (!rc && s->ti && s->ti->add_counter) {
        for (int p = 0; p < NPART; p++)
            after += s->part[p].bytes;
        if (after > before)
            s->ti->add_counter(s->ti->ctx, "spill_bytes", after - before);
    }
    free(sel);
    agg_cols_free(cols, ncols, names);
    return rc;
}

int agg_spill_rewind(agg *s, int p, ember_error *err)
{
    rel_spill *f = &s->part[p];
    uint32_t end = END_MAGIC;
    int rc = 0;
    if (!f->finished) { /* the end of the runs: no more spills now */
        rc = rel_spill_write(f, &end, 4, err);
        if (!rc)
            rc = rel_spill_finish(f, err);
    }
    return rc ? rc : rel_spill_rewind(f, err);
}

int agg_spill_read(agg *s, int p, agg_run *r, ember_error *err)
{
    return read_run(&s->part[p], r, err);
}

void agg_spill_close(agg *s)
{
    for (int p = 0; p < NPART; p++)
        rel_spill_close(&s->part[p]);
}
