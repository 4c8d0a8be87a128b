/*
 * msg.c -- encoding and bounds-checked decoding of ember's wire messages.
 *
 * Layout: 'E' 'M' version type, then the fields of the type in the order
 * of the structs in msg.h.  Counts are checked against the bytes left
 * before anything is allocated, so a hostile count cannot make us allocate
 * more than the message's own size.  Identifiers (executor ids) must pass
 * sec_id_valid and host names be printable, so nothing that decodes can
 * smuggle a path or a control character into logs.  No state; any thread.
 */
#include "msg.h"

#include "sec/sec.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static const char *names[] = {"?",
                              "register",
                              "registered",
                              "launch",
                              "status",
                              "heartbeat",
                              "heartbeat-ack",
                              "stop",
                              "fetch",
                              "block",
                              "kill",
                              "remove-rdd",
                              "remove-broadcast"};

const char *msg_type_name(int type)
{
    return (type > 0 && type <= MSG_TYPE_MAX) ? names[type] : "unknown";
}

void msg_begin(buf *b, int type)
{
    uint8_t h[4] = {'E', 'M', MSG_VERSION, (uint8_t)type};
    buf_put(b, h, 4);
}

int msg_peek_type(const void *data, size_t len, ember_error *err)
{
    const uint8_t *p = data;
    if (len < 4 || p[0] != 'E' || p[1] != 'M')
        return ember_seterr(err, EMBER_EPROTO,
                            "not an ember message (%zu bytes, bad header)",
                            len);
    if (p[2] != MSG_VERSION)
        return ember_seterr(err, EMBER_EPROTO,
                            "unsupported protocol version %u (this ember "
                            "speaks %d)",
                            p[2], MSG_VERSION);
    if (p[3] == 0 || p[3] > MSG_TYPE_MAX)
        return ember_seterr(err, EMBER_EPROTO, "unknown message type %u", p[3]);
    return p[3];
}

static int open_rd(rd *r, const void *p, size_t n, int type, ember_error *err)
{
    int t = msg_peek_type(p, n, err);
    if (t < 0)
        return t;
    if (t != type)
        return ember_seterr(err, EMBER_EPROTO, "expected a %s message, got %s",
                            msg_type_name(type), msg_type_name(t));
    rd_init(r, p, n);
    rd_bytes(r, 4);
    return 0;
}

static int close_rd(rd *r, int type, ember_error *err)
{
    if (!rd_ok(r))
        return ember_seterr(err, EMBER_EPROTO,
                            "truncated or malformed %s "
                            "message",
                            msg_type_name(type));
    if (rd_left(r) != 0)
        return ember_seterr(err, EMBER_EPROTO,
                            "%zu unexpected trailing bytes in %s message",
                            rd_left(r), msg_type_name(type));
    return 0;
}

static int enc_done(buf *b)
{
    return b->oom ? EMBER_ENOMEM : 0;
}

/* a string field that must be present (not NULL after decode) */
static char *rd_str(rd *r)
{
    char *s = rd_strdup(r);
    return s;
}

/* A host name or address: 1..255 printable ASCII bytes, no spaces. */
static int host_valid(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (h[i] <= ' ' || h[i] > '~' || h[i] == '/')
            return 0;
    return 1;
}

#define MAX_CORES 65536

static int rd_int(rd *r)
{
    int64_t v = rd_svarint(r);
    if (v < INT32_MIN || v > INT32_MAX)
        r->failed = 1;
    return (int)v;
}

/* ---------------------------------------------------------- register */

int msg_register_encode(buf *b, const msg_register *m)
{
    msg_begin(b, MSG_REGISTER);
    buf_put_str(b, m->exec_id);
    buf_put_str(b, m->host);
    buf_put_svarint(b, m->pid);
    buf_put_svarint(b, m->cores);
    buf_put_svarint(b, m->memory_mb);
    buf_put_str(b, m->data_endpoint);
    buf_put_str(b, m->plugins);
    return enc_done(b);
}

