/*
 * test_blockfetch.c -- a task thread's block client (core/exec/blockfetch)
 * against a scripted fake transport and a fake clock: a block of this
 * executor read from its local directory without a socket; a remote fetch
 * (the request it sends, the answer it returns, the socket kept for the
 * next fetch); a server's error passed on; a server that never answers
 * (EMBER_ETIMEOUT after network.timeout, the socket dropped and reopened);
 * the data transport chosen only for peers on this host; a broadcast
 * fetched from the driver once, then served by the block manager.
 *
 * A core unit test: it links core/libember_core.a only, no Lua.
 */
#include "codec/blockcodec.h"
#include "config.h"
#include "exec/blockfetch.h"
#include "exec/blockmgr.h"
#include "exec/memmgr.h"
#include "rpc/msg.h"
#include "shuffle/shuffle_file.h"
#include "tap/tap.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <ember/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------ the fake clock */

static int64_t fake_now = 1000000;

static int64_t fake_ms(void)
{
    return fake_now;
}

/* ------------------------------------------------- the fake transport */

struct ember_tsock {
    const char *tp; /* "ctl" or "data" */
    char endpoint[128];
};

/* What the fake server answers: a block (status 0, data) or an error;
 * silent: never answer (recv times out, advancing the clock). */
static struct {
    int status;
    const char *message;
    buf data;
    int silent;
} answer;

/* What the client did. */
static struct {
    int connects, closes, sends;
    char last_connect[128];
    const char *last_connect_tp;
    msg_fetch last_fetch;
} seen;

static int fake_connect(const char *tp, const char *ep, ember_tsock **out)
{
    ember_tsock *s = calloc(1, sizeof *s);
    if (!s)
        bail("out of memory");
    s->tp = tp;
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep);
    seen.connects++;
    snprintf(seen.last_connect, sizeof seen.last_connect, "%s", ep);
    seen.last_connect_tp = tp;
    *out = s;
    return 0;
}

static int ctl_connect(void *ctx, const char *ep, ember_tsock **out,
                       ember_error *err)
{
    (void)ctx;
    (void)err;
    return fake_connect("ctl", ep, out);
}

static int data_connect(void *ctx, const char *ep, ember_tsock **out,
                        ember_error *err)
{
    (void)ctx;
    (void)err;
    return fake_connect("data", ep, out);
}

static int fake_send(ember_tsock *s, const ember_peer *to,
                     const void *const *parts, const size_t *lens, int nparts,
                     ember_error *err)
{
    (void)s;
    (void)to;
    seen.sends++;
    if (nparts != 1 ||
        msg_fetch_decode(parts[0], lens[0], &seen.last_fetch, err) != 0)
        bail("the client sent something that is not one MSG_FETCH");
    return 0;
}

static int fake_recv(ember_tsock *s, int timeout_ms, ember_peer *from,
                     ember_tmsg *msg, ember_error *err)
{
    buf *b;
    (void)s;
    (void)from;
    (void)err;
    if (answer.silent) {
        fake_now += timeout_ms;
        return EMBER_EAGAIN;
    }
    b = malloc(sizeof *b);
    if (!b)
        bail("out of memory");
    buf_init(b);
    msg_block_encode_header(b, answer.status, answer.message,
                            answer.status ? 0 : answer.data.len);
    if (!answer.status)
        buf_put(b, answer.data.data, answer.data.len);
    msg->data = b->data;
    msg->len = b->len;
    msg->handle = b;
    return 0;
}

static void fake_release(ember_tmsg *msg)
{
    buf *b = msg->handle;
    buf_free(b);
    free(b);
}

static void fake_close(ember_tsock *s)
{
    seen.closes++;
    free(s);
}

static const ember_transport_desc ctl_tp = {
    .struct_size = sizeof(ember_transport_desc),
    .name = "ctl",
    .connect = ctl_connect,
    .send = fake_send,
    .recv = fake_recv,
    .msg_release = fake_release,
    .sock_close = fake_close,
};

static const ember_transport_desc data_tp = {
    .struct_size = sizeof(ember_transport_desc),
    .name = "data",
    .connect = data_connect,
    .send = fake_send,
    .recv = fake_recv,
    .msg_release = fake_release,
    .sock_close = fake_close,
};

