/*
 * shuffle_file.c -- sort-based shuffle output: writer, block reader and
 * block record iteration (see shuffle_file.h; layout in docs/formats.md).
 *
 * The writer buffers each partition's records in its own `buf`, already
 * framed as varint length + bytes, so commit only has to cut each buffer
 * into frames at record boundaries (split_records) and stream them to a temp
 * data file while it records the cumulative offsets.  The index (offsets +
 * crc32c) goes to a second temp file; both are renamed into place, index
 * last, so a reader that finds the index finds a complete data file.  Every
 * failure after the first file is created unlinks what commit created.
 *
 * The reader trusts nothing on disk: it checks the index size, checksum and
 * offsets against the data file before it reads the requested range, and
 * shuffle_block_foreach checks each frame (blockcodec) and each record.
 *
 * Threads: a writer belongs to one thread; everything else is stateless.
 */
#include "shuffle/shuffle_file.h"

#include "codec/blockcodec.h"
#include "util/fsutil.h"
#include "util/crc32c.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct shuffle_writer {
    char *dir;
    int shuffle_id;
    uint64_t map_id;
    int nparts;
    int compress;
    buf *parts; /* nparts buffers of varint-len + bytes records */
    uint64_t records;
    size_t buffered; /* sum of parts[].len */
    /* spills: earlier buffers written out, one file each, partitions in
       order; commit concatenates them per partition (records carry no
       order across a partition, so merging is concatenation) */
    struct spill {
        char *path;
        uint64_t *off; /* nparts + 1 offsets */
    } * spills;
    int nspills;
    uint64_t spilled_bytes;
};

/* ------------------------------------------------------------------ helpers */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The final path, or with tmp the `<final>.tmp.<pid>` path; -1 if it does
 * not fit out[0..n). */
static int make_path(char *out, size_t n, const char *dir, int shuffle_id,
                     uint64_t map_id, const char *ext, int tmp)
{
    int k;
    if (tmp)
        k = snprintf(out, n, "%s/shuffle_%d_%" PRIu64 "_0.%s.tmp.%ld", dir,
                     shuffle_id, map_id, ext, (long)getpid());
    else
        k = snprintf(out, n, "%s/shuffle_%d_%" PRIu64 "_0.%s", dir, shuffle_id,
                     map_id, ext);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

void shuffle_file_path(char *out, size_t n, const char *dir, int shuffle_id,
                       uint64_t map_id, const char *ext)
{
    (void)make_path(out, n, dir, shuffle_id, map_id, ext, 0);
}

static int write_all(int fd, const void *p, size_t n, const char *path,
                     ember_error *err)
{
    const uint8_t *s = p;
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return ember_seterr(err, EMBER_EIO, "write %s: %s", path,
                                strerror(errno));
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Cut raw[0..len), a list of varint-len + bytes records, into chunks of at
 * most SHUFFLE_FRAME_RAW bytes at record boundaries (a longer record is a
 * chunk of its own) and call fn on each.  Returns 0, EMBER_ECORRUPT if raw
 * is not a well-formed record list, or fn's error. */
typedef int (*chunk_fn)(void *ud, const uint8_t *p, size_t n);

static int split_records(const uint8_t *raw, size_t len, chunk_fn fn, void *ud)
{
    size_t chunk = 0, pos = 0, next;
    uint64_t n;
    rd r;
    int rc;
    while (pos < len) {
        rd_init(&r, raw + pos, len - pos);
        n = rd_varint(&r);
        if (!rd_ok(&r) || n > rd_left(&r))
            return EMBER_ECORRUPT;
        next = len - rd_left(&r) + (size_t)n;
        if (next - chunk > SHUFFLE_FRAME_RAW && pos > chunk) {
            if ((rc = fn(ud, raw + chunk, pos - chunk)))
                return rc;
            chunk = pos;
        }
        pos = next;
    }
    return pos > chunk ? fn(ud, raw + chunk, pos - chunk) : 0;
}

/* ------------------------------------------------------------------ writer */

static void writer_free(shuffle_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->nspills; i++) {
        unlink(w->spills[i].path);
        free(w->spills[i].path);
        free(w->spills[i].off);
    }
    free(w->spills);
    if (w->parts)
        for (int i = 0; i < w->nparts; i++)
            buf_free(&w->parts[i]);
    free(w->parts);
    free(w->dir);
    free(w);
}

shuffle_writer *shuffle_writer_new(const char *dir, int shuffle_id,
                                   uint64_t map_id, int num_partitions,
                                   int compress, ember_error *err)
{
    char path[PATH_MAX];
    shuffle_writer *w;
    if (!dir || !*dir || shuffle_id < 0 || num_partitions < 1) {
        ember_seterr(err, EMBER_EINVAL,
                     "shuffle writer: bad arguments (dir %s, shuffle %d, "
                     "%d partitions)",
                     dir ? dir : "(null)", shuffle_id, num_partitions);
        return NULL;
    }
    /* The longest name commit will build must fit. */
    if (make_path(path, sizeof path, dir, shuffle_id, map_id, "index", 1)) {
        ember_seterr(err, EMBER_EINVAL, "shuffle writer: path too long in %s",
                     dir);
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir)) ||
        !(w->parts = calloc((size_t)num_partitions, sizeof *w->parts))) {
        writer_free(w);
        ember_seterr(err, EMBER_ENOMEM, "shuffle writer: out of memory");
        return NULL;
    }
    for (int i = 0; i < num_partitions; i++)
        buf_init(&w->parts[i]);
    w->shuffle_id = shuffle_id;
    w->map_id = map_id;
    w->nparts = num_partitions;
    w->compress = compress;
    return w;
}

