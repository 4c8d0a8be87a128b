/*
 * rel_spill.c -- spill files of rel.hash_agg (agg_spill.c) and rel.sort
 * (sort.c): one small interface over the host's spill files and our own
 * (see rel.h).
 *
 * The host's (ember_task_info.spill_*, plugin ABI 1.3) are private files
 * that the host encrypts and authenticates when the application asks for
 * io.encryption.enabled, so spilled rows are never plaintext on disk then;
 * they are used whenever the host offers them.  Otherwise (a host that
 * leaves them NULL) a file of our own: mkstemp in local_dir (mode 0600,
 * O_EXCL), written with stdio, closed when finished and opened again for
 * reading, unlinked when closed.  Either way the operator writes whole
 * column buffers, and the bytes go to disk in large buffered pieces.
 *
 * Threads: a rel_spill belongs to one task thread; no globals but rel_host.
 */
#include "rel.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int rel_spill_hosted(const ember_task_info *ti)
{
    return ti &&
           ti->struct_size >= offsetof(ember_task_info, spill_close) +
                                  sizeof ti->spill_close &&
           ti->spill_create && ti->spill_write && ti->spill_finish &&
           ti->spill_rewind && ti->spill_read && ti->spill_close;
}

/* The host's error rc, its message prefixed with the operator's name. */
static int hosted_error(const rel_spill *s, int rc, ember_error *err)
{
    if (err) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg[0] ? err->msg : "");
        rel_host->seterr(err, rc, "%s: %s", s->op,
                         m[0] ? m : rel_host->strerror(rc));
    }
    return rc;
}

static int own_error(const rel_spill *s, int rc, const char *what,
                     ember_error *err)
{
    rel_host->seterr(err, rc, "%s: cannot %s spill file %s: %s", s->op, what,
                     s->path ? s->path : "", strerror(errno));
    return rc;
}

int rel_spill_create(rel_spill *s, const ember_task_info *ti, const char *dir,
                     const char *op, ember_error *err)
{
    int fd;
    size_t len;
    memset(s, 0, sizeof *s);
    s->op = op;
    if (rel_spill_hosted(ti)) {
        int rc;
        s->ti = ti;
        if (err)
            err->msg[0] = '\0';
        if ((rc = ti->spill_create(ti->ctx, &s->h, err)) != 0) {
            s->h = NULL;
            return hosted_error(s, rc, err);
        }
        return 0;
    }
    len = strlen(dir) + 32;
    if (!(s->path = malloc(len))) {
        rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", op);
        return EMBER_ENOMEM;
    }
    snprintf(s->path, len, "%s/ember-spill-XXXXXX", dir);
    fd = mkstemp(s->path);
    if (fd < 0) {
        rel_host->seterr(err, EMBER_EIO,
                         "%s: cannot create a spill file in "
                         "%s: %s",
                         op, dir, strerror(errno));
        free(s->path);
        s->path = NULL;
        return EMBER_EIO;
    }
    if (!(s->f = fdopen(fd, "wb"))) {
        own_error(s, EMBER_EIO, "open", err);
        close(fd);
        rel_spill_close(s);
        return EMBER_EIO;
    }
    return 0;
}

int rel_spill_write(rel_spill *s, const void *p, size_t n, ember_error *err)
{
    int rc;
    if (n == 0)
        return 0;
    s->bytes += (int64_t)n;
    if (s->h) {
        if ((rc = s->ti->spill_write(s->h, p, n, err)) != 0)
            return hosted_error(s, rc, err);
        return 0;
    }
    if (fwrite(p, 1, n, s->f) != n)
        return own_error(s, EMBER_EIO, "write", err);
    return 0;
}

int rel_spill_finish(rel_spill *s, ember_error *err)
{
    int rc;
    s->finished = 1;
    if (s->h) {
        if ((rc = s->ti->spill_finish(s->h, err)) != 0)
            return hosted_error(s, rc, err);
        return 0;
    }
    rc = fclose(s->f);
    s->f = NULL;
    return rc == 0 ? 0 : own_error(s, EMBER_EIO, "write", err);
}

int rel_spill_rewind(rel_spill *s, ember_error *err)
{
    int rc;
    if (s->h) {
        if ((rc = s->ti->spill_rewind(s->h, err)) != 0)
            return hosted_error(s, rc, err);
        return 0;
    }
    if (s->f)
        fclose(s->f);
    if (!(s->f = fopen(s->path, "rb")))
        return own_error(s, EMBER_EIO, "open", err);
    return 0;
}

int rel_spill_read(rel_spill *s, void *p, size_t n, ember_error *err)
{
    int rc;
    if (n == 0)
        return 0;
    if (s->h) {
        if ((rc = s->ti->spill_read(s->h, p, n, err)) != 0)
            return hosted_error(s, rc, err);
        return 0;
    }
    if (fread(p, 1, n, s->f) != n) {
        if (ferror(s->f))
            return own_error(s, EMBER_EIO, "read", err);
        rel_host->seterr(err, EMBER_ECORRUPT, "%s: spill file %s ends early",
                         s->op, s->path);
        return EMBER_ECORRUPT;
    }
    return 0;
}

void rel_spill_close(rel_spill *s)
{
    if (s->h)
        s->ti->spill_close(&s->h);
    if (s->f)
        fclose(s->f);
    if (s->path) {
        unlink(s->path);
        free(s->path);
    }
    memset(s, 0, sizeof *s);
}
