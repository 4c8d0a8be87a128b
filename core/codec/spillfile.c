/*
 * spillfile.c -- spill files, plain or sealed (see spillfile.h).
 *
 * Owns the spill-file format of docs/formats.md.  A handle goes through
 * three states: writing (from create to finish: a descriptor open for
 * writing and one chunk buffer), finished (no descriptor, no buffer), and
 * reading (after rewind: a descriptor open for reading, the chunk buffer
 * and, sealed, a ciphertext buffer).  So an operator that keeps many
 * finished runs (an external sort) holds no descriptor for them, and one
 * that reads many at once (its merge) holds two buffers per run.
 *
 * Writing fills the chunk buffer and writes it out whenever it is full:
 * sealed, as one secretstream message (TAG_MESSAGE), plain, as it is (a
 * plain write of a whole chunk or more with an empty buffer goes to the
 * file directly).  finish writes what is left; sealed, always as a last
 * message tagged TAG_FINAL, empty if need be, so the end of the stream is
 * authenticated.  Reading refills the buffer a chunk at a time: sealed,
 * every chunk but the last is exactly SPILLFILE_CHUNK + ABYTES bytes on
 * disk; a chunk that fails crypto_secretstream_xchacha20poly1305_pull, a
 * file that ends before its FINAL chunk, and bytes after it are
 * EMBER_ECORRUPT.
 *
 * Threads: a handle belongs to one thread at a time; the only shared
 * state is libsodium's, initialised once (pthread_once).
 */
#include "codec/spillfile.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES

enum { S_WRITING, S_FINISHED, S_READING };

