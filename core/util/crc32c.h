/*
 * crc32c.h -- CRC-32C (Castagnoli) for the core: block frames
 * (codec/blockcodec.c) and shuffle index files (shuffle/shuffle_file.c).
 *
 * One implementation: util/crc32c_impl.h (header-only, so plugins, which
 * link nothing of ember's, can include it too); util/crc32c.c wraps it
 * once for the core.  SSE4.2 when the CPU has it, else a table.
 *
 * Threads: no shared state that matters; safe from any thread.
 */
#ifndef EMBER_UTIL_CRC32C_H
#define EMBER_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of p[0..n); crc starts at 0 and the result of one call may be
 * passed to the next to checksum pieces.  p may be NULL when n is 0. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
