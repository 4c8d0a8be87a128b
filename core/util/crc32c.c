/*
 * crc32c.c -- the core's CRC-32C (see crc32c.h): one out-of-line copy of
 * the header-only implementation in crc32c_impl.h, which is also what
 * plugins include.
 *
 * Threads: safe from any thread (see crc32c_impl.h).
 */
#include "util/crc32c.h"

#include "util/crc32c_impl.h"

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    return crc32c_impl(crc, p, n);
}
