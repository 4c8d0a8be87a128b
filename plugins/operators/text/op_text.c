/*
 * op_text.c -- the "op_text" plugin: plain-text files.
 *
 *   text.scan   source: lines of text files, split by byte range
 *   text.write  sink:   one line per value into <dir>/part-NNNNN
 *
 * Splitting: a split [offset, offset+length) owns the lines whose first byte
 * lies inside it; a split that does not start at 0 skips the partial line it
 * starts in, and the last line of a split may run past its end.  Lines end
 * at '\n'; a trailing '\r' is dropped (like Hadoop's LineReader).
 *
 * Writing: a task writes <dir>/.part-NNNNN.<attempt>.tmp and renames it to
 * <dir>/part-NNNNN in finish(), so a failed attempt leaves no part file
 * behind (the driver writes _SUCCESS when the job succeeds).
 *
 * State: only the host-table pointer; instances belong to one task thread.
 */
#include <ember/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const ember_host *H;

#define BATCH_ROWS 4096

/* ------------------------------------------------------------- text.scan */

static const ember_param_desc scan_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "file, directory or glob to read"},
    {"max_partition_bytes", EMBER_PARAM_INT, "134217728",
     "largest split, in bytes"},
};

static int add_file_splits(ember_split_list *out, const char *path,
                           int64_t size, int64_t split_size)
{
    int64_t off = 0;
    while (off < size) {
        int64_t len = size - off;
        /* like Hadoop's SPLIT_SLOP: keep a short tail with the last split */
        if ((double)len > (double)split_size * 1.1)
            len = split_size;
        int rc = H->split_add(out, path, off, len);
        if (rc)
            return rc;
        off += len;
    }
    return 0;
}

static int hidden(const char *name)
{
    return name[0] == '.' || name[0] == '_';
}

typedef struct flist {
    char **paths;
    int64_t *sizes;
    int n;
} flist;

static int flist_add(flist *f, const char *p, int64_t size)
{
    char **np = realloc(f->paths, (size_t)(f->n + 1) * sizeof *np);
    int64_t *ns;
    if (!np)
        return EMBER_ENOMEM;
    f->paths = np;
    ns = realloc(f->sizes, (size_t)(f->n + 1) * sizeof *ns);
    if (!ns)
        return EMBER_ENOMEM;
    f->sizes = ns;
    if (!(f->paths[f->n] = strdup(p)))
        return EMBER_ENOMEM;
    f->sizes[f->n++] = size;
    return 0;
}

static void flist_free(flist *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->sizes);
}

static int cmp_idx_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_plan(const ember_host *h, const ember_params *p,
                     int min_partitions, ember_split_list *out,
                     ember_error *err)
{
    const char *pattern = h->param_str(p, "path");
    int64_t maxb = h->param_int(p, "max_partition_bytes");
    glob_t g;
    flist f = {0};
    int64_t total = 0, split_size;
    int rc = 0;

    memset(&g, 0, sizeof g);
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        h->seterr(err, EMBER_ENOTFOUND, "input path does not exist: %s",
                  pattern);
        return EMBER_ENOTFOUND;
    }
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            rc = flist_add(&f, g.gl_pathv[i], (int64_t)st.st_size);
        } else if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(g.gl_pathv[i]);
            struct dirent *e;
            int first = f.n;
            if (!d) {
                h->seterr(err, EMBER_EIO, "cannot read directory %s: %s",
                          g.gl_pathv[i], strerror(errno));
                rc = EMBER_EIO;
                break;
            }
            while ((e = readdir(d)) && !rc) {
                char sub[PATH_MAX];
                struct stat s2;
                if (hidden(e->d_name))
                    continue;
                snprintf(sub, sizeof sub, "%s/%s", g.gl_pathv[i], e->d_name);
                if (stat(sub, &s2) == 0 && S_ISREG(s2.st_mode))
                    rc = flist_add(&f, sub, (int64_t)s2.st_size);
            }
            closedir(d);
            /* directory entries come in no order: sort them (sizes too) */
            for (int a = first; a < f.n; a++)
                for (int b = a + 1; b < f.n; b++)
                    if (cmp_idx_paths(&f.paths[b], &f.paths[a]) < 0) {
                        char *tp = f.paths[a];
                        int64_t ts = f.sizes[a];
                        f.paths[a] = f.paths[b];
                        f.sizes[a] = f.sizes[b];
                        f.paths[b] = tp;
                        f.sizes[b] = ts;
                    }
        }
    }
    globfree(&g);
    if (rc) {
        if (rc == EMBER_ENOMEM)
            h->seterr(err, rc, "out of memory");
        flist_free(&f);
        return rc;
    }
    if (f.n == 0) {
        flist_free(&f);
        h->seterr(err, EMBER_ENOTFOUND, "input path has no files: %s", pattern);
        return EMBER_ENOTFOUND;
    }
    for (int i = 0; i < f.n; i++)
        total += f.sizes[i];
    if (min_partitions < 1)
        min_partitions = 1;
    split_size = (total + min_partitions - 1) / min_partitions;
    if (maxb > 0 && split_size > maxb)
        split_size = maxb;
    if (split_size < 1)
        split_size = 1;
    for (int i = 0; i < f.n && !rc; i++)
        rc = add_file_splits(out, f.paths[i], f.sizes[i], split_size);
    if (!rc && total == 0)
        rc = h->split_add(out, f.paths[0], 0, 0); /* one empty partition */
    flist_free(&f);
    if (rc)
        h->seterr(err, rc, "out of memory");
    return rc;
}