int msg_register_decode(const void *p, size_t n, msg_register *m,
                        ember_error *err)
{
    rd r;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_REGISTER, err)))
        return rc;
    m->exec_id = rd_str(&r);
    m->host = rd_str(&r);
    m->pid = rd_svarint(&r);
    m->cores = rd_int(&r);
    m->memory_mb = rd_svarint(&r);
    m->data_endpoint = rd_str(&r);
    m->plugins = rd_str(&r);
    if ((rc = close_rd(&r, MSG_REGISTER, err)) == 0) {
        if (m->cores < 1 || m->cores > MAX_CORES)
            rc = ember_seterr(err, EMBER_EPROTO, "register: bad core count %d",
                              m->cores);
        else if (!sec_id_valid(m->exec_id))
            rc = ember_seterr(err, EMBER_EPROTO,
                              "register: the executor id is not an id "
                              "(1-63 of A-Z a-z 0-9 . _ -)");
        else if (!host_valid(m->host))
            rc = ember_seterr(err, EMBER_EPROTO,
                              "register: the host is not a host name");
        else if (m->memory_mb < 0)
            rc = ember_seterr(err, EMBER_EPROTO, "register: negative memory");
    }
    if (rc)
        msg_register_free(m);
    return rc;
}

void msg_register_free(msg_register *m)
{
    free(m->exec_id);
    free(m->host);
    free(m->data_endpoint);
    free(m->plugins);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------- registered */

int msg_registered_encode(buf *b, const msg_registered *m)
{
    msg_begin(b, MSG_REGISTERED);
    buf_put_u8(b, (uint8_t)(m->ok != 0));
    buf_put_str(b, m->message);
    buf_put_svarint(b, m->heartbeat_ms);
    buf_put_svarint(b, m->timeout_ms);
    buf_put_str(b, m->block_endpoint);
    return enc_done(b);
}

int msg_registered_decode(const void *p, size_t n, msg_registered *m,
                          ember_error *err)
{
    rd r;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_REGISTERED, err)))
        return rc;
    m->ok = rd_u8(&r);
    m->message = rd_str(&r);
    m->heartbeat_ms = rd_svarint(&r);
    m->timeout_ms = rd_svarint(&r);
    m->block_endpoint = rd_str(&r);
    if ((rc = close_rd(&r, MSG_REGISTERED, err)))
        msg_registered_free(m);
    return rc;
}

void msg_registered_free(msg_registered *m)
{
    free(m->block_endpoint);
    free(m->message);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ launch */

int msg_launch_encode(buf *b, const msg_launch *m)
{
    msg_begin(b, MSG_LAUNCH);
    buf_put_varint(b, m->task_id);
    buf_put_svarint(b, m->job_id);
    buf_put_svarint(b, m->stage_id);
    buf_put_svarint(b, m->stage_attempt);
    buf_put_svarint(b, m->partition);
    buf_put_svarint(b, m->attempt);
    buf_put_svarint(b, m->kind);
    buf_put_svarint(b, m->out_partitions);
    buf_put_lstr(b, m->stage_bin, m->stage_bin ? m->stage_len : 0);
    buf_put_varint(b, (uint64_t)m->ninputs);
    for (int i = 0; i < m->ninputs; i++) {
        const msg_shuffle_in *in = &m->inputs[i];
        buf_put_svarint(b, in->shuffle_id);
        buf_put_varint(b, (uint64_t)in->nmaps);
        for (int j = 0; j < in->nmaps; j++) {
            buf_put_varint(b, in->maps[j].map_task_id);
            buf_put_str(b, in->maps[j].exec_id);
            buf_put_str(b, in->maps[j].endpoint);
        }
    }
    buf_put_varint(b, m->stage_bcast);
    return enc_done(b);
}

int msg_launch_decode(const void *p, size_t n, msg_launch *m, ember_error *err)
{
    rd r;
    int rc;
    size_t len;
    const char *bin;
    uint64_t nin;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_LAUNCH, err)))
        return rc;
    m->task_id = rd_varint(&r);
    m->job_id = rd_int(&r);
    m->stage_id = rd_int(&r);
    m->stage_attempt = rd_int(&r);
    m->partition = rd_int(&r);
    m->attempt = rd_int(&r);
    m->kind = rd_int(&r);
    m->out_partitions = rd_int(&r);
    bin = rd_lstr(&r, &len);
    if (bin && len) {
        if (!(m->stage_bin = malloc(len)))
            goto oom;
        memcpy(m->stage_bin, bin, len);
        m->stage_len = len;
    }
    nin = rd_varint(&r);
    if (!rd_ok(&r) || nin > rd_left(&r))
        goto bad;
    if (nin) {
        if (!(m->inputs = calloc((size_t)nin, sizeof *m->inputs)))
            goto oom;
        m->ninputs = (int)nin;
    }
    for (int i = 0; i < m->ninputs; i++) {
        msg_shuffle_in *in = &m->inputs[i];
        uint64_t nm;
        in->shuffle_id = rd_int(&r);
        nm = rd_varint(&r);
        if (!rd_ok(&r) || nm > rd_left(&r))
            goto bad;
        if (nm && !(in->maps = calloc((size_t)nm, sizeof *in->maps)))
            goto oom;
        in->nmaps = (int)nm;
        for (int j = 0; j < in->nmaps; j++) {
            in->maps[j].map_task_id = rd_varint(&r);
            in->maps[j].exec_id = rd_str(&r);
            in->maps[j].endpoint = rd_str(&r);
        }
        if (!rd_ok(&r))
            goto bad;
    }
    m->stage_bcast = rd_varint(&r);
    if (m->kind != TASK_RESULT && m->kind != TASK_SHUFFLE_MAP)
        r.failed = 1;
    rc = close_rd(&r, MSG_LAUNCH, err);
    for (int i = 0; rc == 0 && i < m->ninputs; i++)
        for (int j = 0; rc == 0 && j < m->inputs[i].nmaps; j++)
            if (*m->inputs[i].maps[j].exec_id &&
                !sec_id_valid(m->inputs[i].maps[j].exec_id))
                rc = ember_seterr(err, EMBER_EPROTO,
                                  "launch: a map output's executor id is not "
                                  "an id");
    if (rc)
        msg_launch_free(m);
    return rc;
