/*
 * test_shuffle_file.c -- shuffle output files: a 3-partition map output
 * (with an empty partition and a record over the frame size) written,
 * committed and read back record by record; file names, index contents and
 * frame sizes checked by hand; corrupt and truncated index and data files,
 * missing files, bad arguments, abort and failed commits.  Works in a
 * mkdtemp directory under /tmp that it removes at the end.
 */
#include "codec/blockcodec.h"
#include "shuffle/shuffle_file.h"
#include "tap/tap.h"
#include "util/buf.h"
#include "util/crc32c.h"

#include <dirent.h>
#include <ember/plugin.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTESTS 96

#define NPARTS 3
#define BIG_LEN (300 * 1024)

static char dir[64];

/* ------------------------------------------------------------ fixtures */

typedef struct rec {
    uint8_t *p;
    size_t len;
} rec;

typedef struct reclist {
    rec *v;
    size_t n;
} reclist;

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void push(reclist *l, const void *p, size_t len)
{
    /* grow by doubling: realloc per record is quadratic under ASan */
    if ((l->n & (l->n - 1)) == 0)
        l->v = realloc(l->v, (l->n ? 2 * l->n : 1) * sizeof *l->v);
    if (!l->v || !(l->v[l->n].p = malloc(len ? len : 1)))
        bail("out of memory");
    memcpy(l->v[l->n].p, p, len);
    l->v[l->n++].len = len;
}

static void reclist_free(reclist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].p);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    for (; v >= 128; v >>= 7)
        n++;
    return n;
}

/* shuffle_block_foreach callback: collect, optionally stop after `stop` */
typedef struct collect {
    reclist got;
    size_t stop;
} collect;

static int collect_fn(void *ud, const void *p, size_t len)
{
    collect *c = ud;
    push(&c->got, p, len);
    return c->stop && c->got.n == c->stop ? 7 : 0;
}

static int same_records(const reclist *a, const reclist *b)
{
    if (a->n != b->n) {
        diag("record count %zu != %zu", a->n, b->n);
        return 0;
    }
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].len != b->v[i].len ||
            memcmp(a->v[i].p, b->v[i].p, a->v[i].len) != 0) {
            diag("record %zu differs", i);
            return 0;
        }
    return 1;
}

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t tmp[65536];
    size_t n;
    buf_reset(out);
    if (!f)
        return -1;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_put(out, tmp, n);
    fclose(f);
    return 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        bail("cannot write %s", path);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Names in dir, sorted, joined by spaces. */
static void list_dir(char *out, size_t n)
{
    struct dirent **ents;
    int k = scandir(dir, &ents, NULL, alphasort);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        const char *s = ents[i]->d_name;
        if (strcmp(s, ".") && strcmp(s, ".."))
            used += (size_t)snprintf(out + used, n - used, "%s%s",
                                     used ? " " : "", s);
        free(ents[i]);
    }
    if (k >= 0)
        free(ents);
}

/* ---------------------------------------------------------------- tests */

static reclist expect[NPARTS];
static uint64_t sizes[NPARTS];
static size_t p0_raw; /* raw bytes of partition 0, counted here */
static char data_path[256], index_path[256];

