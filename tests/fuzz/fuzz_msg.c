/*
 * fuzz_msg.c -- libFuzzer target for core/rpc/msg.c.
 *
 * Every input goes through msg_peek_type and through every decoder (each
 * of which must accept or refuse it without reading out of bounds); what
 * decodes is checked for the promises a successful decode makes and freed.
 * A failed decode must come with EMBER_EPROTO or EMBER_ENOMEM and a
 * message.  Build and run with tests/fuzz/run-fuzz.sh.
 */
#include "rpc/msg.h"

#include <stdlib.h>
#include <string.h>

static void check_failure(int rc, const ember_error *err)
{
    if (rc >= 0)
        return;
    if ((rc != EMBER_EPROTO && rc != EMBER_ENOMEM) || err->code != rc ||
        !err->msg[0])
        abort(); /* a refusal without the promised code and message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_error err;
    int rc, t;

    memset(&err, 0, sizeof err);
    t = msg_peek_type(data, size, &err);
    if (t < 0)
        check_failure(t, &err);
    else if (t < 1 || t > MSG_TYPE_MAX || size < 4)
        abort();

    {
        msg_register m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_register_decode(data, size, &m, &err)) == 0) {
            if (!m.exec_id || !m.host || !m.data_endpoint || !m.plugins ||
                m.cores < 1)
                abort();
            msg_register_free(&m);
        }
        check_failure(rc, &err);
    }
    {
        msg_registered m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_registered_decode(data, size, &m, &err)) == 0) {
            if (!m.message || strlen(m.message) > size)
                abort();
            msg_registered_free(&m);
        }
        check_failure(rc, &err);
    }
    {
        msg_launch m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_launch_decode(data, size, &m, &err)) == 0) {
            size_t total = m.stage_len;
            if (m.ninputs < 0 || (m.ninputs > 0 && !m.inputs) ||
                (size_t)m.ninputs > size || m.stage_len > size ||
                (m.stage_len && !m.stage_bin))
                abort();
            for (int i = 0; i < m.ninputs; i++) {
                const msg_shuffle_in *in = &m.inputs[i];
                if (in->nmaps < 0 || (in->nmaps > 0 && !in->maps))
                    abort();
                for (int j = 0; j < in->nmaps; j++)
                    total += strlen(in->maps[j].exec_id) +
                             strlen(in->maps[j].endpoint);
            }
            if (total > size)
                abort();
            msg_launch_free(&m);
        }
        check_failure(rc, &err);
    }
    {
        msg_status m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_status_decode(data, size, &m, &err)) == 0) {
            uint64_t sum = 0;
            if (m.nsizes < 0 || (size_t)m.nsizes > size ||
                (m.nsizes > 0 && !m.sizes) || m.result_len > size)
                abort();
            for (int i = 0; i < m.nsizes; i++)
                sum += m.sizes[i];
            if (strlen(m.message) + strlen(m.traceback) + strlen(m.fetch_exec) >
                size)
                abort();
            (void)sum;
            msg_status_free(&m);
        }
        check_failure(rc, &err);
    }
    {
        msg_fetch m;
        memset(&err, 0, sizeof err);
        rc = msg_fetch_decode(data, size, &m, &err);
        if (rc == 0 && (m.shuffle_id < MSG_FETCH_BCAST || m.reduce_id < 0))
            abort();
        check_failure(rc, &err);
    }
    {
        msg_heartbeat m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_heartbeat_decode(data, size, &m, &err)) == 0) {
            if ((m.ntasks && !m.tasks) || !m.exec_id)
                abort();
            msg_heartbeat_free(&m);
        }
        check_failure(rc, &err);
    }
    {
        msg_block m;
        memset(&err, 0, sizeof err);
        if ((rc = msg_block_decode(data, size, &m, &err)) == 0) {
            if (m.len > size ||
                (m.len && (m.data < data || m.data + m.len > data + size)))
                abort();
            msg_block_free(&m);
        }
        check_failure(rc, &err);
    }
    for (int type = 1; type <= MSG_TYPE_MAX; type++) {
        char *id = NULL;
        uint64_t n;
        memset(&err, 0, sizeof err);
        if ((rc = msg_simple_decode(data, size, type, &id, &n, &err)) == 0) {
            if (!id || strlen(id) > size)
                abort();
            free(id);
        } else if (id) {
            abort(); /* *id must stay NULL on failure */
        }
        check_failure(rc, &err);
    }
    return 0;
}