bad:
    msg_launch_free(m);
    return ember_seterr(err, EMBER_EPROTO,
                        "truncated or malformed launch "
                        "message");
oom:
    msg_launch_free(m);
    return ember_seterr(err, EMBER_ENOMEM, "out of memory");
}

void msg_launch_free(msg_launch *m)
{
    for (int i = 0; i < m->ninputs && m->inputs; i++) {
        for (int j = 0; j < m->inputs[i].nmaps && m->inputs[i].maps; j++) {
            free(m->inputs[i].maps[j].exec_id);
            free(m->inputs[i].maps[j].endpoint);
        }
        free(m->inputs[i].maps);
    }
    free(m->inputs);
    free(m->stage_bin);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ status */

int msg_status_encode(buf *b, const msg_status *m)
{
    msg_begin(b, MSG_STATUS);
    buf_put_varint(b, m->task_id);
    buf_put_svarint(b, m->state);
    buf_put_lstr(b, m->result, m->result ? m->result_len : 0);
    buf_put_varint(b, (uint64_t)m->nsizes);
    for (int i = 0; i < m->nsizes; i++)
        buf_put_varint(b, m->sizes[i]);
    buf_put_svarint(b, m->fail_kind);
    buf_put_str(b, m->message);
    buf_put_str(b, m->traceback);
    buf_put_svarint(b, m->fetch_shuffle);
    buf_put_varint(b, m->fetch_map_task);
    buf_put_str(b, m->fetch_exec);
    buf_put_svarint(b, m->run_us);
    buf_put_svarint(b, m->records_in);
    buf_put_svarint(b, m->records_out);
    buf_put_svarint(b, m->shuffle_read_bytes);
    buf_put_svarint(b, m->shuffle_write_bytes);
    buf_put_lstr(b, m->accum, m->accum ? m->accum_len : 0);
    buf_put_varint(b, m->indirect_size);
    buf_put_svarint(b, m->peak_memory);
    buf_put_varint(b, m->result_raw_size);
    buf_put_lstr(b, m->blocks, m->blocks ? m->blocks_len : 0);
    buf_put_svarint(b, m->spill_bytes);
    buf_put_svarint(b, m->data_transport_bytes);
    return enc_done(b);
}

int msg_status_decode(const void *p, size_t n, msg_status *m, ember_error *err)
{
    rd r;
    int rc;
    size_t len;
    const char *res;
    uint64_t ns;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_STATUS, err)))
        return rc;
    m->task_id = rd_varint(&r);
    m->state = rd_int(&r);
    res = rd_lstr(&r, &len);
    if (res && len) {
        if (!(m->result = malloc(len)))
            goto oom;
        memcpy(m->result, res, len);
        m->result_len = len;
    }
    ns = rd_varint(&r);
    if (!rd_ok(&r) || ns > rd_left(&r))
        goto bad;
    if (ns) {
        if (!(m->sizes = calloc((size_t)ns, sizeof *m->sizes)))
            goto oom;
        m->nsizes = (int)ns;
        for (int i = 0; i < m->nsizes; i++)
            m->sizes[i] = rd_varint(&r);
    }
    m->fail_kind = rd_int(&r);
    m->message = rd_str(&r);
    m->traceback = rd_str(&r);
    m->fetch_shuffle = rd_int(&r);
    m->fetch_map_task = rd_varint(&r);
    m->fetch_exec = rd_str(&r);
    m->run_us = rd_svarint(&r);
    m->records_in = rd_svarint(&r);
    m->records_out = rd_svarint(&r);
    m->shuffle_read_bytes = rd_svarint(&r);
    m->shuffle_write_bytes = rd_svarint(&r);
    res = rd_lstr(&r, &len);
    if (res && len) {
        if (!(m->accum = malloc(len)))
            goto oom;
        memcpy(m->accum, res, len);
        m->accum_len = len;
    }
    m->indirect_size = rd_varint(&r);
    m->peak_memory = rd_svarint(&r);
    m->result_raw_size = rd_varint(&r);
    res = rd_lstr(&r, &len);
    if (res && len) {
        if (!(m->blocks = malloc(len)))
            goto oom;
        memcpy(m->blocks, res, len);
        m->blocks_len = len;
    }
    m->spill_bytes = rd_svarint(&r);
    m->data_transport_bytes = rd_svarint(&r);
    if (m->state < TASK_FINISHED || m->state > TASK_KILLED)
        r.failed = 1;
    rc = close_rd(&r, MSG_STATUS, err);
    if (rc == 0 && m->fetch_exec && *m->fetch_exec &&
        !sec_id_valid(m->fetch_exec))
        rc = ember_seterr(err, EMBER_EPROTO,
                          "status: the failed fetch's executor id is not an "
                          "id");
    if (rc)
        msg_status_free(m);
    return rc;