static void test_write(void)
{
    ember_error err = {0, ""};
    shuffle_writer *w;
    uint8_t *big = malloc(BIG_LEN);
    uint64_t nrec = 0;
    size_t nbytes = 0;
    char names[512], path[256];
    int rc = 0;

    for (size_t i = 0; i < BIG_LEN; i++)
        big[i] = (uint8_t)rnd();
    w = shuffle_writer_new(dir, 4, 77, NPARTS, 1, &err);
    ok(w != NULL, "writer_new");
    list_dir(names, sizeof names);
    is_string("", names, "writer_new creates nothing on disk");

    /* p0: 20000 small text records (~600 KiB: several frames); p1: none;
     * p2: small, the big random record, small; interleaved */
    for (int i = 0; i < 20000; i++) {
        char r[64];
        int len = snprintf(r, sizeof r, "key-%d,value-%d-%.*s", i, i * 7,
                           i % 13, "xxxxxxxxxxxxxxxx");
        push(&expect[0], r, (size_t)len);
        rc |= shuffle_writer_add(w, 0, r, (size_t)len, &err);
        nrec++;
        nbytes += varint_len((size_t)len) + (size_t)len;
        p0_raw += varint_len((size_t)len) + (size_t)len;
        if (i == 100 || i == 15000) {
            const char *s = i == 100 ? "first small" : "";
            push(&expect[2], s, strlen(s));
            rc |= shuffle_writer_add(w, 2, s, strlen(s), &err);
            nrec++;
            nbytes += varint_len(strlen(s)) + strlen(s);
        }
        if (i == 5000) {
            push(&expect[2], big, BIG_LEN);
            rc |= shuffle_writer_add(w, 2, big, BIG_LEN, &err);
            nrec++;
            nbytes += varint_len(BIG_LEN) + BIG_LEN;
        }
    }
    is_int(0, rc, "20003 records added");
    is_int((long long)nrec, (long long)shuffle_writer_records(w),
           "writer counts records");
    is_int((long long)nbytes, (long long)shuffle_writer_buffered(w),
           "writer counts buffered bytes (varint + record)");
    is_int(EMBER_EINVAL, shuffle_writer_add(w, 3, "x", 1, &err),
           "add to partition 3 of 3 rejected");
    is_int(EMBER_EINVAL, shuffle_writer_add(w, -1, "x", 1, &err),
           "add to partition -1 rejected");
    is_int((long long)nrec, (long long)shuffle_writer_records(w),
           "rejected adds are not counted");

    rc = shuffle_writer_commit(&w, sizes, &err);
    is_int(0, rc, "commit%s%s", rc ? ": " : "", rc ? err.msg : "");
    ok(w == NULL, "commit nulls the writer");

    snprintf(data_path, sizeof data_path, "%s/shuffle_4_77_0.data", dir);
    snprintf(index_path, sizeof index_path, "%s/shuffle_4_77_0.index", dir);
    list_dir(names, sizeof names);
    is_string("shuffle_4_77_0.data shuffle_4_77_0.index", names,
              "exactly the data and index files exist, no temp files");
    shuffle_file_path(path, sizeof path, dir, 4, 77, "index");
    is_string(index_path, path, "shuffle_file_path(index)");
    shuffle_file_path(path, sizeof path, dir, 4, 77, "data");
    is_string(data_path, path, "shuffle_file_path(data)");
    free(big);
}