typedef struct scan {
    FILE *f;
    char *path;
    int64_t start, end;
    ember_batch *batch;
} scan;

static int scan_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    scan *s = calloc(1, sizeof *s);
    (void)p;
    if (!s)
        goto oom;
    s->path = strdup(ti->split.path ? ti->split.path : "");
    if (!s->path)
        goto oom;
    s->start = ti->split.offset;
    s->end = ti->split.offset + ti->split.length;
    s->f = fopen(s->path, "rb");
    if (!s->f) {
        h->seterr(err, EMBER_EIO, "cannot open %s: %s", s->path,
                  strerror(errno));
        free(s->path);
        free(s);
        return EMBER_EIO;
    }
    s->batch = h->batch_new();
    if (!s->batch ||
        h->batch_add_column(s->batch, "value", EMBER_TYPE_STRING) < 0) {
        fclose(s->f);
        h->batch_free(&s->batch);
        free(s->path);
        free(s);
        goto oom;
    }
    *state = s;
    return 0;
oom:
    if (s)
        free(s->path);
    free(s);
    h->seterr(err, EMBER_ENOMEM, "out of memory");
    return EMBER_ENOMEM;
}

static int flush_batch(scan *s, ember_emit_fn emit, void *ud)
{
    int rc = 0;
    if (H->batch_num_rows(s->batch) > 0)
        rc = emit(ud, s->batch);
    H->batch_clear(s->batch);
    return rc;
}

static int scan_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    scan *s = state;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t pos = s->start;
    int rc = 0;

    if (s->end <= s->start)
        return 0;
    if (s->start > 0) {
        /* skip the line we start inside of (or the one ending at start-1) */
        if (fseeko(s->f, (off_t)(s->start - 1), SEEK_SET) != 0)
            goto ioerr;
        n = getline(&line, &cap, s->f);
        if (n < 0)
            goto done;
        pos = s->start - 1 + n;
    } else if (fseeko(s->f, 0, SEEK_SET) != 0) {
        goto ioerr;
    }
    while (pos < s->end) {
        n = getline(&line, &cap, s->f);
        if (n < 0)
            break;
        pos += n;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if ((rc = H->batch_append_str(s->batch, 0, line, len)) != 0) {
            H->seterr(err, rc, "out of memory");
            goto done;
        }
        if (H->batch_num_rows(s->batch) >= BATCH_ROWS &&
            (rc = flush_batch(s, emit, ud)) != 0)
            goto done;
    }
    if (ferror(s->f))
        goto ioerr;
    rc = flush_batch(s, emit, ud);