/* ------------------------------------------------------------- helpers */

static void set_answer(int status, const char *message, const char *data)
{
    answer.status = status;
    answer.message = message;
    answer.silent = 0;
    buf_reset(&answer.data);
    if (data)
        buf_put(&answer.data, data, strlen(data));
}

static int buf_is(const buf *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

int main(void)
{
    char dir[] = "/tmp/ember-test-blockfetch.XXXXXX";
    ember_error err = {0, ""};
    exec_ctx ctx;
    conf *c = conf_new();
    memmgr *mm = memmgr_new(64u << 20, 0.5, 1);
    blockfetch *bf;
    buf out, want;
    int64_t data_bytes = 0;
    int rc;

    plan(32);
    if (!mkdtemp(dir) || !c || !mm)
        bail("cannot set up");
    clock_override(fake_ms);
    buf_init(&answer.data);
    buf_init(&out);
    buf_init(&want);
    conf_set(c, "network.timeout", "5s", CONF_SRC_CMDLINE, NULL);

    memset(&ctx, 0, sizeof ctx);
    ctx.exec_id = "1";
    ctx.local_dir = dir;
    ctx.block_endpoint = "tcp://127.0.0.1:5000";
    ctx.tp = &ctl_tp;
    ctx.conf = c;
    ctx.mm = mm;
    ctx.bm = blockmgr_new(dir, mm);
    ctx.driver_block_endpoint = "tcp://127.0.0.9:7000";
    if (!ctx.bm)
        bail("cannot make a block manager");
    bf = blockfetch_new(&ctx, &err);
    ok(bf != NULL, "a client for the thread");

    /* ---- a block of this executor: from the local directory */
    {
        shuffle_writer *w = shuffle_writer_new(dir, 3, 7, 2, 1, &err);
        msg_maploc me = {7, (char *)"1", (char *)"tcp://127.0.0.1:5000"};
        if (!w || shuffle_writer_add(w, 1, "hello", 5, &err) ||
            shuffle_writer_add(w, 1, "world", 5, &err) ||
            shuffle_writer_commit(&w, NULL, &err))
            bail("cannot write a map output: %s", err.msg);
        rc = shuffle_read_block(dir, 3, 7, 1, &want, &err);
        is_int(0, rc, "the map output reads back directly");
        rc = blockfetch_get(bf, &me, 3, 1, &out, &data_bytes, &err);
        is_int(0, rc, "our own block: fetched");
        ok(out.len == want.len && memcmp(out.data, want.data, out.len) == 0,
           "with the bytes stored on disk");
        is_int(0, seen.connects, "without a socket");
        buf_reset(&out);
        rc = blockfetch_get(bf, &me, 3, 0, &out, &data_bytes, &err);
        is_int(0, rc, "an empty partition of it: fetched");
        rc = blockfetch_get(bf, &me, 4, 0, &out, &data_bytes, &err);
        is_int(EMBER_ENOTFOUND, rc, "a map output we do not have: not found");
    }

    /* ---- another executor: asked over the control transport */
    {
        msg_maploc peer = {9, (char *)"2", (char *)"tcp://10.0.0.2:6000"};
        set_answer(0, "", "frames");
        buf_reset(&out);
        rc = blockfetch_get(bf, &peer, 5, 2, &out, &data_bytes, &err);
        is_int(0, rc, "a remote block: fetched");
        ok(buf_is(&out, "frames"), "with the server's bytes");
        is_string("tcp://10.0.0.2:6000", seen.last_connect,
                  "from the peer's endpoint");
        ok(seen.last_fetch.shuffle_id == 5 &&
               seen.last_fetch.map_task_id == 9 &&
               seen.last_fetch.reduce_id == 2,
           "asking for shuffle 5, map task 9, reduce 2");
        is_int(0, (int)data_bytes, "no bytes counted for transport.data");
        rc = blockfetch_get(bf, &peer, 5, 3, &out, &data_bytes, &err);
        is_int(1, seen.connects, "the socket is kept for the next fetch");
        ok(rc == 0 && buf_is(&out, "framesframes"), "appended to out");

        set_answer(EMBER_ENOTFOUND, "no block shuffle_5_9_4", NULL);
        buf_reset(&out);
        rc = blockfetch_get(bf, &peer, 5, 4, &out, &data_bytes, &err);
        is_int(EMBER_ENOTFOUND, rc, "the server's error code");
        is_string("no block shuffle_5_9_4", err.msg, "and its message");
        is_int(0, (int)out.len, "nothing appended");
        is_int(0, seen.closes, "the socket stays after a refusal");

        answer.silent = 1;
        err.msg[0] = '\0';
        rc = blockfetch_get(bf, &peer, 5, 2, &out, &data_bytes, &err);
        is_int(EMBER_ETIMEOUT, rc, "a silent server: timeout");
        like(err.msg,
             "no answer from executor 2 (tcp://10.0.0.2:6000) "
             "within 5000 ms",
             "naming the executor, its endpoint and network.timeout");
        is_int(1, seen.closes, "the socket is dropped");
        set_answer(0, "", "again");
        buf_reset(&out);
        rc = blockfetch_get(bf, &peer, 5, 2, &out, &data_bytes, &err);
        ok(rc == 0 && buf_is(&out, "again") && seen.connects == 2,
           "and opened again by the next fetch");
    }

    /* ---- transport.data: only for a peer on this host */
    blockfetch_destroy(&bf);
    ok(bf == NULL && seen.closes == 2, "destroy closes the sockets");
    ctx.block_endpoint = "tcp://127.0.0.1:5000;shm://ember-1";
    ctx.data_tp = &data_tp;
    bf = blockfetch_new(&ctx, &err);
    {
        msg_maploc here = {1, (char *)"3",
                           (char *)"tcp://127.0.0.1:6001;shm://ember-3"};
        msg_maploc there = {1, (char *)"4",
                            (char *)"tcp://10.0.0.4:6001;shm://ember-4"};
        set_answer(0, "", "0123456789");
        buf_reset(&out);
        rc = blockfetch_get(bf, &here, 1, 0, &out, &data_bytes, &err);
        is_int(0, rc, "a peer on this host: fetched");
        is_string("shm://ember-3", seen.last_connect,
                  "from its transport.data endpoint");
        is_string("data", seen.last_connect_tp, "over transport.data");
        is_int(10, (int)data_bytes, "its bytes counted as transport.data's");
        rc = blockfetch_get(bf, &there, 1, 0, &out, &data_bytes, &err);
        ok(rc == 0 && strcmp(seen.last_connect, "tcp://10.0.0.4:6001") == 0 &&
               strcmp(seen.last_connect_tp, "ctl") == 0,
           "a peer on another host: its tcp endpoint, control transport");
        is_int(10, (int)data_bytes, "not counted as transport.data's");
    }

    /* ---- broadcasts: fetched from the driver once, then kept */
    {
        buf frames, raw;
        int sends;
        buf_init(&frames);
        buf_init(&raw);
        blockcodec_encode(&frames, "the value", 9, 1);
        set_answer(0, "", NULL);
        buf_put(&answer.data, frames.data, frames.len);
        rc = blockfetch_broadcast(bf, 42, &raw, &err);
        ok(rc == 0 && buf_is(&raw, "the value"),
           "a broadcast: fetched and decoded");
        ok(seen.last_fetch.shuffle_id == MSG_FETCH_BCAST &&
               seen.last_fetch.map_task_id == 42 &&
               strcmp(seen.last_connect, "tcp://127.0.0.9:7000") == 0,
           "from the driver's block server");
        sends = seen.sends;
        answer.silent = 1;
        buf_reset(&raw);
        rc = blockfetch_broadcast(bf, 42, &raw, &err);
        ok(rc == 0 && buf_is(&raw, "the value") && seen.sends == sends,
           "the second read comes from the block manager");
        buf_free(&frames);
        buf_free(&raw);
    }

    blockfetch_destroy(&bf);
    blockfetch_destroy(&bf); /* accepts NULL */
    clock_override(NULL);
    blockmgr_destroy(&ctx.bm);
    memmgr_destroy(&mm);
    conf_destroy(&c);
    buf_free(&out);
    buf_free(&want);
    buf_free(&answer.data);
    rm_rf(dir);
    return done_testing();
}