bad:
    msg_status_free(m);
    return ember_seterr(err, EMBER_EPROTO,
                        "truncated or malformed status message");
oom:
    msg_status_free(m);
    return ember_seterr(err, EMBER_ENOMEM, "out of memory");
}

void msg_status_free(msg_status *m)
{
    free(m->blocks);
    free(m->accum);
    free(m->result);
    free(m->sizes);
    free(m->message);
    free(m->traceback);
    free(m->fetch_exec);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------- fetch/block */

int msg_fetch_encode(buf *b, const msg_fetch *m)
{
    msg_begin(b, MSG_FETCH);
    buf_put_svarint(b, m->shuffle_id);
    buf_put_varint(b, m->map_task_id);
    buf_put_svarint(b, m->reduce_id);
    return enc_done(b);
}

int msg_fetch_decode(const void *p, size_t n, msg_fetch *m, ember_error *err)
{
    rd r;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_FETCH, err)))
        return rc;
    m->shuffle_id = rd_int(&r);
    m->map_task_id = rd_varint(&r);
    m->reduce_id = rd_int(&r);
    if (m->shuffle_id < MSG_FETCH_BCAST || m->reduce_id < 0)
        r.failed = 1;
    return close_rd(&r, MSG_FETCH, err);
}

int msg_block_encode_header(buf *b, int status, const char *message, size_t len)
{
    msg_begin(b, MSG_BLOCK);
    buf_put_svarint(b, status);
    buf_put_str(b, message);
    buf_put_varint(b, len);
    return enc_done(b);
}

int msg_block_decode(const void *p, size_t n, msg_block *m, ember_error *err)
{
    rd r;
    int rc;
    uint64_t len;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_BLOCK, err)))
        return rc;
    m->status = rd_int(&r);
    m->message = rd_str(&r);
    len = rd_varint(&r);
    if (!rd_ok(&r) || len != rd_left(&r)) {
        msg_block_free(m);
        return ember_seterr(err, EMBER_EPROTO,
                            "malformed block message (declared %llu bytes)",
                            (unsigned long long)len);
    }
    m->data = (uint8_t *)rd_bytes(&r, (size_t)len);
    m->len = (size_t)len;
    return 0;
}

