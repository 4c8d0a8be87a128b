/*
 * test_spillfile.c -- operators' spill files (core/codec/spillfile.c),
 * without a key and with one: round trips over several chunks with writes
 * and reads of assorted sizes, the file on disk (mode 0600, plaintext or
 * not, its size), reading past the end, re-reading, misuse, and, sealed,
 * every way to alter the file -- a changed byte, a dropped, reordered or
 * foreign chunk, a file cut at or inside a chunk, bytes after the end --
 * refused with EMBER_ECORRUPT.  Also the test hook that keeps files and
 * the ember_task_info glue.
 */
#include "codec/spillfile.h"
#include "tap/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTESTS 68

#define CH SPILLFILE_CHUNK
#define SS_ABYTES 17 /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define SS_HEADER 24 /* ..._HEADERBYTES */
#define TOTAL (3 * CH + 12345) /* four chunks, the last one partial */

static const uint8_t key1[32] = "spill-file test key number one.";
static const uint8_t key2[32] = "spill-file test key number two.";
static char dir[64];

/* Text with a findable marker every 1000 bytes. */
static uint8_t *make_data(size_t n)
{
    uint8_t *p = malloc(n);
    if (!p)
        bail("out of memory");
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)('a' + (i * 7 + i / 13) % 26);
    for (size_t i = 0; i + 16 <= n; i += 1000)
        memcpy(p + i, "PLAINTEXTMARKER!", 16);
    return p;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long len;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)len + 1);
    if (fread(p, 1, (size_t)len, f) != (size_t)len)
        len = 0;
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spew(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        bail("cannot rewrite %s", path);
}

static int contains(const uint8_t *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(h + i, needle, nn) == 0)
            return 1;
    return 0;
}

/* Write data in pieces of 1, 100 KiB, 3, 5000, ... bytes. */
static int write_pieces(spillfile *f, const uint8_t *data, size_t n)
{
    static const size_t sizes[] = {1, 100 * 1024, 3, 5000, CH, 17, 2 * CH};
    ember_error err = {0, ""};
    size_t off = 0;
    for (int i = 0; off < n; i++) {
        size_t k = sizes[i % 7];
        if (k > n - off)
            k = n - off;
        if (spillfile_write(f, data + off, k, &err))
            return -1;
        off += k;
    }
    return 0;
}

/* Read it back in other pieces; 0 if it equals data. */
static int read_pieces(spillfile *f, const uint8_t *data, size_t n,
                       ember_error *err)
{
    static const size_t sizes[] = {7, CH + 1, 1, 3 * CH, 999, 4};
    uint8_t *back = malloc(n);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; off < n && !rc; i++) {
        size_t k = sizes[i % 6];
        if (k > n - off)
            k = n - off;
        rc = spillfile_read(f, back + off, k, err);
        off += k;
    }
    if (!rc && memcmp(back, data, n) != 0)
        rc = 1;
    free(back);
    return rc;
}

static void roundtrip(const char *name, const uint8_t *key)
{
    uint8_t *data = make_data(TOTAL);
    spillfile *f = NULL;
    ember_error err = {0, ""};
    struct stat st;
    uint8_t *disk;
    size_t dn = 0;
    char path[256];
    uint8_t one;

    is_int(0, spillfile_create(dir, key, &f, &err), "%s: create", name);
    if (!f)
        bail("create: %s", err.msg);
    snprintf(path, sizeof path, "%s", spillfile_path(f));
    ok(strncmp(path, dir, strlen(dir)) == 0 && strstr(path, "ember-spill-"),
       "%s: a random name in the directory (%s)", name, path + strlen(dir));
    memset(&st, 0, sizeof st);
    stat(path, &st);
    ok((st.st_mode & 0777) == 0600, "%s: mode 0600 (%o)", name,
       (unsigned)(st.st_mode & 0777));
    is_int(0, write_pieces(f, data, TOTAL), "%s: writes of assorted sizes",
           name);
    is_int(0, spillfile_finish(f, &err), "%s: finish", name);
    is_int(EMBER_EINVAL, spillfile_write(f, "x", 1, &err),
           "%s: write after finish refused", name);
    disk = slurp(path, &dn);
    if (key) {
        is_int(SS_HEADER + TOTAL + 4 * SS_ABYTES, (long long)dn,
               "%s: on disk header + 4 chunks with their tags", name);
        ok(!contains(disk, dn, "PLAINTEXTMARKER"),
           "%s: the plaintext marker is not on disk", name);
    } else {
        is_int(TOTAL, (long long)dn, "%s: on disk exactly what was written",
               name);
        ok(disk && memcmp(disk, data, TOTAL) == 0, "%s: the bytes as written",
           name);
    }
    is_int((long long)dn, spillfile_disk_bytes(f), "%s: disk bytes counted",
           name);
    free(disk);

    is_int(0, spillfile_rewind(f, &err), "%s: rewind", name);
    is_int(0, read_pieces(f, data, TOTAL, &err),
           "%s: reads of other sizes give the bytes back%s%s", name,
           err.msg[0] ? ": " : "", err.msg);
    err.msg[0] = '\0';
    is_int(EMBER_ECORRUPT, spillfile_read(f, &one, 1, &err),
           "%s: reading past the end refused", name);
    like(err.msg, "ends early", "%s: %s", name, err.msg);
    is_int(0, spillfile_rewind(f, &err), "%s: rewind again", name);
    is_int(0, read_pieces(f, data, TOTAL, &err), "%s: and read it again", name);
    spillfile_close(&f);
    ok(f == NULL && access(path, F_OK) != 0, "%s: close removes the file",
       name);
    spillfile_close(&f); /* NULL is fine */
    free(data);
}