int shuffle_writer_add(shuffle_writer *w, int partition, const void *rec,
                       size_t len, ember_error *err)
{
    size_t need;
    buf *b;
    if (!w || partition < 0 || partition >= w->nparts || (!rec && len > 0))
        return ember_seterr(err, EMBER_EINVAL,
                            "shuffle writer: bad partition %d (of %d) or "
                            "record",
                            partition, w ? w->nparts : 0);
    need = varint_size(len) + len;
    if (len > BLOCKCODEC_MAX_RAW || need > BLOCKCODEC_MAX_RAW)
        return ember_seterr(err, EMBER_ETOOBIG,
                            "shuffle record of %zu bytes over the frame "
                            "limit of %u",
                            len, BLOCKCODEC_MAX_RAW);
    b = &w->parts[partition];
    if (buf_reserve(b, need)) {
        b->oom = 0; /* nothing was written: the buffer is still good */
        return ember_seterr(err, EMBER_ENOMEM,
                            "shuffle writer: out of memory buffering %zu "
                            "bytes",
                            need);
    }
    buf_put_varint(b, len); /* cannot fail: room reserved */
    buf_put(b, rec, len);
    w->records++;
    w->buffered += need;
    return 0;
}

uint64_t shuffle_writer_records(const shuffle_writer *w)
{
    return w ? w->records : 0;
}

size_t shuffle_writer_buffered(const shuffle_writer *w)
{
    return w ? w->buffered : 0;
}

/* Temp files exist only inside shuffle_writer_commit, which removes them
 * itself on failure, so an abort has nothing on disk to clean up. */
void shuffle_writer_abort(shuffle_writer **w)
{
    if (!w)
        return;
    writer_free(*w);
    *w = NULL;
}

typedef struct frame_sink {
    int fd;
    const char *path;
    int compress;
    buf frame;
    uint64_t written;
    ember_error *err;
} frame_sink;

static int emit_frame(void *ud, const uint8_t *p, size_t n)
{
    frame_sink *s = ud;
    int rc;
    buf_reset(&s->frame);
    if ((rc = blockcodec_encode(&s->frame, p, n, s->compress)))
        return ember_seterr(s->err, rc,
                            "shuffle writer: encoding a %zu-byte "
                            "frame for %s: %s",
                            n, s->path, ember_strerror(rc));
    if ((rc = write_all(s->fd, s->frame.data, s->frame.len, s->path, s->err)))
        return rc;
    s->written += s->frame.len;
    return 0;
}

