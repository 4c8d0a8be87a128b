/*
 * spillfile.h -- an operator's spill files: private scratch files written
 * front to back, then read back front to back, and encrypted and
 * authenticated when the application encrypts data at rest
 * (io.encryption.enabled).  This is what plugin operators get as
 * ember_task_info.spill_* (plugin ABI 1.3); the functions below have the
 * signatures of those fields, but for spillfile_create, which the host
 * wraps to pass its local directory and key.
 *
 * A file is created in a directory with a random name, mode 0600,
 * O_EXCL | O_NOFOLLOW, and removed by spillfile_close.  Without a key its
 * bytes are what was written.  With a key (the process's io key,
 * blockcodec_key()) it is a libsodium secretstream
 * (crypto_secretstream_xchacha20poly1305): a 24-byte header, then the
 * written bytes cut into chunks of SPILLFILE_CHUNK bytes, each encrypted
 * with its 17-byte tag, the last one tagged FINAL, so a changed, dropped,
 * reordered or truncated chunk is detected when it is read
 * (docs/formats.md).  Writes and reads are buffered in SPILLFILE_CHUNK
 * bytes; large ones bypass the buffer when no key is set.
 *
 * Tests: with EMBER_TEST_KEEP_SPILLS set in the environment,
 * spillfile_close leaves the file on disk (tests/integration/io_encryption.t
 * reads them).
 *
 * Threads: a handle belongs to one thread at a time; no shared state.
 */
#ifndef EMBER_CODEC_SPILLFILE_H
#define EMBER_CODEC_SPILLFILE_H

#include <ember/plugin.h>

#include <stddef.h>
#include <stdint.h>

#define SPILLFILE_CHUNK (64 * 1024)

typedef struct ember_spill spillfile;

/* A new, empty spill file in dir, open for writing; sealed with key (32
 * bytes, copied) when key is not NULL.  Returns 0, EMBER_ENOMEM or
 * EMBER_EIO with err naming the directory. */
int spillfile_create(const char *dir, const uint8_t *key, spillfile **out,
                     ember_error *err);

/* Append p[0..n).  Returns 0, EMBER_EINVAL (the file is finished) or
 * EMBER_EIO (the write failed: disk full...). */
int spillfile_write(spillfile *f, const void *p, size_t n, ember_error *err);

/* End of writing: flush and close the file for writing (no descriptor is
 * held until spillfile_rewind).  Returns 0, EMBER_EINVAL (finished
 * already) or EMBER_EIO. */
int spillfile_finish(spillfile *f, ember_error *err);

/* Start reading at the beginning (after spillfile_finish; again to read
 * the file once more).  Returns 0, EMBER_EINVAL (not finished), EMBER_EIO
 * or EMBER_ECORRUPT (a sealed file whose header is missing). */
int spillfile_rewind(spillfile *f, ember_error *err);

/* Read exactly n bytes into p.  Returns 0, EMBER_EINVAL (not rewound),
 * EMBER_EIO, or EMBER_ECORRUPT when the file ends first or a chunk fails
 * authentication (err says which). */
int spillfile_read(spillfile *f, void *p, size_t n, ember_error *err);

/* Close and remove the file; free the handle; *f = NULL.  NULL and *f ==
 * NULL are fine. */
void spillfile_close(spillfile **f);

/* Fill ti's spill_* functions (ABI 1.3): create, which the host writes
 * (it knows its directory and key: ti->ctx is its first argument), and
 * the functions above for the rest. */
void spillfile_task_info(ember_task_info *ti,
                         int (*create)(void *ctx, ember_spill **out,
                                       ember_error *err));

/* The file's path (borrowed until close), and its size on disk so far
 * (bytes written to the file, not buffered ones). */
const char *spillfile_path(const spillfile *f);
int64_t spillfile_disk_bytes(const spillfile *f);

#endif
