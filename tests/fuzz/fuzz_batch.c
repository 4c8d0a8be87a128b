/*
 * fuzz_batch.c -- libFuzzer target for batch_decode() in core/data/batch.c,
 * the wire form of DataFrame batches in shuffle records, cached blocks and
 * task results.
 *
 * What decodes must re-encode canonically and decode again; every
 * column view must stay within its buffers (read fully, for ASan).  Inputs
 * starting with 'B' are instead turned into a valid batch (string and
 * integer columns with nulls) whose encoding is then damaged at one byte,
 * so the checks past the header are reached too.  Build and run with
 * tests/fuzz/run-fuzz.sh.
 */
#include "data/batch.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

static unsigned touch(const ember_batch *b)
{
    unsigned mix = 0;
    for (int i = 0; i < batch_num_columns(b); i++) {
        ember_column c;
        if (batch_column(b, i, &c))
            abort();
        if (c.validity)
            for (int64_t r = 0; r < (c.length + 7) / 8; r++)
                mix = mix * 31u + c.validity[r];
        if (c.offsets) {
            const uint8_t *d = c.data;
            for (int64_t r = 0; r < c.length; r++) {
                if (c.offsets[r + 1] < c.offsets[r])
                    abort();
                for (int32_t k = c.offsets[r]; k < c.offsets[r + 1]; k++)
                    mix = mix * 31u + d[k];
            }
        }
    }
    return mix;
}

static void check(const uint8_t *d, size_t n)
{
    ember_batch *b = NULL, *b2 = NULL;
    ember_error err = {0, ""};
    buf w, w2;
    if (batch_decode(d, n, &b, &err)) {
        if (!err.msg[0] || b)
            abort();
        return;
    }
    (void)touch(b);
    /* the encoding is canonical once decoded (padding bits and an all-valid
     * bitmap are normalised): encode(decode(x)) is a fixed point */
    buf_init(&w);
    buf_init(&w2);
    if (batch_encode(b, &w) || batch_decode(w.data, w.len, &b2, &err) ||
        batch_encode(b2, &w2) || w.len != w2.len ||
        memcmp(w.data, w2.data, w.len) != 0 ||
        batch_num_rows(b2) != batch_num_rows(b))
        abort();
    buf_free(&w2);
    buf_free(&w);
    batch_destroy(&b);
    batch_destroy(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 3 && d[0] == 'B') {
        ember_batch *b = batch_new();
        buf w;
        size_t at = d[1];
        int rows = d[2] % 40;
        batch_add_column(b, "s", EMBER_TYPE_STRING);
        batch_add_column(b, "i", EMBER_TYPE_INT64);
        for (int r = 0; r < rows; r++) {
            const uint8_t *p = d + 3 + (size_t)r % (n - 3);
            if (*p & 1)
                batch_append_null(b, 0);
            else
                batch_append_str(b, 0, (const char *)p,
                                 (size_t)(*p % 5) > n - 3 - (size_t)(p - d - 3)
                                     ? 0
                                     : (size_t)(*p % 5));
            if (*p & 2)
                batch_append_null(b, 1);
            else
                batch_append_i64(b, 1, *p);
        }
        buf_init(&w);
        batch_encode(b, &w);
        batch_destroy(&b);
        if (w.len) {
            w.data[at % w.len] ^= (uint8_t)(d[n - 1] | 1);
            check(w.data, w.len);
        }
        buf_free(&w);
        return 0;
    }
    check(d, n);
    return 0;
}
