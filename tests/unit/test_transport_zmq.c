/*
 * test_transport_zmq.c -- unit test of the transport_zmq plugin.
 *
 * Loads the plugin .so (argv[1] or $EMBER_TEST_PLUGIN) with dlopen, checks
 * its descriptor and registration through the fake host, then drives the
 * transport over loopback TCP and an ipc socket in a temporary directory:
 * round trips, timeouts, wake() from another thread, unknown peers, ordering,
 * a 64 MiB message, bad endpoints, and malformed frames sent by a raw zmq
 * socket (libzmq is dlopened for that; those tests skip if it is missing).
 * Binds 127.0.0.1 only, every wait is bounded, and it leaves no files.
 */
#include "tap/tap.h"
#include "fake_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h> /* constants only: libzmq itself is reached via dlsym */

static const ember_transport_desc *T;
static void *ctx;

#define WAIT_MS 10000 /* upper bound for anything that should be quick */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_str(ember_tsock *s, const ember_peer *to, const char *str,
                    ember_error *err)
{
    const void *parts[1] = {str};
    size_t lens[1] = {strlen(str)};
    return T->send(s, to, parts, lens, 1, err);
}

/* Receive one message and copy it as a string (truncated) into buf. */
static int recv_str(ember_tsock *s, ember_peer *from, char *buf, size_t n,
                    ember_error *err)
{
    ember_tmsg m;
    int rc = T->recv(s, WAIT_MS, from, &m, err);
    buf[0] = '\0';
    if (rc == 0) {
        size_t k = m.len < n - 1 ? m.len : n - 1;
        memcpy(buf, m.data, k);
        buf[k] = '\0';
        T->msg_release(&m);
    }
    return rc;
}

/* ------------------------------------------------------------ loading */

static void *load(int argc, char **argv)
{
    void *handle;
    fake_load_checked(argc, argv, "test_transport_zmq", "transport_zmq",
                      &handle);
    T = fake_host_st.transport;
    if (!ok(T != NULL, "init registered a transport"))
        bail("no transport");
    is_string("zmq", T->name, "transport name");
    ok(T->struct_size >= sizeof(ember_transport_desc),
       "transport struct_size covers the whole struct");
    ok(T->open && T->close && T->listen && T->connect && T->send && T->recv &&
           T->msg_release && T->wake && T->sock_close,
       "all transport functions are set");
    is_int(0, fake_host_st.nops, "no operators registered");
    ok(fake_host_st.clustermgr == NULL, "no cluster manager registered");
    return handle;
}

/* ------------------------------------------------------- tcp round trip */