static void test_index_layout(void)
{
    buf idx, dat;
    struct stat st;
    int offs_ok = 1, frames_ok = 1;
    size_t nframes[NPARTS] = {0, 0, 0}, big_frames = 0;
    buf_init(&idx);
    buf_init(&dat);
    read_file(index_path, &idx);
    read_file(data_path, &dat);
    is_int((NPARTS + 1) * 8 + 4, (long long)idx.len,
           "index is (partitions + 1) u64 + u32");
    if (idx.len != (NPARTS + 1) * 8 + 4) {
        buf_free(&idx);
        buf_free(&dat);
        return;
    }
    is_int(0, (long long)le64(idx.data), "first offset is 0");
    is_int(crc32c(0, idx.data, (NPARTS + 1) * 8),
           le32(idx.data + (NPARTS + 1) * 8), "index checksum is crc32c");
    for (int p = 0; p < NPARTS; p++)
        if (le64(idx.data + 8 * (p + 1)) - le64(idx.data + 8 * p) != sizes[p])
            offs_ok = 0;
    ok(offs_ok,
       "commit sizes match the index (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")",
       sizes[0], sizes[1], sizes[2]);
    is_int(0, (long long)sizes[1], "the empty partition stores 0 bytes");
    stat(data_path, &st);
    is_int((long long)le64(idx.data + 8 * NPARTS), (long long)st.st_size,
           "last offset is the data file size");

    /* walk the frames by hand: raw_len at +8, stored_len at +12 */
    for (int p = 0; p < NPARTS; p++) {
        uint64_t at = le64(idx.data + 8 * p), end = le64(idx.data + 8 * p + 8);
        while (at < end && at + BLOCKCODEC_HEADER <= dat.len) {
            uint32_t raw = le32(dat.data + at + 8);
            uint32_t stored = le32(dat.data + at + 12);
            if (raw > SHUFFLE_FRAME_RAW) {
                if (raw != varint_len(BIG_LEN) + BIG_LEN)
                    frames_ok = 0;
                big_frames++;
            }
            at += BLOCKCODEC_HEADER + stored;
            nframes[p]++;
        }
        if (at != end)
            frames_ok = 0;
    }
    ok(frames_ok, "frames tile each partition; only the big record's frame "
                  "exceeds 256 KiB");
    is_int((p0_raw + SHUFFLE_FRAME_RAW - 1) / SHUFFLE_FRAME_RAW,
           (long long)nframes[0],
           "partition 0 (%zu raw bytes) spans %zu "
           "frames",
           p0_raw, nframes[0]);
    is_int(1, (long long)big_frames,
           "the 300 KiB record has a frame of its own");
    is_int(3, (long long)nframes[2],
           "partition 2 has 3 frames (small, big, "
           "small)");
    buf_free(&idx);
    buf_free(&dat);
}

static void test_read_back(void)
{
    ember_error err = {0, ""};
    buf block;
    int rc;
    buf_init(&block);
    for (int p = 0; p < NPARTS; p++) {
        collect c = {{NULL, 0}, 0};
        buf_reset(&block);
        buf_put(&block, "", 0);
        rc = shuffle_read_block(dir, 4, 77, p, &block, &err);
        is_int(0, rc, "read_block(%d)%s%s", p, rc ? ": " : "",
               rc ? err.msg : "");
        is_int((long long)sizes[p], (long long)block.len,
               "read_block(%d) returns the committed size", p);
        rc = shuffle_block_foreach(block.data, block.len, collect_fn, &c, &err);
        is_int(0, rc, "foreach(%d)", p);
        ok(same_records(&expect[p], &c.got),
           "partition %d: %zu records, same bytes, same order", p, expect[p].n);
        reclist_free(&c.got);
    }

    /* reads append */
    buf_reset(&block);
    buf_put(&block, "abc", 3);
    rc = shuffle_read_block(dir, 4, 77, 2, &block, &err);
    ok(rc == 0 && block.len == 3 + sizes[2] && !memcmp(block.data, "abc", 3),
       "read_block appends to out");

    /* fn's non-zero return stops the walk and is returned */
    buf_reset(&block);
    shuffle_read_block(dir, 4, 77, 0, &block, &err);
    {
        collect c = {{NULL, 0}, 3};
        rc = shuffle_block_foreach(block.data, block.len, collect_fn, &c, &err);
        is_int(7, rc, "foreach returns the callback's non-zero value");
        is_int(3, (long long)c.got.n, "and stops right there");
        reclist_free(&c.got);
    }

    /* a flipped byte in the data is caught by the frame checksum */
    block.data[block.len / 2] ^= 0x20;
    {
        collect c = {{NULL, 0}, 0};
        rc = shuffle_block_foreach(block.data, block.len, collect_fn, &c, &err);
        is_int(EMBER_ECORRUPT, rc, "foreach rejects a corrupted block");
        diag("corrupted block: %s", err.msg);
        reclist_free(&c.got);
    }

    is_int(EMBER_EINVAL, shuffle_read_block(dir, 4, 77, 3, &block, &err),
           "reduce partition 3 of 3 rejected");
    is_int(EMBER_EINVAL, shuffle_read_block(dir, 4, 77, -1, &block, &err),
           "reduce partition -1 rejected");
    buf_free(&block);
}