/* A finished sealed file of TOTAL bytes; its path in path. */
static spillfile *sealed_file(const uint8_t *key, const uint8_t *data,
                              char *path)
{
    spillfile *f = NULL;
    ember_error err = {0, ""};
    if (spillfile_create(dir, key, &f, &err) || write_pieces(f, data, TOTAL) ||
        spillfile_finish(f, &err))
        bail("sealed file: %s", err.msg);
    strcpy(path, spillfile_path(f));
    return f;
}

/* Rewind and read everything: the error, 0 if it all came back. */
static int read_all(spillfile *f, const uint8_t *data, ember_error *err)
{
    int rc = spillfile_rewind(f, err);
    return rc ? rc : read_pieces(f, data, TOTAL, err);
}

static void tampering(void)
{
    uint8_t *data = make_data(TOTAL);
    ember_error err = {0, ""};
    char path[256], path2[256];
    spillfile *f = sealed_file(key1, data, path);
    spillfile *g;
    size_t n, n2, chunk = CH + SS_ABYTES;
    uint8_t *orig = slurp(path, &n), *copy = malloc(n + 16), *other;
    int all = 1;

    /* one flipped byte anywhere: header, any chunk, any tag */
    for (size_t at = 0; at < n; at += n / 97 + 1) {
        memcpy(copy, orig, n);
        copy[at] ^= 0x20;
        spew(path, copy, n);
        err.msg[0] = '\0';
        if (read_all(f, data, &err) != EMBER_ECORRUPT || !err.msg[0]) {
            diag("flip at %zu: %s", at, err.msg);
            all = 0;
        }
    }
    ok(all, "a flipped byte anywhere in the file is refused");
    memcpy(copy, orig, n);
    copy[SS_HEADER + chunk + 100] ^= 1;
    spew(path, copy, n);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err),
           "a flip in chunk 2 refused");
    like(err.msg, "chunk 2 fails authentication", "... %s", err.msg);

    /* chunks 2 and 3 swapped */
    memcpy(copy, orig, n);
    memcpy(copy + SS_HEADER + chunk, orig + SS_HEADER + 2 * chunk, chunk);
    memcpy(copy + SS_HEADER + 2 * chunk, orig + SS_HEADER + chunk, chunk);
    spew(path, copy, n);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err), "reordered chunks refused");
    /* a chunk dropped */
    memcpy(copy, orig, SS_HEADER + chunk);
    memcpy(copy + SS_HEADER + chunk, orig + SS_HEADER + 2 * chunk,
           n - SS_HEADER - 2 * chunk);
    spew(path, copy, n - chunk);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err), "a dropped chunk refused");
    /* cut after a whole chunk: no FINAL tag */
    spew(path, orig, SS_HEADER + 3 * chunk);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err),
           "a file cut at a chunk boundary refused");
    like(err.msg, "truncated", "... %s", err.msg);
    /* cut inside the last chunk */
    spew(path, orig, n - 5);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err),
           "a file cut inside its last chunk refused");
    /* cut inside the header */
    spew(path, orig, 10);
    is_int(EMBER_ECORRUPT, spillfile_rewind(f, &err),
           "a file cut inside its header refused at rewind");
    like(err.msg, "no stream header", "... %s", err.msg);
    /* bytes after the final chunk */
    memcpy(copy, orig, n);
    memcpy(copy + n, "appended garbage", 16);
    spew(path, copy, n + 16);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err),
           "bytes after the final chunk refused");
    /* the short final chunk is read with what follows it */
    like(err.msg, "chunk 4 fails authentication", "... %s", err.msg);

    /* another file sealed with another key, in its place */
    g = sealed_file(key2, data, path2);
    other = slurp(path2, &n2);
    spew(path, other, n2);
    is_int(EMBER_ECORRUPT, read_all(f, data, &err),
           "a file sealed with another key refused");
    like(err.msg, "fails authentication", "... %s", err.msg);
    /* and one sealed with the same key is another stream: its own header
       makes it readable, which is why the files live in a private dir */
    spillfile_close(&g);
    free(other);

    /* the original again reads fine */
    spew(path, orig, n);
    is_int(0, read_all(f, data, &err), "the untouched file still reads");
    spillfile_close(&f);
    free(orig);
    free(copy);
    free(data);
}