void msg_block_free(msg_block *m)
{
    free(m->message);
    memset(m, 0, sizeof *m);
}

/* --------------------------------------------------------- heartbeat */

int msg_heartbeat_encode(buf *b, const msg_heartbeat *m)
{
    msg_begin(b, MSG_HEARTBEAT);
    buf_put_str(b, m->exec_id);
    buf_put_varint(b, m->seq);
    buf_put_svarint(b, m->rss);
    buf_put_svarint(b, m->peak_rss);
    buf_put_varint(b, (uint64_t)m->ntasks);
    for (int i = 0; i < m->ntasks; i++) {
        buf_put_varint(b, m->tasks[i].task_id);
        buf_put_svarint(b, m->tasks[i].run_ms);
        buf_put_svarint(b, m->tasks[i].records_in);
        buf_put_svarint(b, m->tasks[i].memory);
        buf_put_varint(b, (uint64_t)m->tasks[i].nacc);
        for (int k = 0; k < m->tasks[i].nacc && k < MSG_MAX_ACC; k++) {
            buf_put_svarint(b, m->tasks[i].acc_id[k]);
            buf_put_f64(b, m->tasks[i].acc_value[k]);
        }
    }
    return enc_done(b);
}

int msg_heartbeat_decode(const void *p, size_t n, msg_heartbeat *m,
                         ember_error *err)
{
    rd r;
    int rc;
    uint64_t nt;
    memset(m, 0, sizeof *m);
    if ((rc = open_rd(&r, p, n, MSG_HEARTBEAT, err)))
        return rc;
    m->exec_id = rd_str(&r);
    m->seq = rd_varint(&r);
    m->rss = rd_svarint(&r);
    m->peak_rss = rd_svarint(&r);
    nt = rd_varint(&r);
    if (!rd_ok(&r) || nt > rd_left(&r)) {
        msg_heartbeat_free(m);
        return ember_seterr(err, EMBER_EPROTO,
                            "truncated or malformed heartbeat message");
    }
    if (nt && !(m->tasks = calloc((size_t)nt, sizeof *m->tasks))) {
        msg_heartbeat_free(m);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    m->ntasks = (int)nt;
    for (int i = 0; i < m->ntasks; i++) {
        m->tasks[i].task_id = rd_varint(&r);
        m->tasks[i].run_ms = rd_svarint(&r);
        m->tasks[i].records_in = rd_svarint(&r);
        m->tasks[i].memory = rd_svarint(&r);
        {
            uint64_t na = rd_varint(&r);
            if (na > MSG_MAX_ACC)
                r.failed = 1;
            m->tasks[i].nacc = rd_ok(&r) ? (int)na : 0;
            for (int k = 0; k < m->tasks[i].nacc; k++) {
                m->tasks[i].acc_id[k] = rd_svarint(&r);
                m->tasks[i].acc_value[k] = rd_f64(&r);
            }
        }
    }
    rc = close_rd(&r, MSG_HEARTBEAT, err);
    if (rc == 0 && !sec_id_valid(m->exec_id))
        rc = ember_seterr(err, EMBER_EPROTO,
                          "heartbeat: the executor id is not an id");
    if (rc)
        msg_heartbeat_free(m);
    return rc;
}

void msg_heartbeat_free(msg_heartbeat *m)
{
    free(m->exec_id);
    free(m->tasks);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ simple */

int msg_simple_encode(buf *b, int type, const char *id, uint64_t n)
{
    msg_begin(b, type);
    buf_put_str(b, id);
    buf_put_varint(b, n);
    return enc_done(b);
}

int msg_simple_decode(const void *p, size_t len, int type, char **id,
                      uint64_t *n, ember_error *err)
{
    rd r;
    int rc;
    char *s;
    *id = NULL;
    if ((rc = open_rd(&r, p, len, type, err)))
        return rc;
    s = rd_str(&r);
    *n = rd_varint(&r);
    if ((rc = close_rd(&r, type, err))) {
        free(s);
        return rc;
    }
    *id = s;
    return 0;
}