done:
    free(line);
    return rc == EMBER_ESTOP ? 0 : rc;
ioerr:
    free(line);
    H->seterr(err, EMBER_EIO, "error reading %s: %s", s->path, strerror(errno));
    return EMBER_EIO;
}

static void scan_close(void *state)
{
    scan *s = state;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    H->batch_free(&s->batch);
    free(s->path);
    free(s);
}

/* ------------------------------------------------------------ text.write */

static const ember_param_desc write_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "output directory (must exist)"},
};

typedef struct writer {
    FILE *f;
    char tmp[PATH_MAX];
    char final[PATH_MAX];
} writer;

static int write_open(const ember_host *h, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    const char *dir = h->param_str(p, "path");
    writer *w = calloc(1, sizeof *w);
    if (!w) {
        h->seterr(err, EMBER_ENOMEM, "out of memory");
        return EMBER_ENOMEM;
    }
    snprintf(w->final, sizeof w->final, "%s/part-%05d", dir, ti->partition);
    snprintf(w->tmp, sizeof w->tmp, "%s/.part-%05d.%d.%ld.tmp", dir,
             ti->partition, ti->attempt, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        h->seterr(err, EMBER_EIO, "cannot create %s: %s", w->tmp,
                  strerror(errno));
        free(w);
        return EMBER_EIO;
    }
    *state = w;
    return 0;
}

static int write_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    writer *w = state;
    ember_column c;
    (void)emit;
    (void)ud;
    if (H->batch_column(in, 0, &c) != 0 ||
        (c.type != EMBER_TYPE_STRING && c.type != EMBER_TYPE_BINARY)) {
        H->seterr(err, EMBER_EINVAL, "text.write wants a string column");
        return EMBER_EINVAL;
    }
    for (int64_t i = 0; i < c.length; i++) {
        const char *d = (const char *)c.data + c.offsets[i];
        size_t len = (size_t)(c.offsets[i + 1] - c.offsets[i]);
        if (c.validity && !(c.validity[i / 8] & (1u << (i % 8)))) {
            d = "null";
            len = 4;
        }
        if (fwrite(d, 1, len, w->f) != len || fputc('\n', w->f) == EOF) {
            H->seterr(err, EMBER_EIO, "cannot write %s: %s", w->tmp,
                      strerror(errno));
            return EMBER_EIO;
        }
    }
    return 0;
}

static int write_finish(void *state, ember_emit_fn emit, void *ud,
                        ember_error *err)
{
    writer *w = state;
    int rc = fclose(w->f);
    (void)emit;
    (void)ud;
    w->f = NULL;
    if (rc != 0 || rename(w->tmp, w->final) != 0) {
        H->seterr(err, EMBER_EIO, "cannot commit %s: %s", w->final,
                  strerror(errno));
        unlink(w->tmp);
        return EMBER_EIO;
    }
    w->tmp[0] = '\0';
    return 0;
}

static void write_close(void *state)
{
    writer *w = state;
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp[0])
        unlink(w->tmp);
    free(w);
}

/* ---------------------------------------------------------------- plugin */

static const ember_op_desc ops[] = {
    {sizeof(ember_op_desc), "text.scan", "lines of text files", EMBER_OP_SOURCE,
     scan_params, sizeof scan_params / sizeof scan_params[0], scan_plan,
     scan_open, scan_run, NULL, NULL, scan_close, NULL},
    {sizeof(ember_op_desc), "text.write", "write strings as lines",
     EMBER_OP_SINK, write_params, sizeof write_params / sizeof write_params[0],
     NULL, write_open, NULL, write_push, write_finish, write_close, NULL},
};

static int text_init(const ember_host *host, ember_registry *reg,
                     ember_error *err)
{
    H = host;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int rc = host->register_op(reg, &ops[i]);
        if (rc) {
            host->seterr(err, rc, "cannot register %s", ops[i].name);
            return rc;
        }
    }
    return 0;
}

EMBER_PLUGIN_DEFINE("op_text", "0.1.0", text_init, NULL)