static void test_tcp(ember_tsock **srv_out, ember_tsock **cli_out, char *bound,
                     size_t boundlen)
{
    ember_error err = {0};
    ember_tsock *srv = NULL, *cli = NULL;
    int rc = T->listen(ctx, "tcp://127.0.0.1:*", &srv, bound, boundlen, &err);
    if (!ok(rc == 0 && srv, "listen on tcp://127.0.0.1:* %s", err.msg))
        bail("cannot listen");
    like(bound, "tcp://127.0.0.1:", "bound endpoint reported: %s", bound);
    const char *colon = strrchr(bound, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    ok(port > 0 && port < 65536, "bound endpoint has a real port (%ld)", port);

    rc = T->connect(ctx, bound, &cli, &err);
    if (!ok(rc == 0 && cli, "connect to %s %s", bound, err.msg))
        bail("cannot connect");

    const char *a = "hello", *b = ", ", *c = "world!";
    const void *parts[3] = {a, b, c};
    size_t lens[3] = {5, 2, 6};
    rc = T->send(cli, NULL, parts, lens, 3, &err);
    is_int(0, rc, "client sends 3 parts %s", err.msg);

    ember_peer from;
    memset(&from, 0xAA, sizeof from);
    ember_tmsg m;
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    is_int(0, rc, "server receives %s", rc ? err.msg : "");
    is_int(13, m.len, "parts arrive as one message of the summed length");
    ok(m.len == 13 && memcmp(m.data, "hello, world!", 13) == 0,
       "parts are concatenated in order");
    ok(from.len > 0 && from.len <= sizeof from.id, "sender identity (%d bytes)",
       from.len);
    ok(m.handle != NULL, "message has a handle until released");
    T->msg_release(&m);
    ok(m.handle == NULL && m.data == NULL, "msg_release clears the message");
    T->msg_release(&m); /* twice: must be harmless */
    ok(1, "releasing a released message is harmless");

    rc = send_str(srv, &from, "pong", &err);
    is_int(0, rc, "server replies to the sender %s", err.msg);
    char buf[64];
    ember_peer cfrom;
    memset(&cfrom, 0x55, sizeof cfrom);
    rc = recv_str(cli, &cfrom, buf, sizeof buf, &err);
    is_int(0, rc, "client receives the reply %s", err.msg);
    is_string("pong", buf, "reply content");
    is_int(0, cfrom.len, "a client socket reports no peer identity");

    /* an empty message (zero parts) is a message too */
    rc = T->send(cli, NULL, NULL, NULL, 0, &err);
    is_int(0, rc, "client sends an empty message");
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    ok(rc == 0 && m.len == 0, "server receives an empty message");
    T->msg_release(&m);

    *srv_out = srv;
    *cli_out = cli;
}

/* --------------------------------------------------------------- ipc */

static void test_ipc(void)
{
    char dir[] = "/tmp/ember-tzmq-XXXXXX";
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    char ep[256], bound[256] = "";
    snprintf(ep, sizeof ep, "ipc://%s/s.sock", dir);
    ember_error err = {0};
    ember_tsock *srv = NULL, *cli = NULL;
    int rc = T->listen(ctx, ep, &srv, bound, sizeof bound, &err);
    is_int(0, rc, "listen on %s %s", ep, err.msg);
    is_string(ep, bound, "ipc bound endpoint is the endpoint");
    if (rc == 0) {
        rc = T->connect(ctx, bound, &cli, &err);
        is_int(0, rc, "connect over ipc %s", err.msg);
        send_str(cli, NULL, "over ipc", &err);
        ember_peer from;
        char buf[64];
        rc = recv_str(srv, &from, buf, sizeof buf, &err);
        ok(rc == 0 && strcmp(buf, "over ipc") == 0, "ipc client -> server");
        send_str(srv, &from, "back", &err);
        rc = recv_str(cli, NULL, buf, sizeof buf, &err);
        ok(rc == 0 && strcmp(buf, "back") == 0,
           "ipc server -> client (from may be NULL)");
        T->sock_close(cli);
        T->sock_close(srv);
    }
    /* zmq removes the socket file when the listener closes */
    char path[300];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    unlink(path);
    is_int(0, rmdir(dir), "temporary ipc directory removed");
}

/* ------------------------------------------------- timeouts and wake() */

typedef struct waker {
    ember_tsock *s;
    int delay_ms;
    int rc;
} waker;

static void *waker_main(void *arg)
{
    waker *w = arg;
    struct timespec ts = {w->delay_ms / 1000, (w->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    w->rc = T->wake(w->s);
    return NULL;
}

static void test_timeout_and_wake(ember_tsock *srv)
{
    ember_error err = {0};
    ember_tmsg m;
    ember_peer from;
    int64_t t0 = now_ms();
    int rc = T->recv(srv, 200, &from, &m, &err);
    int64_t took = now_ms() - t0;
    is_int(EMBER_EAGAIN, rc, "recv times out with EMBER_EAGAIN");
    ok(took >= 100, "recv waited for the timeout (%lld ms for 200)",
       (long long)took);
    is_int(EMBER_EAGAIN, T->recv(srv, 0, &from, &m, &err),
           "recv with timeout 0 polls");

    waker w = {srv, 100, -99};
    pthread_t th;
    pthread_create(&th, NULL, waker_main, &w);
    t0 = now_ms();
    rc = T->recv(srv, -1, &from, &m, &err);
    took = now_ms() - t0;
    pthread_join(th, NULL);
    is_int(EMBER_EWOKEN, rc, "wake() from another thread ends recv(-1)");
    is_int(0, w.rc, "wake() returns 0");
    ok(took >= 50, "recv(-1) was blocked until woken (%lld ms)",
       (long long)took);

    is_int(0, T->wake(srv), "wake() before recv");
    is_int(0, T->wake(srv), "a second wake() coalesces");
    t0 = now_ms();
    rc = T->recv(srv, 5000, &from, &m, &err);
    is_int(EMBER_EWOKEN, rc, "the next recv returns EMBER_EWOKEN");
    ok(now_ms() - t0 < 4000, "... without waiting for the timeout");
    is_int(EMBER_EAGAIN, T->recv(srv, 0, &from, &m, &err),
           "the wake-up is consumed");
}

/* ------------------------------------------------------------- errors */

static void test_send_errors(ember_tsock *srv, ember_tsock *cli)
{
    ember_error err = {0};
    ember_peer nobody = {5, "nope!"};
    int rc = send_str(srv, &nobody, "lost", &err);
    is_int(EMBER_ECLOSED, rc, "send to an unknown peer fails");
    like(err.msg, "peer unknown", "... with a message");

    memset(&err, 0, sizeof err);
    rc = send_str(srv, NULL, "x", &err);
    is_int(EMBER_EINVAL, rc, "send on a listening socket needs a peer");
    like(err.msg, "needs a peer", "... says so");
    rc = send_str(cli, &nobody, "x", &err);
    is_int(EMBER_EINVAL, rc, "send on a client socket takes no peer");
}

static void test_bad_endpoints(const char *bound)
{
    ember_error err = {0};
    ember_tsock *s = (ember_tsock *)&err; /* must be reset to NULL */
    char b[256];
    int rc = T->listen(ctx, "bogus://nowhere", &s, b, sizeof b, &err);
    is_int(EMBER_EINVAL, rc, "listen on an invalid endpoint fails");
    like(err.msg, "zmq_bind(bogus://nowhere)", "... naming the endpoint");
    ok(s == NULL, "... and returns no socket");

    memset(&err, 0, sizeof err);
    rc = T->listen(ctx, bound, &s, b, sizeof b, &err);
    is_int(EMBER_EIO, rc, "listen on a port in use fails");
    like(err.msg, "in use", "... with the reason: %s", err.msg);

    memset(&err, 0, sizeof err);
    rc = T->connect(ctx, "tcp://no port here", &s, &err);
    ok(rc < 0 && s == NULL, "connect to an invalid endpoint fails");
    like(err.msg, "zmq_connect(tcp://no port here)", "... naming it");

    rc = T->listen(ctx, "", &s, b, sizeof b, &err);
    is_int(EMBER_EINVAL, rc, "an empty endpoint is refused");

    rc = T->listen(ctx, "tcp://127.0.0.1:*", &s, b, 8, &err);
    is_int(EMBER_ETOOBIG, rc, "a too small bound buffer is an error");
    ok(s == NULL, "... that leaves no socket");
}

/* ------------------------------------------------------- volume tests */

static void test_ordering(ember_tsock *srv, ember_tsock *cli)
{
    ember_error err = {0};
    enum { N = 1000 };
    char buf[64], want[64];
    int sent = 0, inorder = 0;
    ember_peer from;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "message %d", i);
        sent += send_str(cli, NULL, buf, &err) == 0;
    }
    is_int(N, sent, "client sends %d messages", N);
    for (int i = 0; i < N; i++) {
        if (recv_str(srv, &from, buf, sizeof buf, &err) != 0)
            break;
        snprintf(want, sizeof want, "message %d", i);
        if (strcmp(buf, want) != 0)
            break;
        inorder++;
    }
    is_int(N, inorder, "server receives all of them in order");

    sent = inorder = 0;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "reply %d", i);
        sent += send_str(srv, &from, buf, &err) == 0;
    }
    for (int i = 0; i < N; i++) {
        if (recv_str(cli, NULL, buf, sizeof buf, &err) != 0)
            break;
        snprintf(want, sizeof want, "reply %d", i);
        if (strcmp(buf, want) != 0)
            break;
        inorder++;
    }
    is_int(N, sent, "server sends %d replies", N);
    is_int(N, inorder, "client receives all of them in order");
}