static int create_file(const char *path, ember_error *err)
{
    int fd = open_private(path, "w");
    if (fd < 0)
        return ember_seterr(err, EMBER_EIO, "create %s: %s", path,
                            strerror(errno));
    return fd;
}

static int close_file(int fd, const char *path, ember_error *err)
{
    if (close(fd) < 0)
        return ember_seterr(err, EMBER_EIO, "close %s: %s", path,
                            strerror(errno));
    return 0;
}

int shuffle_writer_spill(shuffle_writer *w, ember_error *err)
{
    char path[PATH_MAX + 32], base[PATH_MAX];
    struct spill *ns;
    frame_sink sink;
    uint64_t *off;
    int fd, rc = 0;
    if (!w || w->buffered == 0)
        return 0;
    make_path(base, sizeof base, w->dir, w->shuffle_id, w->map_id, "data", 1);
    snprintf(path, sizeof path, "%s.spill%d", base, w->nspills);
    ns = realloc(w->spills, (size_t)(w->nspills + 1) * sizeof *ns);
    off = calloc((size_t)w->nparts + 1, sizeof *off);
    if (!ns || !off) {
        if (ns)
            w->spills = ns;
        free(off);
        return ember_seterr(err, EMBER_ENOMEM, "shuffle spill: out of memory");
    }
    w->spills = ns;
    if ((fd = create_file(path, err)) < 0) {
        free(off);
        return fd;
    }
    memset(&sink, 0, sizeof sink);
    buf_init(&sink.frame);
    sink.fd = fd;
    sink.path = path;
    sink.compress = w->compress;
    sink.err = err;
    for (int p = 0; p < w->nparts && !rc; p++) {
        off[p] = sink.written;
        rc =
            split_records(w->parts[p].data, w->parts[p].len, emit_frame, &sink);
    }
    off[w->nparts] = sink.written;
    buf_free(&sink.frame);
    if (!rc)
        rc = close_file(fd, path, err);
    else
        close(fd);
    if (rc) {
        unlink(path);
        free(off);
        return rc;
    }
    ns[w->nspills].path = strdup(path);
    ns[w->nspills].off = off;
    if (!ns[w->nspills].path) {
        unlink(path);
        free(off);
        return ember_seterr(err, EMBER_ENOMEM, "shuffle spill: out of memory");
    }
    w->nspills++;
    w->spilled_bytes += w->buffered;
    for (int p = 0; p < w->nparts; p++)
        buf_free(&w->parts[p]); /* give the memory back */
    w->buffered = 0;
    return 0;
}

int shuffle_writer_spills(const shuffle_writer *w)
{
    return w ? w->nspills : 0;
}

/* Copy [from, to) of a spill file to the data file. */
static int copy_range(const char *src, uint64_t from, uint64_t to,
                      frame_sink *s)
{
    uint8_t chunk[1 << 16];
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0)
        return ember_seterr(s->err, EMBER_EIO, "open %s: %s", src,
                            strerror(errno));
    while (from < to && !rc) {
        size_t want = (size_t)(to - from) < sizeof chunk ? (size_t)(to - from)
                                                         : sizeof chunk;
        ssize_t k = pread(fd, chunk, want, (off_t)from);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = ember_seterr(s->err, EMBER_EIO, "read %s: %s", src,
                              k < 0 ? strerror(errno) : "short file");
            break;
        }
        rc = write_all(s->fd, chunk, (size_t)k, s->path, s->err);
        s->written += (uint64_t)k;
        from += (uint64_t)k;
    }
    close(fd);
    return rc;
}

