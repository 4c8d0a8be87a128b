/*
 * fuzz_creds.c -- libFuzzer target for the credentials text an executor
 * reads from its launch channel (core/sec/sec.c, sec_creds_parse).
 *
 * Every input is parsed; a refusal must come with EMBER_EINVAL and a
 * message and leave the credentials wiped; what parses must hold valid
 * ids and keypairs whose secret halves match their public ones.  Build
 * and run with tests/fuzz/run-fuzz.sh.
 */
#include "sec/sec.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    sec_creds c;
    ember_error err;
    uint8_t pub[EMBER_KEY_BYTES];
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        ready = 1;
    }
    memset(&err, 0, sizeof err);
    int rc = sec_creds_parse((const char *)data, size, &c, &err);
    if (rc != 0) {
        if (rc != EMBER_EINVAL || err.code != rc || !err.msg[0])
            abort();
        for (size_t i = 0; i < sizeof c; i++)
            if (((const uint8_t *)&c)[i])
                abort(); /* refused credentials must be wiped */
        return 0;
    }
    if (!sec_id_valid(c.app_id) || !sec_id_valid(c.exec_id))
        abort();
    if (crypto_scalarmult_base(pub, c.self.sec) != 0 ||
        memcmp(pub, c.self.pub, EMBER_KEY_BYTES) != 0 ||
        crypto_scalarmult_base(pub, c.data.sec) != 0 ||
        memcmp(pub, c.data.pub, EMBER_KEY_BYTES) != 0)
        abort();
    sec_creds_wipe(&c);
    return 0;
}