static void expect_read_error(int code, const char *file, const char *what)
{
    ember_error err = {0, ""};
    buf b;
    int rc;
    buf_init(&b);
    buf_put(&b, "xy", 2);
    rc = shuffle_read_block(dir, 4, 77, 0, &b, &err);
    is_int(code, rc, "%s rejected", what);
    like(err.msg, file, "%s: the message names the file", what);
    is_int(2, (long long)b.len, "%s: out untouched", what);
    diag("%s: %s", what, err.msg);
    buf_free(&b);
}

static void test_corrupt_files(void)
{
    buf idx, dat;
    int all = 1;
    buf_init(&idx);
    buf_init(&dat);
    read_file(index_path, &idx);
    read_file(data_path, &dat);

    /* every single-byte flip of the index */
    for (size_t i = 0; i < idx.len; i++) {
        ember_error err = {0, ""};
        buf b;
        idx.data[i] ^= 0x04;
        write_file(index_path, idx.data, idx.len);
        idx.data[i] ^= 0x04;
        buf_init(&b);
        if (shuffle_read_block(dir, 4, 77, 0, &b, &err) != EMBER_ECORRUPT ||
            !strstr(err.msg, index_path))
            all = 0;
        buf_free(&b);
    }
    ok(all, "every flipped index byte rejected, naming the index");
    idx.data[3] ^= 0x01;
    write_file(index_path, idx.data, idx.len);
    idx.data[3] ^= 0x01;
    expect_read_error(EMBER_ECORRUPT, index_path, "flipped index byte");

    write_file(index_path, idx.data, idx.len - 1);
    expect_read_error(EMBER_ECORRUPT, index_path, "index short by 1 byte");
    write_file(index_path, idx.data, idx.len - 4);
    expect_read_error(EMBER_ECORRUPT, index_path, "index without checksum");
    write_file(index_path, idx.data, 0);
    expect_read_error(EMBER_ECORRUPT, index_path, "empty index");

    /* checksum right but offsets going backwards */
    {
        buf bad;
        buf_init(&bad);
        buf_put_u64(&bad, 0);
        buf_put_u64(&bad, 100);
        buf_put_u64(&bad, 50);
        buf_put_u64(&bad, dat.len);
        buf_put_u32(&bad, crc32c(0, bad.data, bad.len));
        write_file(index_path, bad.data, bad.len);
        expect_read_error(EMBER_ECORRUPT, index_path, "non-monotonic offsets");
        buf_free(&bad);
    }
    write_file(index_path, idx.data, idx.len);

    write_file(data_path, dat.data, dat.len - 1);
    expect_read_error(EMBER_ECORRUPT, data_path, "data file short by 1 byte");
    buf_put_u8(&dat, 0);
    write_file(data_path, dat.data, dat.len);
    expect_read_error(EMBER_ECORRUPT, data_path, "data file 1 byte too long");
    write_file(data_path, dat.data, dat.len - 1);

    {
        ember_error err = {0, ""};
        buf b;
        buf_init(&b);
        is_int(0, shuffle_read_block(dir, 4, 77, 0, &b, &err),
               "restored files read again");
        buf_free(&b);
    }
    buf_free(&idx);
    buf_free(&dat);
}

static void test_missing_and_remove(void)
{
    ember_error err = {0, ""};
    char names[512];
    buf b;
    buf_init(&b);
    is_int(EMBER_ENOTFOUND, shuffle_read_block(dir, 4, 78, 0, &b, &err),
           "missing map output: EMBER_ENOTFOUND");
    like(err.msg, "shuffle_4_78_0.index", "the message names the index");

    unlink(data_path);
    is_int(EMBER_ENOTFOUND, shuffle_read_block(dir, 4, 77, 0, &b, &err),
           "missing data file: EMBER_ENOTFOUND");
    like(err.msg, data_path, "the message names the data file");

    shuffle_file_remove(dir, 4, 77);
    shuffle_file_remove(dir, 4, 77); /* missing: ignored */
    list_dir(names, sizeof names);
    is_string("", names, "shuffle_file_remove removes the map output");
    is_int(EMBER_ENOTFOUND, shuffle_read_block(dir, 4, 77, 0, &b, &err),
           "removed map output: EMBER_ENOTFOUND");
    buf_free(&b);
}