int shuffle_writer_commit(shuffle_writer **wp, uint64_t *sizes,
                          ember_error *err)
{
    char data[PATH_MAX], index[PATH_MAX], tdata[PATH_MAX], tindex[PATH_MAX];
    int have_tdata = 0, have_tindex = 0, have_data = 0, fd = -1, rc;
    frame_sink sink;
    uint64_t *off = NULL;
    shuffle_writer *w;
    buf idx;

    if (!wp || !*wp)
        return ember_seterr(err, EMBER_EINVAL, "shuffle commit: no writer");
    w = *wp;
    *wp = NULL;
    buf_init(&idx);
    memset(&sink, 0, sizeof sink);
    buf_init(&sink.frame);
    if (make_path(data, sizeof data, w->dir, w->shuffle_id, w->map_id, "data",
                  0) ||
        make_path(index, sizeof index, w->dir, w->shuffle_id, w->map_id,
                  "index", 0) ||
        make_path(tdata, sizeof tdata, w->dir, w->shuffle_id, w->map_id, "data",
                  1) ||
        make_path(tindex, sizeof tindex, w->dir, w->shuffle_id, w->map_id,
                  "index", 1)) {
        rc = ember_seterr(err, EMBER_EINVAL,
                          "shuffle commit: path too "
                          "long in %s",
                          w->dir);
        goto out;
    }
    if (!(off = calloc((size_t)w->nparts + 1, sizeof *off))) {
        rc = ember_seterr(err, EMBER_ENOMEM, "shuffle commit: out of memory");
        goto out;
    }

    /* data: each partition's frames, in partition order */
    if ((fd = create_file(tdata, err)) < 0) {
        rc = fd;
        goto out;
    }
    have_tdata = 1;
    sink.fd = fd;
    sink.path = tdata;
    sink.compress = w->compress;
    sink.err = err;
    for (int p = 0; p < w->nparts; p++) {
        off[p] = sink.written;
        for (int k = 0; k < w->nspills; k++)
            if ((rc = copy_range(w->spills[k].path, w->spills[k].off[p],
                                 w->spills[k].off[p + 1], &sink)))
                goto out;
        rc =
            split_records(w->parts[p].data, w->parts[p].len, emit_frame, &sink);
        if (rc == EMBER_ECORRUPT) /* a bug: add() frames every record */
            rc = ember_seterr(err, EMBER_EINVAL,
                              "shuffle commit: malformed "
                              "buffer of partition %d",
                              p);
        if (rc)
            goto out;
        buf_free(&w->parts[p]); /* lower the peak as we go */
    }
    off[w->nparts] = sink.written;
    rc = close_file(fd, tdata, err);
    fd = -1;
    if (rc)
        goto out;

    /* index: offsets, then their checksum */
    for (int p = 0; p <= w->nparts; p++)
        buf_put_u64(&idx, off[p]);
    buf_put_u32(&idx, crc32c(0, idx.data, idx.len));
    if (idx.oom) {
        rc = ember_seterr(err, EMBER_ENOMEM, "shuffle commit: out of memory");
        goto out;
    }
    if ((fd = create_file(tindex, err)) < 0) {
        rc = fd;
        goto out;
    }
    have_tindex = 1;
    if ((rc = write_all(fd, idx.data, idx.len, tindex, err)))
        goto out;
    rc = close_file(fd, tindex, err);
    fd = -1;
    if (rc)
        goto out;

    /* publish, index last */
    if (rename(tdata, data) < 0) {
        rc = ember_seterr(err, EMBER_EIO, "rename %s to %s: %s", tdata, data,
                          strerror(errno));
        goto out;
    }
    have_tdata = 0;
    have_data = 1;
    if (rename(tindex, index) < 0) {
        rc = ember_seterr(err, EMBER_EIO, "rename %s to %s: %s", tindex, index,
                          strerror(errno));
        goto out;
    }
    have_tindex = 0;
    if (sizes)
        for (int p = 0; p < w->nparts; p++)
            sizes[p] = off[p + 1] - off[p];
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc) {
        if (have_tdata)
            unlink(tdata);
        if (have_tindex)
            unlink(tindex);
        if (have_data)
            unlink(data);
    }
    free(off);
    buf_free(&idx);
    buf_free(&sink.frame);
    writer_free(w);
    return rc;
}