struct ember_spill {
    char *path;
    int fd;
    int state;
    int sealed;
    int keep; /* tests: leave the file on disk at close */
    uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t *buf;     /* SPILLFILE_CHUNK bytes of plaintext */
    size_t len, pos;  /* bytes in buf; reading: the next one */
    uint8_t *ct;      /* sealed: SPILLFILE_CHUNK + ABYTES bytes */
    int final_seen;   /* reading, sealed: the FINAL chunk was read */
    int64_t chunk_no; /* reading: chunks read, for messages */
    int64_t disk;     /* bytes written to the file */
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_start(void)
{
    sodium_ok = sodium_init() >= 0;
}

/* ---------------------------------------------------------------- I/O */

static int write_all(spillfile *f, const void *p, size_t n, ember_error *err)
{
    const uint8_t *s = p;
    while (n > 0) {
        ssize_t k = write(f->fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return ember_seterr(err, EMBER_EIO,
                                "cannot write spill file %s: %s", f->path,
                                k < 0 ? strerror(errno) : "no progress");
        s += k;
        n -= (size_t)k;
        f->disk += k;
    }
    return 0;
}

/* Read up to n bytes, stopping early only at the end of the file: the
 * count, or -1 with errno set. */
static ssize_t read_full(int fd, void *p, size_t n)
{
    uint8_t *d = p;
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, d + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static int read_error(const spillfile *f, ember_error *err)
{
    return ember_seterr(err, EMBER_EIO, "cannot read spill file %s: %s",
                        f->path, strerror(errno));
}

/* Write the buffer out: one secretstream message with tag, or plain. */
static int flush(spillfile *f, unsigned char tag, ember_error *err)
{
    unsigned long long clen = 0;
    size_t n = f->len;
    f->len = 0;
    if (!f->sealed)
        return n ? write_all(f, f->buf, n, err) : 0;
    crypto_secretstream_xchacha20poly1305_push(&f->st, f->ct, &clen, f->buf, n,
                                               NULL, 0, tag);
    return write_all(f, f->ct, (size_t)clen, err);
}

static void free_buffers(spillfile *f)
{
    if (f->buf)
        sodium_memzero(f->buf, SPILLFILE_CHUNK);
    free(f->buf);
    free(f->ct);
    f->buf = f->ct = NULL;
    f->len = f->pos = 0;
}

static int alloc_buffers(spillfile *f, ember_error *err)
{
    f->buf = malloc(SPILLFILE_CHUNK);
    f->ct = f->sealed ? malloc(SPILLFILE_CHUNK + ABYTES) : NULL;
    if (!f->buf || (f->sealed && !f->ct)) {
        free_buffers(f);
        return ember_seterr(err, EMBER_ENOMEM,
                            "out of memory for a spill file's buffers");
    }
    f->len = f->pos = 0;
    return 0;
}

/* ------------------------------------------------------------- writing */

int spillfile_create(const char *dir, const uint8_t *key, spillfile **out,
                     ember_error *err)
{
    spillfile *f;
    size_t plen = strlen(dir) + 40;
    const char *keep = getenv("EMBER_TEST_KEEP_SPILLS");
    int rc;
    *out = NULL;
    pthread_once(&sodium_once, sodium_start);
    if (!sodium_ok)
        return ember_seterr(err, EMBER_EIO, "cannot initialise libsodium");
    f = calloc(1, sizeof *f);
    if (!f || !(f->path = malloc(plen))) {
        free(f);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    f->fd = -1;
    f->keep = keep && *keep;
    f->sealed = key != NULL;
    if (key)
        memcpy(f->key, key, sizeof f->key);
    /* a fresh random name, created exclusively: nothing planted there can
       receive the data */
    for (int tries = 0; f->fd < 0 && tries < 8; tries++) {
        uint8_t r[8];
        randombytes_buf(r, sizeof r);
        snprintf(f->path, plen,
                 "%s/ember-spill-%02x%02x%02x%02x%02x%02x%02x%02x", dir, r[0],
                 r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        f->fd =
            open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0600);
        if (f->fd < 0 && errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        int e = errno;
        ember_seterr(err, EMBER_EIO, "cannot create a spill file in %s: %s",
                     dir, strerror(e));
        free(f->path);
        free(f);
        return EMBER_EIO;
    }
    f->state = S_WRITING;
    rc = alloc_buffers(f, err);
    if (rc == 0 && f->sealed) {
        uint8_t h[HEADERBYTES];
        crypto_secretstream_xchacha20poly1305_init_push(&f->st, h, f->key);
        rc = write_all(f, h, sizeof h, err);
    }
    if (rc) {
        spillfile_close(&f);
        return rc;
    }
    *out = f;
    return 0;
}

int spillfile_write(spillfile *f, const void *p, size_t n, ember_error *err)
{
    const uint8_t *s = p;
    if (f->state != S_WRITING)
        return ember_seterr(err, EMBER_EINVAL,
                            "spill file %s: write after finish", f->path);
    while (n > 0) {
        size_t k;
        if (!f->sealed && f->len == 0 && n >= SPILLFILE_CHUNK)
            return write_all(f, s, n, err);
        k = SPILLFILE_CHUNK - f->len;
        if (k > n)
            k = n;
        memcpy(f->buf + f->len, s, k);
        f->len += k;
        s += k;
        n -= k;
        if (f->len == SPILLFILE_CHUNK) {
            int rc = flush(f, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                           err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int spillfile_finish(spillfile *f, ember_error *err)
{
    int rc;
    if (f->state != S_WRITING)
        return ember_seterr(err, EMBER_EINVAL,
                            "spill file %s: finished already", f->path);
    rc = flush(f, crypto_secretstream_xchacha20poly1305_TAG_FINAL, err);
    if (close(f->fd) != 0 && rc == 0)
        rc = ember_seterr(err, EMBER_EIO, "cannot write spill file %s: %s",
                          f->path, strerror(errno));
    f->fd = -1;
    free_buffers(f);
    f->state = S_FINISHED;
    return rc;
}

/* ------------------------------------------------------------- reading */

int spillfile_rewind(spillfile *f, ember_error *err)
{
    int rc;
    if (f->state == S_WRITING)
        return ember_seterr(err, EMBER_EINVAL,
                            "spill file %s: read before finish", f->path);
    if (f->fd >= 0)
        close(f->fd);
    free_buffers(f);
    f->state = S_FINISHED;
    f->fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f->fd < 0)
        return ember_seterr(err, EMBER_EIO, "cannot open spill file %s: %s",
                            f->path, strerror(errno));
    if ((rc = alloc_buffers(f, err)))
        return rc;
    f->final_seen = 0;
    f->chunk_no = 0;
    if (f->sealed) {
        uint8_t h[HEADERBYTES];
        ssize_t k = read_full(f->fd, h, sizeof h);
        if (k < 0)
            return read_error(f, err);
        if ((size_t)k < sizeof h ||
            crypto_secretstream_xchacha20poly1305_init_pull(&f->st, h,
                                                            f->key) != 0)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "spill file %s: no stream header (%zd of %d "
                                "bytes)",
                                f->path, k, (int)HEADERBYTES);
    }
    f->state = S_READING;
    return 0;
}

/* Refill the buffer with the next chunk (n: bytes still wanted, for the
 * message). */
static int fill(spillfile *f, size_t n, ember_error *err)
{
    ssize_t k;
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    f->len = f->pos = 0;
    if (!f->sealed) {
        if ((k = read_full(f->fd, f->buf, SPILLFILE_CHUNK)) < 0)
            return read_error(f, err);
        if (k == 0)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "spill file %s ends early (%zu more bytes "
                                "wanted)",
                                f->path, n);
        f->len = (size_t)k;
        return 0;
    }
    if (f->final_seen)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "spill file %s ends early (%zu more bytes wanted "
                            "after its final chunk)",
                            f->path, n);
    if ((k = read_full(f->fd, f->ct, SPILLFILE_CHUNK + ABYTES)) < 0)
        return read_error(f, err);
    f->chunk_no++;
    if (k == 0)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "spill file %s is truncated: it ends before its "
                            "final chunk",
                            f->path);
    if ((size_t)k < ABYTES || crypto_secretstream_xchacha20poly1305_pull(
                                  &f->st, f->buf, &mlen, &tag, f->ct,
                                  (unsigned long long)k, NULL, 0) != 0)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "spill file %s: chunk %lld fails authentication "
                            "(altered, reordered or cut)",
                            f->path, (long long)f->chunk_no);
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        uint8_t extra;
        f->final_seen = 1;
        if ((k = read_full(f->fd, &extra, 1)) != 0)
            return k < 0 ? read_error(f, err)
                         : ember_seterr(err, EMBER_ECORRUPT,
                                        "spill file %s: data after its final "
                                        "chunk",
                                        f->path);
    } else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE ||
               mlen != SPILLFILE_CHUNK) {
        return ember_seterr(err, EMBER_ECORRUPT,
                            "spill file %s: chunk %lld is malformed", f->path,
                            (long long)f->chunk_no);
    }
    f->len = (size_t)mlen;
    return 0;
}

int spillfile_read(spillfile *f, void *p, size_t n, ember_error *err)
{
    uint8_t *d = p;
    if (f->state != S_READING)
        return ember_seterr(err, EMBER_EINVAL,
                            "spill file %s: read without rewind", f->path);
    while (n > 0) {
        size_t k = f->len - f->pos;
        if (k == 0) {
            int rc;
            if (!f->sealed && n >= SPILLFILE_CHUNK) {
                ssize_t got = read_full(f->fd, d, n);
                if (got < 0)
                    return read_error(f, err);
                if ((size_t)got < n)
                    return ember_seterr(err, EMBER_ECORRUPT,
                                        "spill file %s ends early (%zu more "
                                        "bytes wanted)",
                                        f->path, n - (size_t)got);
                return 0;
            }
            if ((rc = fill(f, n, err)))
                return rc;
            continue;
        }
        if (k > n)
            k = n;
        memcpy(d, f->buf + f->pos, k);
        f->pos += k;
        d += k;
        n -= k;
    }
    return 0;
}

/* --------------------------------------------------------------- close */

void spillfile_close(spillfile **fp)
{
    spillfile *f;
    if (!fp || !*fp)
        return;
    f = *fp;
    *fp = NULL;
    if (f->fd >= 0)
        close(f->fd);
    if (!f->keep)
        unlink(f->path);
    free_buffers(f);
    sodium_memzero(&f->st, sizeof f->st);
    sodium_memzero(f->key, sizeof f->key);
    free(f->path);
    free(f);
}

void spillfile_task_info(ember_task_info *ti,
                         int (*create)(void *ctx, ember_spill **out,
                                       ember_error *err))
{
    ti->spill_create = create;
    ti->spill_write = spillfile_write;
    ti->spill_finish = spillfile_finish;
    ti->spill_rewind = spillfile_rewind;
    ti->spill_read = spillfile_read;
    ti->spill_close = spillfile_close;
}

const char *spillfile_path(const spillfile *f)
{
    return f->path;
}

int64_t spillfile_disk_bytes(const spillfile *f)
{
    return f->disk;
}