static void test_uncompressed_and_single(void)
{
    ember_error err = {0, ""};
    shuffle_writer *w = shuffle_writer_new(dir, 0, UINT64_MAX, 1, 0, &err);
    uint64_t sz = 99;
    char names[512], want[128];
    collect c = {{NULL, 0}, 0};
    buf b;
    reclist e = {NULL, 0};
    int rc = 0;
    buf_init(&b);
    for (int i = 0; i < 1000; i++) {
        char r[32];
        int n = snprintf(r, sizeof r, "row %d", i);
        push(&e, r, (size_t)n);
        rc |= shuffle_writer_add(w, 0, r, (size_t)n, &err);
    }
    rc |= shuffle_writer_commit(&w, &sz, &err);
    is_int(0, rc, "1-partition uncompressed output, map id UINT64_MAX");
    snprintf(want, sizeof want,
             "shuffle_0_18446744073709551615_0.data "
             "shuffle_0_18446744073709551615_0.index");
    list_dir(names, sizeof names);
    is_string(want, names, "64-bit map id in the file names");
    rc = shuffle_read_block(dir, 0, UINT64_MAX, 0, &b, &err);
    ok(rc == 0 && b.len == sz && b.len > BLOCKCODEC_HEADER &&
           (b.data[5] & 1) == 0,
       "uncompressed block read back (%zu bytes, flag clear)", b.len);
    shuffle_block_foreach(b.data, b.len, collect_fn, &c, &err);
    ok(same_records(&e, &c.got), "uncompressed records match");
    reclist_free(&c.got);
    reclist_free(&e);
    shuffle_file_remove(dir, 0, UINT64_MAX);
    buf_free(&b);
}

static void test_abort_and_failures(void)
{
    ember_error err = {0, ""};
    shuffle_writer *w, *none = NULL;
    char names[512], missing[128];
    uint64_t sz[2] = {42, 42};

    w = shuffle_writer_new(dir, 9, 1, 2, 1, &err);
    shuffle_writer_add(w, 1, "doomed", 6, &err);
    shuffle_writer_abort(&w);
    ok(w == NULL, "abort nulls the writer");
    list_dir(names, sizeof names);
    is_string("", names, "abort leaves no files");
    shuffle_writer_abort(&none);
    shuffle_writer_abort(NULL);
    ok(1, "abort accepts NULL and a NULL writer");

    ok(shuffle_writer_new(dir, 1, 1, 0, 1, &err) == NULL &&
           err.code == EMBER_EINVAL,
       "writer_new with 0 partitions: EMBER_EINVAL");
    ok(shuffle_writer_new(NULL, 1, 1, 1, 1, &err) == NULL,
       "writer_new without dir fails");

    /* commit into a directory that does not exist */
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    w = shuffle_writer_new(missing, 9, 2, 2, 1, &err);
    shuffle_writer_add(w, 0, "lost", 4, &err);
    is_int(EMBER_EIO, shuffle_writer_commit(&w, sz, &err),
           "commit into a missing directory: EMBER_EIO");
    like(err.msg, missing, "the message names the path");
    diag("failed commit: %s", err.msg);
    ok(w == NULL && sz[0] == 42, "writer freed, sizes untouched");
    list_dir(names, sizeof names);
    is_string("", names, "no files left behind");
    is_int(EMBER_EINVAL, shuffle_writer_commit(&w, sz, &err),
           "commit of a NULL writer: EMBER_EINVAL");

    /* the last step fails: a directory sits where the index goes, so the
     * data file already renamed into place must be taken back */
    {
        char blocker[256], inner[300];
        snprintf(blocker, sizeof blocker, "%s/shuffle_9_3_0.index", dir);
        snprintf(inner, sizeof inner, "%s/keep", blocker);
        mkdir(blocker, 0755);
        write_file(inner, "k", 1);
        w = shuffle_writer_new(dir, 9, 3, 1, 1, &err);
        shuffle_writer_add(w, 0, "late", 4, &err);
        is_int(EMBER_EIO, shuffle_writer_commit(&w, sz, &err),
               "commit whose index rename fails: EMBER_EIO");
        like(err.msg, "rename", "the message says rename");
        diag("failed rename: %s", err.msg);
        list_dir(names, sizeof names);
        is_string("shuffle_9_3_0.index", names,
                  "data and temp files removed after the failed rename");
        unlink(inner);
        rmdir(blocker);
    }
}