static void edges(void)
{
    ember_error err = {0, ""};
    spillfile *f = NULL;
    uint8_t b[4];
    char path[256];
    struct ember_task_info ti;
    int (*create)(void *, ember_spill **, ember_error *) = NULL;

    /* empty files, plain and sealed */
    for (int sealed = 0; sealed <= 1; sealed++) {
        spillfile_create(dir, sealed ? key1 : NULL, &f, &err);
        is_int(EMBER_EINVAL, spillfile_read(f, b, 1, &err),
               "%s: read before rewind refused", sealed ? "sealed" : "plain");
        is_int(EMBER_EINVAL, spillfile_rewind(f, &err),
               "%s: rewind before finish refused", sealed ? "sealed" : "plain");
        is_int(0, spillfile_finish(f, &err), "%s: an empty file",
               sealed ? "sealed" : "plain");
        is_int(EMBER_EINVAL, spillfile_finish(f, &err),
               "%s: finish twice refused", sealed ? "sealed" : "plain");
        is_int(0, spillfile_rewind(f, &err) || spillfile_read(f, b, 0, &err),
               "%s: reads 0 bytes", sealed ? "sealed" : "plain");
        is_int(EMBER_ECORRUPT, spillfile_read(f, b, 1, &err), "%s: and no more",
               sealed ? "sealed" : "plain");
        spillfile_close(&f);
    }

    /* a chunk exactly full at finish: the FINAL chunk is empty */
    {
        uint8_t *d = make_data(2 * CH);
        uint8_t *back = malloc(2 * CH);
        spillfile_create(dir, key1, &f, &err);
        spillfile_write(f, d, 2 * CH, &err);
        spillfile_finish(f, &err);
        is_int(SS_HEADER + 2 * CH + 3 * SS_ABYTES, spillfile_disk_bytes(f),
               "two full chunks and an empty final one");
        ok(spillfile_rewind(f, &err) == 0 &&
               spillfile_read(f, back, 2 * CH, &err) == 0 &&
               memcmp(back, d, 2 * CH) == 0,
           "read back whole");
        is_int(EMBER_ECORRUPT, spillfile_read(f, b, 1, &err),
               "and nothing after");
        spillfile_close(&f);
        free(d);
        free(back);
    }

    /* a directory that does not exist */
    is_int(EMBER_EIO, spillfile_create("/nonexistent/ember", NULL, &f, &err),
           "create in a missing directory fails");
    like(err.msg, "/nonexistent/ember", "... naming it: %s", err.msg);
    ok(f == NULL, "... and returns no handle");

    /* the test hook keeps the file at close */
    setenv("EMBER_TEST_KEEP_SPILLS", "1", 1);
    spillfile_create(dir, NULL, &f, &err);
    snprintf(path, sizeof path, "%s", spillfile_path(f));
    spillfile_write(f, "kept", 4, &err);
    spillfile_finish(f, &err);
    spillfile_close(&f);
    unsetenv("EMBER_TEST_KEEP_SPILLS");
    ok(access(path, F_OK) == 0,
       "with EMBER_TEST_KEEP_SPILLS the file stays after close");
    unlink(path);

    /* the ember_task_info glue */
    memset(&ti, 0, sizeof ti);
    spillfile_task_info(&ti, create);
    ok(ti.spill_create == create && ti.spill_write == spillfile_write &&
           ti.spill_finish == spillfile_finish &&
           ti.spill_rewind == spillfile_rewind &&
           ti.spill_read == spillfile_read && ti.spill_close == spillfile_close,
       "spillfile_task_info fills every spill_* field");
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    (void)skip;
    plan(NTESTS);
    snprintf(dir, sizeof dir, "%.40s/test_spillfile.XXXXXX", base);
    if (!mkdtemp(dir))
        bail("mkdtemp");
    roundtrip("plain", NULL);
    roundtrip("sealed", key1);
    tampering();
    edges();
    ok(rmdir(dir) == 0, "nothing left in the directory");
    return done_testing();
}