static void test_big(ember_tsock *srv, ember_tsock *cli)
{
    enum { BIG = 64 << 20 };
    ember_error err = {0};
    uint8_t *buf = malloc(BIG);
    if (!buf)
        bail("out of memory");
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < BIG; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    const void *parts[2] = {buf, buf + BIG / 2};
    size_t lens[2] = {BIG / 2, BIG - BIG / 2};
    is_int(0, T->send(cli, NULL, parts, lens, 2, &err),
           "send a 64 MiB message");
    ember_tmsg m;
    ember_peer from;
    int rc = T->recv(srv, 60000, &from, &m, &err);
    is_int(0, rc, "receive it %s", rc ? err.msg : "");
    ok(rc == 0 && m.len == BIG && memcmp(m.data, buf, BIG) == 0,
       "64 MiB arrive intact");
    if (rc == 0) {
        const void *back[1] = {m.data};
        size_t blen[1] = {m.len};
        is_int(0, T->send(srv, &from, back, blen, 1, &err),
               "send it back from the received buffer");
        T->msg_release(&m);
        rc = T->recv(cli, 60000, NULL, &m, &err);
        ok(rc == 0 && m.len == BIG && memcmp(m.data, buf, BIG) == 0,
           "64 MiB round trip intact");
        T->msg_release(&m);
    }
    free(buf);
}