static void test_standalone_block(void)
{
    ember_error err = {0, ""};
    collect c = {{NULL, 0}, 0};
    reclist e = {NULL, 0};
    buf raw, enc;
    int rc;
    size_t frames = 0;
    buf_init(&raw);
    buf_init(&enc);
    for (int i = 0; i < 40000; i++) {
        char r[48];
        int n = snprintf(r, sizeof r, "result %d", i * 31);
        push(&e, r, (size_t)n);
        buf_put_lstr(&raw, r, (size_t)n);
    }
    buf_put(&enc, "z", 1);
    rc = shuffle_block_encode(&enc, raw.data, raw.len, 1);
    is_int(0, rc, "block_encode of %zu raw bytes", raw.len);
    for (size_t at = 1; at + BLOCKCODEC_HEADER <= enc.len; frames++)
        at += BLOCKCODEC_HEADER + le32(enc.data + at + 12);
    ok(frames >= 2, "split into %zu frames", frames);
    rc = shuffle_block_foreach(enc.data + 1, enc.len - 1, collect_fn, &c, &err);
    ok(rc == 0 && same_records(&e, &c.got), "block_encode -> foreach");
    reclist_free(&c.got);

    /* a record list that lies about a length */
    {
        size_t before = enc.len;
        uint8_t bad[] = {5, 'a', 'b'};
        is_int(EMBER_EINVAL, shuffle_block_encode(&enc, bad, 3, 1),
               "block_encode rejects a malformed record list");
        is_int((long long)before, (long long)enc.len, "and appends nothing");
    }
    /* a well-formed frame whose content is not a record list */
    {
        uint8_t bad[] = {9, 'a', 'b'};
        buf_reset(&enc);
        blockcodec_encode(&enc, bad, 3, 0);
        rc = shuffle_block_foreach(enc.data, enc.len, collect_fn, &c, &err);
        is_int(EMBER_ECORRUPT, rc, "foreach rejects a truncated record");
        like(err.msg, "truncated record", "with a message");
        reclist_free(&c.got);
    }
    is_int(0, shuffle_block_foreach(NULL, 0, collect_fn, &c, &err),
           "foreach of an empty block");
    buf_free(&raw);
    buf_free(&enc);
    reclist_free(&e);
}

int main(void)
{
    (void)skip; /* tap.h helpers this test has no use for */
    plan(NTESTS);
    snprintf(dir, sizeof dir, "/tmp/ember-shuffle-XXXXXX");
    if (!mkdtemp(dir))
        bail("mkdtemp failed");
    test_write();
    test_index_layout();
    test_read_back();
    test_corrupt_files();
    test_missing_and_remove();
    test_uncompressed_and_single();
    test_abort_and_failures();
    test_standalone_block();
    for (int p = 0; p < NPARTS; p++)
        reclist_free(&expect[p]);
    is_int(0, rmdir(dir), "the temp directory is empty and removed");
    return done_testing();
}