/* ------------------------------------------------------------------ reader */

/* Open path for reading; EMBER_ENOTFOUND if it does not exist. */
static int open_ro(const char *path, const char *what, ember_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ember_seterr(err, e == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO,
                            "open shuffle %s file %s: %s", what, path,
                            strerror(e));
    }
    return fd;
}

/* Append exactly n bytes at offset off of fd to out (room reserved). */
static int read_at(int fd, uint64_t off, size_t n, buf *out, const char *path,
                   ember_error *err)
{
    uint8_t *dst = out->data + out->len;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, dst + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return ember_seterr(err, EMBER_EIO, "read %s: %s", path,
                                strerror(errno));
        }
        if (k == 0)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "shuffle file %s: unexpected end of file at "
                                "byte %" PRIu64,
                                path, off + got);
        got += (size_t)k;
    }
    out->len += n;
    return 0;
}

/* Read and validate the index file: *off (caller frees) receives
 * *nparts + 1 offsets. */
static int load_index(const char *path, uint64_t **offp, int *nparts,
                      ember_error *err)
{
    uint64_t *off = NULL;
    struct stat st;
    size_t size, n;
    uint32_t want, got;
    buf b;
    rd r;
    int fd, rc;

    buf_init(&b);
    if ((fd = open_ro(path, "index", err)) < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        rc = ember_seterr(err, EMBER_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    /* (nparts + 1) u64 + u32, 1 <= nparts <= INT_MAX */
    if (st.st_size < 2 * 8 + 4 || (st.st_size - 4) % 8 != 0 ||
        (uint64_t)(st.st_size - 4) / 8 - 1 > (uint64_t)INT_MAX) {
        rc = ember_seterr(err, EMBER_ECORRUPT,
                          "shuffle index %s: bad size %lld bytes", path,
                          (long long)st.st_size);
        goto out;
    }
    size = (size_t)st.st_size;
    if (buf_reserve(&b, size)) {
        rc = ember_seterr(err, EMBER_ENOMEM,
                          "shuffle index %s: out of "
                          "memory",
                          path);
        goto out;
    }
    if ((rc = read_at(fd, 0, size, &b, path, err)))
        goto out;
    n = (size - 4) / 8;
    got = crc32c(0, b.data, size - 4);
    rd_init(&r, b.data + size - 4, 4);
    want = rd_u32(&r);
    if (got != want) {
        rc = ember_seterr(err, EMBER_ECORRUPT,
                          "shuffle index %s: checksum mismatch: stored "
                          "0x%08x, computed 0x%08x",
                          path, (unsigned)want, (unsigned)got);
        goto out;
    }
    if (!(off = malloc(n * sizeof *off))) {
        rc = ember_seterr(err, EMBER_ENOMEM,
                          "shuffle index %s: out of "
                          "memory",
                          path);
        goto out;
    }
    rd_init(&r, b.data, size - 4);
    for (size_t i = 0; i < n; i++) {
        off[i] = rd_u64(&r);
        if (i == 0 ? off[0] != 0 : off[i] < off[i - 1]) {
            rc = ember_seterr(err, EMBER_ECORRUPT,
                              "shuffle index %s: offset %zu is %" PRIu64 ", %s",
                              path, i, off[i],
                              i == 0 ? "expected 0" : "not monotonic");
            goto out;
        }
    }
    *offp = off;
    off = NULL;
    *nparts = (int)(n - 1);
    rc = 0;
out:
    close(fd);
    free(off);
    buf_free(&b);
    return rc;
}

int shuffle_read_block(const char *dir, int shuffle_id, uint64_t map_id,
                       int reduce_id, buf *out, ember_error *err)
{
    char data[PATH_MAX], index[PATH_MAX];
    uint64_t *off = NULL, lo, hi;
    size_t start = out->len;
    struct stat st;
    int nparts = 0, fd = -1, rc;

    if (!dir || reduce_id < 0)
        return ember_seterr(err, EMBER_EINVAL,
                            "shuffle read: bad reduce partition %d", reduce_id);
    if (make_path(data, sizeof data, dir, shuffle_id, map_id, "data", 0) ||
        make_path(index, sizeof index, dir, shuffle_id, map_id, "index", 0))
        return ember_seterr(err, EMBER_EINVAL,
                            "shuffle read: path too long in %s", dir);
    if ((rc = load_index(index, &off, &nparts, err)))
        return rc;
    if (reduce_id >= nparts) {
        rc = ember_seterr(err, EMBER_EINVAL,
                          "shuffle read: reduce partition %d out of range, "
                          "index %s has %d",
                          reduce_id, index, nparts);
        goto out;
    }
    if ((fd = open_ro(data, "data", err)) < 0) {
        rc = fd;
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        rc = ember_seterr(err, EMBER_EIO, "stat %s: %s", data, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size != off[nparts]) {
        rc = ember_seterr(err, EMBER_ECORRUPT,
                          "shuffle data file %s has %lld bytes but index %s "
                          "says %" PRIu64,
                          data, (long long)st.st_size, index, off[nparts]);
        goto out;
    }
    lo = off[reduce_id];
    hi = off[reduce_id + 1];
    if (hi - lo > SIZE_MAX || buf_reserve(out, (size_t)(hi - lo))) {
        rc = ember_seterr(err, EMBER_ENOMEM,
                          "shuffle read: out of memory for %" PRIu64
                          " bytes of %s",
                          hi - lo, data);
        goto out;
    }
    rc = read_at(fd, lo, (size_t)(hi - lo), out, data, err);
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        out->len = start;
    free(off);
    return rc;
}

void shuffle_file_remove(const char *dir, int shuffle_id, uint64_t map_id)
{
    char path[PATH_MAX];
    /* index first: without it the map output no longer exists */
    if (!make_path(path, sizeof path, dir, shuffle_id, map_id, "index", 0))
        unlink(path);
    if (!make_path(path, sizeof path, dir, shuffle_id, map_id, "data", 0))
        unlink(path);
}

/* ------------------------------------------------------------------ blocks */

int shuffle_block_foreach(const void *block, size_t len, shuffle_rec_fn fn,
                          void *ud, ember_error *err)
{
    const uint8_t *p = block;
    size_t off = 0, n = 0, rlen;
    const char *rec;
    buf raw;
    rd r;
    int rc = 0;

    if (!fn || (!block && len > 0))
        return ember_seterr(err, EMBER_EINVAL, "shuffle block: bad arguments");
    buf_init(&raw);
    while (off < len) {
        buf_reset(&raw);
        if ((rc = blockcodec_decode(p + off, len - off, &raw, &n, err))) {
            ember_error_prefix(err, "shuffle block: frame at byte %zu: ", off);
            goto out;
        }
        rd_init(&r, raw.data, raw.len);
        while (rd_left(&r) > 0) {
            size_t at = (size_t)(r.p - raw.data);
            if (!(rec = rd_lstr(&r, &rlen))) {
                rc = ember_seterr(err, EMBER_ECORRUPT,
                                  "shuffle block: truncated record at byte "
                                  "%zu of the frame at byte %zu",
                                  at, off);
                goto out;
            }
            if ((rc = fn(ud, rec, rlen)))
                goto out;
        }
        off += n;
    }
out:
    buf_free(&raw);
    return rc;
}

typedef struct block_sink {
    buf *out;
    int compress;
} block_sink;

static int emit_block_frame(void *ud, const uint8_t *p, size_t n)
{
    block_sink *s = ud;
    return blockcodec_encode(s->out, p, n, s->compress);
}

int shuffle_block_encode(buf *out, const void *raw, size_t len, int compress)
{
    block_sink s = {out, compress};
    size_t start = out->len;
    int rc;
    if (!raw && len > 0)
        return EMBER_EINVAL;
    if ((rc = split_records(raw, len, emit_block_frame, &s))) {
        out->len = start;
        if (rc == EMBER_ECORRUPT)
            rc = EMBER_EINVAL;
    }
    return rc;
}