/* ------------------------------------ malformed frames from raw zmq */

typedef struct rawzmq {
    void *lib;
    void *(*ctx_new)(void);
    int (*ctx_term)(void *);
    void *(*socket)(void *, int);
    int (*setsockopt)(void *, int, const void *, size_t);
    int (*connect)(void *, const char *);
    int (*send)(void *, const void *, size_t, int);
    int (*close)(void *);
} rawzmq;

static int raw_load(rawzmq *z)
{
    memset(z, 0, sizeof *z);
    z->lib = dlopen("libzmq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!z->lib)
        return -1;
#define RAW_SYM_(field, name)                                                  \
    do {                                                                       \
        void *p_ = dlsym(z->lib, name);                                        \
        if (!p_)                                                               \
            return -1;                                                         \
        memcpy(&z->field, &p_, sizeof p_);                                     \
    } while (0)
    RAW_SYM_(ctx_new, "zmq_ctx_new");
    RAW_SYM_(ctx_term, "zmq_ctx_term");
    RAW_SYM_(socket, "zmq_socket");
    RAW_SYM_(setsockopt, "zmq_setsockopt");
    RAW_SYM_(connect, "zmq_connect");
    RAW_SYM_(send, "zmq_send");
    RAW_SYM_(close, "zmq_close");
#undef RAW_SYM_
    return 0;
}

static void test_malformed(ember_tsock *srv, ember_tsock *cli,
                           const char *bound)
{
    rawzmq z;
    if (raw_load(&z) != 0) {
        for (int i = 0; i < 5; i++)
            skip("libzmq.so.5 not loadable for raw frames");
        if (z.lib)
            dlclose(z.lib);
        return;
    }
    void *zc = z.ctx_new();
    int zero = 0;
    char longid[40];
    memset(longid, 'L', sizeof longid);

    void *d1 = z.socket(zc, ZMQ_DEALER);
    z.setsockopt(d1, ZMQ_LINGER, &zero, sizeof zero);
    z.connect(d1, bound);
    z.send(d1, "a", 1, ZMQ_SNDMORE);
    z.send(d1, "b", 1, 0);

    ember_error err = {0};
    ember_tmsg m;
    ember_peer from;
    int rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    is_int(EMBER_EPROTO, rc, "a message with extra frames is refused");
    like(err.msg, "extra frames", "... saying why");

    void *d2 = z.socket(zc, ZMQ_DEALER);
    z.setsockopt(d2, ZMQ_LINGER, &zero, sizeof zero);
    z.setsockopt(d2, ZMQ_ROUTING_ID, longid, sizeof longid);
    z.connect(d2, bound);
    z.send(d2, "c", 1, 0);
    memset(&err, 0, sizeof err);
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    is_int(EMBER_EPROTO, rc, "a peer identity over 31 bytes is refused");
    like(err.msg, "longer than 31", "... saying why");

    send_str(cli, NULL, "still fine", &err);
    char buf[64];
    rc = recv_str(srv, &from, buf, sizeof buf, &err);
    ok(rc == 0 && strcmp(buf, "still fine") == 0,
       "the socket works after malformed input");

    z.close(d1);
    z.close(d2);
    z.ctx_term(zc);
    dlclose(z.lib);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    plan(81);
    void *handle = load(argc, argv);
    ember_error err = {0};
    int rc = T->open(&fake_host, &ctx, &err);
    if (!ok(rc == 0 && ctx, "open the transport context %s", err.msg))
        bail("cannot open");

    ember_tsock *srv, *cli;
    char bound[256] = "";
    test_tcp(&srv, &cli, bound, sizeof bound);
    test_ipc();
    test_timeout_and_wake(srv);
    test_send_errors(srv, cli);
    test_bad_endpoints(bound);
    test_ordering(srv, cli);
    test_big(srv, cli);
    test_malformed(srv, cli, bound);

    T->sock_close(cli);
    T->sock_close(srv);
    T->sock_close(NULL);
    T->close(ctx);
    ok(1, "sockets and context closed without hanging");
    dlclose(handle);
    return done_testing();
}
