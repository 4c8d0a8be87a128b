/*
 * test_transport_shm.c -- unit test of the transport_shm plugin.
 *
 * Loads the plugin .so (argv[1] or $EMBER_TEST_PLUGIN) with dlopen, checks
 * its descriptor and registration through the fake host, then drives the
 * transport in one process (round trips, two clients, timeouts, wake() from
 * another thread, ordering, a 64 MiB message, bad endpoints, corrupt rings
 * written by hand) and across processes (a forked client exchanging 10,000
 * messages; clients killed with SIGKILL before being accepted and in the
 * middle of a message).  Then what keeps it private: objects are 0600 and
 * ours under any umask, with random connection names; a control object
 * name taken first by someone else (another user's object, a symlink, a
 * FIFO) makes listen fail clearly and is left alone; a connection object
 * of another mode or owner is refused.  And the secure sockets beyond the
 * generic test_transport_sec.c: peer names, admit() on the transport's own
 * thread while the socket goes on serving, the smaller max_message, and a
 * hand-made client (the layouts of shm_int.h) that forges or skips its
 * proof, or sends an unusable key: refused, nothing delivered, admit()
 * never asked.  Endpoint names carry this process's pid; every wait is
 * bounded; children are always reaped; at the end no /dev/shm/ember-*
 * object of this run may remain.
 */
#include "tap/tap.h"
#include "fake_host.h"
#include "shm_int.h" /* layouts, for the hand-made client */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static const ember_transport_desc *T;
static void *ctx;
static char prefix[64]; /* "t<pid>-": every endpoint name starts with it */

#define WAIT_MS 10000 /* upper bound for anything that should be quick */

/* The connection object's layout (docs/transport-shm.md): a 128-byte
 * header, the 256-byte handshake block, then the client->server ring
 * header (head at +0, tail at +64), the server->client ring header, 192
 * bytes each, then the data. */
#define CONN_C2S_HEAD 384
#define CONN_DATA 768
_Static_assert(CONN_C2S_HEAD == offsetof(shm_conn, c2s) &&
                   CONN_DATA == sizeof(shm_conn),
               "the documented layout is the plugin's");

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void endpoint(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "shm://%s%s", prefix, what);
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

/* Count /dev/shm entries starting with "ember-" + start; copy the last
 * one's name into last (if not NULL). */
static int shm_count(const char *start, char *last, size_t lastlen)
{
    char want[200];
    snprintf(want, sizeof want, "ember-%s", start);
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, want, strlen(want)) == 0) {
            n++;
            if (last)
                snprintf(last, lastlen, "/%s", e->d_name);
        }
    }
    closedir(d);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ loading */

static void *load(int argc, char **argv)
{
    void *handle;
    fake_load_checked(argc, argv, "test_transport_shm", "transport_shm",
                      &handle);
    T = fake_host_st.transport;
    if (!ok(T != NULL, "init registered a transport"))
        bail("no transport");
    is_string("shm", T->name, "transport name");
    ok(T->struct_size >= sizeof(ember_transport_desc),
       "transport struct_size covers the whole struct");
    ok(T->open && T->close && T->listen && T->connect && T->send && T->recv &&
           T->msg_release && T->wake && T->sock_close,
       "all transport functions are set");
    is_int(0, fake_host_st.nops, "no operators registered");
    ok(fake_host_st.clustermgr == NULL, "no cluster manager registered");
    return handle;
}

/* 5 tests */
static void test_conf(void)
{
    static const char *const bad[] = {"transport.shm.ring_size", "12", NULL};
    static const char *const bad2[] = {"transport.shm.ring_size", "4x", NULL};
    static const char *const good[] = {"transport.shm.ring_size", "64k",
                                       "transport.shm.send_timeout_ms", "500",
                                       NULL};
    ember_error err = {0};
    void *c = (void *)&err;
    fake_host_st.conf = bad;
    is_int(EMBER_EINVAL, T->open(&fake_host, &c, &err),
           "a ring size below 64k is refused");
    like(err.msg, "transport.shm.ring_size", "... naming the key");
    ok(c == NULL, "... and returns no context");
    fake_host_st.conf = bad2;
    is_int(EMBER_EINVAL, T->open(&fake_host, &c, &err),
           "a ring size with a bad unit is refused");
    fake_host_st.conf = good;
    int rc = T->open(&fake_host, &c, &err);
    is_int(0, rc, "ring_size 64k and send_timeout_ms 500 accepted %s",
           rc ? err.msg : "");
    if (rc == 0)
        T->close(c);
    fake_host_st.conf = NULL;
}

/* ------------------------------------------------------- round trips */

static void test_basic(ember_tsock **srv_out, ember_tsock **cli_out,
                       char *bound, size_t boundlen)
{
    ember_error err = {0};
    ember_tsock *srv = NULL, *cli = NULL;
    char ep[128];
    endpoint(ep, sizeof ep, "main");
    int rc = T->listen(ctx, ep, &srv, bound, boundlen, &err);
    if (!ok(rc == 0 && srv, "listen on %s %s", ep, err.msg))
        bail("cannot listen");
    is_string(ep, bound, "bound endpoint reported");
    char obj[128];
    snprintf(obj, sizeof obj, "%smain", prefix);
    is_int(1, shm_count(obj, NULL, 0), "control object exists in /dev/shm");

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
    T->msg_release(&m);
    ok(1, "releasing a released message is harmless");
    is_int(1, shm_count(obj, NULL, 0),
           "the accepted client's object is already unlinked");

    rc = send_str(srv, &from, "pong", &err);
    is_int(0, rc, "server replies to the sender %s", err.msg);
    char buf[64];
    ember_peer cfrom;
    memset(&cfrom, 0x55, sizeof cfrom);
    rc = recv_str(cli, &cfrom, buf, sizeof buf, &err);
    is_int(0, rc, "client receives the reply %s", err.msg);
    is_string("pong", buf, "reply content");
    is_int(0, cfrom.len, "a client socket reports no peer identity");

    rc = T->send(cli, NULL, NULL, NULL, 0, &err);
    is_int(0, rc, "client sends an empty message");
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    ok(rc == 0 && m.len == 0, "server receives an empty message");
    T->msg_release(&m);

    *srv_out = srv;
    *cli_out = cli;
}

static void test_two_clients(ember_tsock *srv, const char *bound)
{
    ember_error err = {0};
    ember_tsock *c1 = NULL, *c2 = NULL;
    int rc1 = T->connect(ctx, bound, &c1, &err);
    int rc2 = T->connect(ctx, bound, &c2, &err);
    if (!ok(rc1 == 0 && rc2 == 0, "two more clients connect %s", err.msg))
        return;
    send_str(c1, NULL, "from one", &err);
    send_str(c2, NULL, "from two", &err);
    ember_peer p[2];
    char buf[2][64];
    int rc = recv_str(srv, &p[0], buf[0], sizeof buf[0], &err);
    rc |= recv_str(srv, &p[1], buf[1], sizeof buf[1], &err);
    is_int(0, rc, "server receives both");
    int i1 = strcmp(buf[0], "from one") == 0 ? 0 : 1;
    ok(strcmp(buf[i1], "from one") == 0 && strcmp(buf[!i1], "from two") == 0,
       "both messages arrive intact");
    ok(p[0].len != p[1].len || memcmp(p[0].id, p[1].id, p[0].len) != 0,
       "the two clients have distinct identities");
    send_str(srv, &p[!i1], "to two", &err);
    send_str(srv, &p[i1], "to one", &err);
    char r1[64], r2[64];
    recv_str(c1, NULL, r1, sizeof r1, &err);
    recv_str(c2, NULL, r2, sizeof r2, &err);
    is_string("to one", r1, "replies reach the right client (1)");
    is_string("to two", r2, "replies reach the right client (2)");

    T->sock_close(c1);
    ember_tmsg m;
    T->recv(srv, 300, NULL, &m, &err); /* lets the server notice */
    is_int(EMBER_ECLOSED, send_str(srv, &p[i1], "gone", &err),
           "send to a client that closed fails");
    is_int(0, send_str(srv, &p[!i1], "still here", &err),
           "the other client is still reachable");
    recv_str(c2, NULL, r2, sizeof r2, &err);
    is_string("still here", r2, "... and receives");
    T->sock_close(c2);
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
    sleep_ms(w->delay_ms);
    w->rc = T->wake(w->s);
    return NULL;
}

static void test_timeout_and_wake(ember_tsock *srv, ember_tsock *cli)
{
    ember_error err = {0};
    ember_tmsg m;
    ember_peer from;
    int64_t t0 = now_ms();
    int rc = T->recv(srv, 200, &from, &m, &err);
    int64_t took = now_ms() - t0;
    is_int(EMBER_EAGAIN, rc, "recv times out with EMBER_EAGAIN");
    ok(took >= 190, "recv waited for the timeout (%lld ms for 200)",
       (long long)took);
    is_int(EMBER_EAGAIN, T->recv(srv, 0, &from, &m, &err),
           "recv with timeout 0 polls");
    is_int(EMBER_EAGAIN, T->recv(cli, 50, NULL, &m, &err),
           "client recv times out too");

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

    waker wc = {cli, 100, -99};
    pthread_create(&th, NULL, waker_main, &wc);
    rc = T->recv(cli, WAIT_MS, NULL, &m, &err);
    pthread_join(th, NULL);
    is_int(EMBER_EWOKEN, rc, "wake() ends a client's recv");

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
    static const char *const bad[] = {
        "bogus://nowhere", "shm://",          "shm://a/b", "shm://has space",
        "shm://x*",        "tcp://1.2.3.4:5", "",          "shm://a%b",
    };
    ember_error err = {0};
    char b[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ember_tsock *s = (ember_tsock *)&err; /* must be reset to NULL */
        memset(&err, 0, sizeof err);
        int rc = T->listen(ctx, bad[i], &s, b, sizeof b, &err);
        ok(rc == EMBER_EINVAL && s == NULL && strstr(err.msg, "bad endpoint"),
           "listen on \"%s\" refused: %s", bad[i], err.msg);
    }
    char longname[128] = "shm://";
    memset(longname + 6, 'n', 101);
    longname[107] = '\0';
    ember_tsock *s = NULL;
    int rc = T->listen(ctx, longname, &s, b, sizeof b, &err);
    is_int(EMBER_EINVAL, rc, "a 101-character name is refused");
    longname[106] = '\0';
    memset(&err, 0, sizeof err);
    rc = T->connect(ctx, longname, &s, &err);
    is_int(EMBER_ECLOSED, rc, "a 100-character name is valid (no server)");
    like(err.msg, "nobody listens", "... connect says nobody listens");
    rc = T->connect(ctx, "shm://bad name", &s, &err);
    ok(rc == EMBER_EINVAL && s == NULL, "connect to a bad name is refused");

    memset(&err, 0, sizeof err);
    rc = T->listen(ctx, bound, &s, b, sizeof b, &err);
    is_int(EMBER_EEXISTS, rc, "listen on a name in use fails");
    like(err.msg, "in use", "... with the reason: %s", err.msg);

    char ep[128];
    endpoint(ep, sizeof ep, "small");
    rc = T->listen(ctx, ep, &s, b, 8, &err);
    is_int(EMBER_ETOOBIG, rc, "a too small bound buffer is an error");
    ok(s == NULL, "... that leaves no socket");
}

/* A stale control object of a dead server is taken over. */
static void test_stale(void)
{
    char ep[128], b[128];
    endpoint(ep, sizeof ep, "stale");
    int pfd[2];
    if (pipe(pfd) != 0)
        bail("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        void *c;
        ember_tsock *s;
        char x = 'x';
        close(pfd[0]);
        if (T->open(&fake_host, &c, NULL) == 0 &&
            T->listen(c, ep, &s, NULL, 0, NULL) == 0)
            x = 'l';
        if (write(pfd[1], &x, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    char x = 0;
    if (read(pfd[0], &x, 1) != 1)
        x = 0;
    close(pfd[0]);
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    is_int('l', x, "a child process listened on %s", ep);
    ok(WIFSIGNALED(st), "a server process died without closing");
    ember_error err = {0};
    ember_tsock *s = NULL;
    int rc = T->listen(ctx, ep, &s, b, sizeof b, &err);
    is_int(0, rc, "listen takes over the dead server's name %s", err.msg);
    T->sock_close(s);
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

/* The server echoes one message back, on its own thread: a message bigger
 * than the ring needs a reader while it is written. */
typedef struct echo {
    ember_tsock *srv;
    int rc_recv, rc_send;
    size_t len;
} echo;

static void *echo_main(void *arg)
{
    echo *e = arg;
    ember_error err = {0};
    ember_tmsg m;
    ember_peer from;
    e->rc_recv = T->recv(e->srv, 60000, &from, &m, &err);
    if (e->rc_recv != 0)
        return NULL;
    e->len = m.len;
    const void *back[1] = {m.data};
    size_t blen[1] = {m.len};
    e->rc_send = T->send(e->srv, &from, back, blen, 1, &err);
    T->msg_release(&m);
    return NULL;
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
    echo e = {srv, -99, -99, 0};
    pthread_t th;
    pthread_create(&th, NULL, echo_main, &e);
    const void *parts[2] = {buf, buf + BIG / 2};
    size_t lens[2] = {BIG / 2, BIG - BIG / 2};
    is_int(0, T->send(cli, NULL, parts, lens, 2, &err),
           "send a 64 MiB message %s", err.msg);
    ember_tmsg m;
    int rc = T->recv(cli, 60000, NULL, &m, &err);
    pthread_join(th, NULL);
    is_int(0, e.rc_recv, "the server receives it");
    is_int(BIG, e.len, "... all 64 MiB");
    is_int(0, e.rc_send, "the server sends it back");
    ok(rc == 0 && m.len == BIG && memcmp(m.data, buf, BIG) == 0,
       "64 MiB round trip intact");
    if (rc == 0)
        T->msg_release(&m);
    free(buf);
}

/* ------------------------------------------- corrupt rings, by hand */

/* Connect a client and map its connection object before the server has
 * accepted it (the object is unlinked at accept). */
static ember_tsock *connect_mapped(const char *bound, const char *name,
                                   unsigned char **map, size_t *maplen)
{
    ember_error err = {0};
    ember_tsock *c = NULL;
    *map = NULL;
    if (T->connect(ctx, bound, &c, &err) != 0)
        return NULL;
    char start[160], obj[300];
    snprintf(start, sizeof start, "%s+c%ld.", name, (long)getpid());
    if (shm_count(start, obj, sizeof obj) < 1)
        return c;
    int fd = shm_open(obj, O_RDWR, 0);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        *maplen = (size_t)st.st_size;
        void *p =
            mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        *map = p == MAP_FAILED ? NULL : p;
    }
    if (fd >= 0)
        close(fd);
    return c;
}

static void test_corrupt(void)
{
    char ep[128], name[128], b[128];
    endpoint(ep, sizeof ep, "corrupt");
    snprintf(name, sizeof name, "%scorrupt", prefix);
    ember_error err = {0};
    ember_tsock *srv = NULL;
    if (T->listen(ctx, ep, &srv, b, sizeof b, &err) != 0) {
        ok(0, "listen for the corruption tests: %s", err.msg);
        return;
    }
    ember_tmsg m;
    ember_peer from;
    unsigned char *map;
    size_t maplen;

    /* 1: a write position beyond the ring */
    ember_tsock *c1 = connect_mapped(b, name, &map, &maplen);
    ok(c1 && map, "a client's object is mapped by hand");
    if (map) {
        uint64_t head = UINT64_C(1) << 40;
        memcpy(map + CONN_C2S_HEAD, &head, sizeof head);
        memset(&err, 0, sizeof err);
        int rc = T->recv(srv, WAIT_MS, &from, &m, &err);
        is_int(EMBER_EPROTO, rc, "an impossible write position is refused");
        like(err.msg, "corrupt ring", "... saying why: %s", err.msg);
        munmap(map, maplen);
    } else {
        skip("no mapping");
        skip("no mapping");
    }
    T->sock_close(c1);

    /* 2: a frame with a bad magic */
    ember_tsock *c2 = connect_mapped(b, name, &map, &maplen);
    if (map) {
        memset(map + CONN_DATA, 0x5A, 16);
        uint64_t head = 16;
        memcpy(map + CONN_C2S_HEAD, &head, sizeof head);
        memset(&err, 0, sizeof err);
        int rc = T->recv(srv, WAIT_MS, &from, &m, &err);
        is_int(EMBER_EPROTO, rc, "a frame with a bad magic is refused");
        like(err.msg, "bad frame magic", "... saying why");
        munmap(map, maplen);
    } else {
        skip("no mapping");
        skip("no mapping");
    }
    T->sock_close(c2);

    /* 3: a frame claiming 2^62 bytes */
    ember_tsock *c3 = connect_mapped(b, name, &map, &maplen);
    if (map) {
        uint32_t magic = 0x454d464du, zero = 0;
        uint64_t len = UINT64_C(1) << 62, head = 16;
        memcpy(map + CONN_DATA, &magic, 4);
        memcpy(map + CONN_DATA + 4, &zero, 4);
        memcpy(map + CONN_DATA + 8, &len, 8);
        memcpy(map + CONN_C2S_HEAD, &head, sizeof head);
        memset(&err, 0, sizeof err);
        int rc = T->recv(srv, WAIT_MS, &from, &m, &err);
        is_int(EMBER_EPROTO, rc, "a frame of 2^62 bytes is refused");
        like(err.msg, "max_message", "... saying why");
        munmap(map, maplen);
    } else {
        skip("no mapping");
        skip("no mapping");
    }
    T->sock_close(c3);

    ember_tsock *c4 = NULL;
    T->connect(ctx, b, &c4, &err);
    send_str(c4, NULL, "still fine", &err);
    char buf[64];
    int rc = recv_str(srv, &from, buf, sizeof buf, &err);
    ok(rc == 0 && strcmp(buf, "still fine") == 0,
       "the server works after corrupt input");
    T->sock_close(c4);
    T->sock_close(srv);
}

/* ---------------------------------------------- across processes */

enum { NFORK = 10000 };

/* Child: connect, exchange NFORK messages, exit 0 if all were right. */
static int child_pingpong(const char *ep)
{
    void *c;
    ember_tsock *s;
    ember_error err = {0};
    if (T->open(&fake_host, &c, &err) != 0)
        return 10;
    if (T->connect(c, ep, &s, &err) != 0)
        return 11;
    int bad = 0;
    for (int i = 0; i < NFORK && !bad; i++) {
        char buf[64], want[64];
        snprintf(buf, sizeof buf, "ping %d", i);
        if (send_str(s, NULL, buf, &err) != 0)
            bad = 12;
        else if (recv_str(s, NULL, buf, sizeof buf, &err) != 0)
            bad = 13;
        snprintf(want, sizeof want, "pong %d", i);
        if (!bad && strcmp(buf, want) != 0)
            bad = 14;
    }
    T->sock_close(s);
    T->close(c);
    return bad;
}

static void test_fork(void)
{
    char ep[128], b[128];
    endpoint(ep, sizeof ep, "fork");
    ember_error err = {0};
    ember_tsock *srv = NULL;
    if (T->listen(ctx, ep, &srv, b, sizeof b, &err) != 0)
        bail("listen %s: %s", ep, err.msg);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = child_pingpong(b);
        _exit(rc);
    }
    int served = 0, errs = 0;
    ember_peer from;
    int64_t t0 = now_ms();
    for (int i = 0; i < NFORK; i++) {
        char buf[64], reply[64];
        if (recv_str(srv, &from, buf, sizeof buf, &err) != 0) {
            diag("server recv: %s", err.msg);
            break;
        }
        if (strncmp(buf, "ping ", 5) != 0)
            errs++;
        snprintf(reply, sizeof reply, "pong %s", buf + 5);
        if (send_str(srv, &from, reply, &err) != 0)
            errs++;
        served++;
    }
    int64_t took = now_ms() - t0;
    ember_peer child = from;
    int st = 0;
    waitpid(pid, &st, 0);
    is_int(NFORK, served, "server in the parent answers %d messages", NFORK);
    is_int(0, errs, "... all well-formed");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "the child process exchanged %d messages correctly (status %d, %lld "
       "ms)",
       NFORK, WIFEXITED(st) ? WEXITSTATUS(st) : -1, (long long)took);
    ember_tmsg m;
    is_int(EMBER_EAGAIN, T->recv(srv, 300, &from, &m, &err),
           "nothing more after the child closed");
    is_int(EMBER_ECLOSED, send_str(srv, &child, "bye", &err),
           "the closed child's connection was dropped");
    T->sock_close(srv);
}

/* A child killed before being accepted, and one killed in the middle of a
 * message: the server goes on, and nothing of the children remains. */
static void test_killed(void)
{
    char ep[128], b[128], name[128], start[160];
    endpoint(ep, sizeof ep, "kill");
    snprintf(name, sizeof name, "%skill", prefix);
    ember_error err = {0};
    ember_tsock *srv = NULL;
    if (T->listen(ctx, ep, &srv, b, sizeof b, &err) != 0)
        bail("listen %s: %s", ep, err.msg);

    /* 1: connected, never accepted */
    int pfd[2];
    if (pipe(pfd) != 0)
        bail("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        void *c;
        ember_tsock *s;
        char x = 'x';
        close(pfd[0]);
        if (T->open(&fake_host, &c, NULL) == 0 &&
            T->connect(c, b, &s, NULL) == 0)
            x = 'c';
        if (write(pfd[1], &x, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    char x = 0;
    if (read(pfd[0], &x, 1) != 1)
        x = 0;
    close(pfd[0]);
    is_int('c', x, "a child process connected");
    snprintf(start, sizeof start, "%s+c%ld.", name, (long)pid);
    is_int(1, shm_count(start, NULL, 0), "its connection object exists");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ember_tmsg m;
    ember_peer from;
    is_int(EMBER_EAGAIN, T->recv(srv, 300, &from, &m, &err),
           "after SIGKILL the server's recv times out");
    is_int(0, shm_count(start, NULL, 0),
           "the dead child's object was reclaimed");

    /* 2: killed while streaming a 64 MiB message */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        void *c;
        ember_tsock *s;
        if (T->open(&fake_host, &c, NULL) != 0 ||
            T->connect(c, b, &s, NULL) != 0)
            _exit(1);
        send_str(s, NULL, "first", NULL);
        size_t big = 64 << 20;
        char *p = calloc(1, big);
        const void *parts[1] = {p};
        T->send(s, NULL, parts, &big, 1, NULL); /* blocks: nobody reads */
        for (;;)     /* on a loaded machine the send may give up first: */
            pause(); /* wait for the kill either way */
    }
    char buf[64];
    int rc = recv_str(srv, &from, buf, sizeof buf, &err);
    ok(rc == 0 && strcmp(buf, "first") == 0, "the streaming child said hi");
    ember_peer child = from;
    for (int i = 0; i < 3; i++) /* take part of the big message */
        if (T->recv(srv, 50, NULL, &m, &err) == 0)
            T->msg_release(&m); /* or all of it, on a fast machine */
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
       "the child was killed mid-stream");
    int64_t t0 = now_ms();
    rc = T->recv(srv, 400, &from, &m, &err);
    is_int(EMBER_EAGAIN, rc, "the server's recv still times out");
    ok(now_ms() - t0 < 2000, "... in time");
    is_int(EMBER_ECLOSED, send_str(srv, &child, "hello?", &err),
           "send to the killed child fails");
    like(err.msg, "peer unknown", "... its connection was dropped: %s",
         err.msg);

    ember_tsock *cli = NULL;
    T->connect(ctx, b, &cli, &err);
    send_str(cli, NULL, "after", &err);
    rc = recv_str(srv, &from, buf, sizeof buf, &err);
    ok(rc == 0 && strcmp(buf, "after") == 0,
       "a new client is served afterwards");
    T->sock_close(cli);
    T->sock_close(srv);
}

/* A peer that stops reading: send gives up after send_timeout_ms. */
static void test_send_timeout(void)
{
    static const char *const conf[] = {"transport.shm.ring_size", "64k",
                                       "transport.shm.send_timeout_ms", "300",
                                       NULL};
    fake_host_st.conf = conf;
    void *c2 = NULL;
    ember_error err = {0};
    int rc = T->open(&fake_host, &c2, &err);
    fake_host_st.conf = NULL;
    if (rc != 0) {
        ok(0, "open with a 64k ring: %s", err.msg);
        return;
    }
    char ep[128], b[128];
    endpoint(ep, sizeof ep, "slow");
    ember_tsock *srv = NULL, *cli = NULL;
    T->listen(c2, ep, &srv, b, sizeof b, &err);
    T->connect(c2, b, &cli, &err);
    size_t len = 256 << 10;
    char *p = calloc(1, len);
    const void *parts[1] = {p};
    int64_t t0 = now_ms();
    rc = T->send(cli, NULL, parts, &len, 1, &err);
    int64_t took = now_ms() - t0;
    is_int(EMBER_ECLOSED, rc, "send to a peer that does not read gives up");
    ok(took >= 250 && took < 5000, "... after the send timeout (%lld ms)",
       (long long)took);
    like(err.msg, "read nothing", "... saying so: %s", err.msg);
    free(p);
    T->sock_close(cli);
    T->sock_close(srv);
    T->close(c2);
}

/* --------------------------------------------------- private on disk */

/* stat /dev/shm/ember-NAME... (name without the "/ember-"). */
static int shm_stat(const char *obj, struct stat *st)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", obj);
    return lstat(path, st);
}

static int is_private(const struct stat *st)
{
    return S_ISREG(st->st_mode) && (st->st_mode & 07777) == 0600 &&
           st->st_uid == geteuid();
}

/* Objects are 0600 and ours whatever the umask; connection object names
 * end in 32 random hex digits. */
static void test_modes(void)
{
    static const mode_t masks[2] = {0, 0377};
    for (int k = 0; k < 2; k++) {
        mode_t old = umask(masks[k]);
        char what[32], ep[128], b[128], name[128], obj[300], start[200];
        snprintf(what, sizeof what, "modes%d", k);
        endpoint(ep, sizeof ep, what);
        snprintf(name, sizeof name, "%s%s", prefix, what);
        ember_error err = {0};
        ember_tsock *srv = NULL, *cli = NULL;
        int rc = T->listen(ctx, ep, &srv, b, sizeof b, &err);
        rc = rc ? rc : T->connect(ctx, b, &cli, &err);
        umask(old);
        if (!ok(rc == 0, "listen and connect under umask %04o %s",
                (unsigned)masks[k], err.msg)) {
            T->sock_close(cli);
            T->sock_close(srv);
            continue;
        }
        struct stat st;
        memset(&st, 0, sizeof st);
        snprintf(obj, sizeof obj, "/ember-%s", name);
        int got = shm_stat(obj, &st) == 0 && is_private(&st);
        ok(got, "umask %04o: the control object is ours with mode 0600 (%04o)",
           (unsigned)masks[k], (unsigned)(st.st_mode & 07777));
        snprintf(start, sizeof start, "%s+c%ld.", name, (long)getpid());
        memset(&st, 0, sizeof st);
        int n = shm_count(start, obj, sizeof obj);
        got = n == 1 && shm_stat(obj, &st) == 0 && is_private(&st);
        ok(got,
           "umask %04o: the connection object is ours with mode 0600 (%04o)",
           (unsigned)masks[k], (unsigned)(st.st_mode & 07777));
        const char *dot = strrchr(obj, '.');
        ok(n == 1 && dot && strlen(dot + 1) == 32 &&
               strspn(dot + 1, "0123456789abcdef") == 32,
           "its name ends in 32 random hex digits (%s)", obj);
        char buf[64] = "";
        send_str(cli, NULL, "private", &err);
        recv_str(srv, NULL, buf, sizeof buf, &err);
        is_string("private", buf, "and the connection works");
        T->sock_close(cli);
        T->sock_close(srv);
    }
}

/* Someone else took the control object's name first: listen fails
 * clearly and leaves the object alone; connect refuses to use it. */
static void test_precreated(void)
{
    char ep[128], b[128], obj[200], path[300];
    ember_error err = {0};
    ember_tsock *s = NULL;
    int root = geteuid() == 0;

    /* 1: an object of another user (root: chown it) or of another mode */
    endpoint(ep, sizeof ep, "taken");
    snprintf(obj, sizeof obj, "/ember-%staken", prefix);
    int fd = shm_open(obj, O_RDWR | O_CREAT | O_EXCL, 0644);
    int made = fd >= 0 && fchmod(fd, 0644) == 0 &&
               write(fd, "attacker's", 10) == 10 &&
               (!root || fchown(fd, 65534, 65534) == 0);
    if (fd >= 0)
        close(fd);
    ok(made, "an attacker's object sits at %s (%s)", obj,
       root ? "uid 65534, mode 0644" : "mode 0644");
    struct stat before, after;
    shm_stat(obj, &before);
    int rc = T->listen(ctx, ep, &s, b, sizeof b, &err);
    is_int(EMBER_EEXISTS, rc, "listen on its name fails");
    ok(s == NULL, "... with no socket");
    like(err.msg, "not this user's own", "... saying why: %s", err.msg);
    like(err.msg, root ? "uid 65534" : "mode 0644", "... and whose it is");
    char buf[16] = "";
    snprintf(path, sizeof path, "/dev/shm%s", obj);
    fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buf, 10) != 10)
            buf[0] = '\0';
        close(fd);
    }
    ok(shm_stat(obj, &after) == 0 && after.st_ino == before.st_ino &&
           after.st_uid == before.st_uid && after.st_mode == before.st_mode &&
           strcmp(buf, "attacker's") == 0,
       "the attacker's object is left alone");
    memset(&err, 0, sizeof err);
    rc = T->connect(ctx, ep, &s, &err);
    is_int(EMBER_EDENIED, rc, "a client refuses to connect through it");
    like(err.msg, "not this user's own", "... saying why: %s", err.msg);
    shm_unlink(obj);

    /* 2: a symlink planted under the name */
    char target[200];
    endpoint(ep, sizeof ep, "sym");
    snprintf(obj, sizeof obj, "/ember-%ssym", prefix);
    snprintf(path, sizeof path, "/dev/shm%s", obj);
    snprintf(target, sizeof target, "/tmp/ember-%starget", prefix);
    ok(symlink(target, path) == 0, "a symlink sits at %s", path);
    memset(&err, 0, sizeof err);
    rc = T->listen(ctx, ep, &s, b, sizeof b, &err);
    is_int(EMBER_EEXISTS, rc, "listen on its name fails: %s", err.msg);
    like(err.msg, "symbolic link", "... naming it a symbolic link");
    struct stat st;
    ok(lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
           lstat(target, &st) != 0 && errno == ENOENT,
       "the symlink is left alone and its target was not created");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EDENIED, T->connect(ctx, ep, &s, &err),
           "a client refuses it too: %s", err.msg);
    unlink(path);

    /* 3: a FIFO, which would block an open for reading */
    endpoint(ep, sizeof ep, "fifo");
    snprintf(obj, sizeof obj, "/ember-%sfifo", prefix);
    snprintf(path, sizeof path, "/dev/shm%s", obj);
    ok(mkfifo(path, 0600) == 0, "a FIFO sits at %s", path);
    memset(&err, 0, sizeof err);
    int64_t t0 = now_ms();
    rc = T->listen(ctx, ep, &s, b, sizeof b, &err);
    is_int(EMBER_EEXISTS, rc, "listen on its name fails: %s", err.msg);
    like(err.msg, "FIFO", "... naming it a FIFO");
    ok(now_ms() - t0 < 2000, "... at once");
    unlink(path);
}

/* A connection object that is not private is refused at accept. */
static void test_foreign_conn(void)
{
    int root = geteuid() == 0;
    for (int k = 0; k < 2; k++) {
        char what[32], ep[128], b[128], name[128], start[200], obj[300];
        snprintf(what, sizeof what, "foreign%d", k);
        endpoint(ep, sizeof ep, what);
        snprintf(name, sizeof name, "%s%s", prefix, what);
        snprintf(start, sizeof start, "%s+c%ld.", name, (long)getpid());
        ember_error err = {0};
        ember_tsock *srv = NULL, *cli = NULL;
        if (k == 1 && !root) {
            skip("another uid's object needs root to make");
            skip("another uid's object needs root to make");
            skip("another uid's object needs root to make");
            skip("another uid's object needs root to make");
            continue;
        }
        T->listen(ctx, ep, &srv, b, sizeof b, &err);
        T->connect(ctx, b, &cli, &err);
        send_str(cli, NULL, "sneaky", &err);
        int changed = 0;
        if (shm_count(start, obj, sizeof obj) == 1) {
            int fd = shm_open(obj, O_RDWR, 0);
            if (fd >= 0) {
                changed = k == 0 ? fchmod(fd, 0644) == 0
                                 : fchown(fd, 65534, 65534) == 0;
                close(fd);
            }
        }
        ok(changed, "a client's object got %s before it was accepted",
           k == 0 ? "mode 0644" : "owner uid 65534");
        int logs0 = fake_host_st.nlogs;
        ember_tmsg m;
        is_int(EMBER_EAGAIN, T->recv(srv, 300, NULL, &m, &err),
               "the server refuses it: nothing is delivered");
        ok(fake_host_st.nlogs > logs0 &&
               strstr(fake_host_st.last_log,
                      k == 0 ? "mode 0644" : "uid 65534") != NULL,
           "the refusal is logged with the reason: %s", fake_host_st.last_log);
        if (k == 0)
            is_int(0, shm_count(start, NULL, 0),
                   "our own bad object was unlinked");
        else
            is_int(1, shm_count(start, NULL, 0),
                   "another user's object was left alone");
        T->sock_close(cli);
        if (k == 1)
            shm_unlink(obj);
        T->sock_close(srv);
    }
}

/* ------------------------------------------------- secure sockets */

typedef struct keypair {
    uint8_t pub[EMBER_KEY_BYTES], sec[EMBER_KEY_BYTES];
} keypair;

static keypair srv_kp, good_kp, slow_kp;
static int admits;
static pthread_t admit_thread;

/* admit(): good_kp ("good") and, after 1.5 s, slow_kp ("slow"). */
static int admit(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                 const char *address, char *name, size_t namelen)
{
    (void)ud;
    (void)address;
    __atomic_add_fetch(&admits, 1, __ATOMIC_SEQ_CST);
    admit_thread = pthread_self();
    if (memcmp(key, good_kp.pub, EMBER_KEY_BYTES) == 0) {
        snprintf(name, namelen, "good");
        return 1;
    }
    if (memcmp(key, slow_kp.pub, EMBER_KEY_BYTES) == 0) {
        sleep_ms(1500);
        snprintf(name, namelen, "slow");
        return 1;
    }
    return 0;
}

static ember_tsec tsec(const keypair *kp, const uint8_t *server_pub,
                       int64_t max_message)
{
    ember_tsec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.mechanism = EMBER_SEC_CURVE;
    memcpy(s.public_key, kp->pub, EMBER_KEY_BYTES);
    memcpy(s.secret_key, kp->sec, EMBER_KEY_BYTES);
    if (server_pub)
        memcpy(s.server_key, server_pub, EMBER_KEY_BYTES);
    else
        s.admit = admit;
    s.max_message = max_message;
    return s;
}

static ember_tsock *listen_sec(void *c, const char *what, int64_t max_message,
                               char *bound, size_t boundlen)
{
    char ep[128];
    endpoint(ep, sizeof ep, what);
    ember_tsec ss = tsec(&srv_kp, NULL, max_message);
    ember_tsock *s = NULL;
    ember_error err = {0};
    if (T->listen_secure(c, ep, &ss, &s, bound, boundlen, &err) != 0)
        diag("listen_secure %s: %s", ep, err.msg);
    return s;
}

typedef struct slow_client {
    const char *bound;
    int rc;
} slow_client;

static void *slow_main(void *arg)
{
    slow_client *sc = arg;
    ember_error err = {0};
    ember_tsock *c = NULL;
    ember_tsec cs = tsec(&slow_kp, srv_kp.pub, 0);
    sc->rc = T->connect_secure(ctx, sc->bound, &cs, &c, &err);
    if (sc->rc == 0)
        sc->rc = send_str(c, NULL, "slow", &err); /* waits for admit() */
    if (c)
        T->sock_close(c);
    return NULL;
}

static void test_secure(void)
{
    ember_error err = {0};
    char b[128], obj[200], buf[64];
    struct stat st;

    /* arguments */
    ember_tsec bad = tsec(&srv_kp, NULL, 0);
    memcpy(bad.public_key, good_kp.pub, EMBER_KEY_BYTES);
    ember_tsock *s = (ember_tsock *)&err;
    char ep[128];
    endpoint(ep, sizeof ep, "badkeys");
    is_int(EMBER_EINVAL, T->listen_secure(ctx, ep, &bad, &s, b, sizeof b, &err),
           "a public key that is not the secret key's is refused");
    like(err.msg, "public half", "... saying so: %s", err.msg);
    ok(s == NULL, "... with no socket");

    /* a secure client does not talk to a plain listener */
    ember_tsock *plain = NULL, *cli = NULL;
    endpoint(ep, sizeof ep, "plainsrv");
    T->listen(ctx, ep, &plain, b, sizeof b, &err);
    ember_tsec cs = tsec(&good_kp, srv_kp.pub, 0);
    memset(&err, 0, sizeof err);
    is_int(EMBER_EDENIED, T->connect_secure(ctx, b, &cs, &cli, &err),
           "connect_secure to a plain listener is refused");
    like(err.msg, "does not authenticate", "... saying why: %s", err.msg);
    T->sock_close(plain);

    /* a round trip, names, the thread admit() runs on */
    ember_tsock *srv = listen_sec(ctx, "sec", 0, b, sizeof b);
    if (!ok(srv != NULL, "listen_secure"))
        return;
    snprintf(obj, sizeof obj, "/ember-%ssec", prefix);
    ok(shm_stat(obj, &st) == 0 && is_private(&st),
       "a secure listener's control object is ours with mode 0600");
    memset(&err, 0, sizeof err);
    int rc = T->connect_secure(ctx, b, &cs, &cli, &err);
    ok(rc == 0 && cli, "an admitted client connects %s", err.msg);
    send_str(cli, NULL, "hello", &err);
    ember_tmsg m;
    ember_peer from;
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    char name[PEER_NAME_MAX] = "";
    ok(rc == 0 && T->peer_name(&m, name, sizeof name) == 0 &&
           strcmp(name, "good") == 0,
       "the server gets its message, named \"%s\"", name);
    if (rc == 0)
        T->msg_release(&m);
    ok(admits > 0 && !pthread_equal(admit_thread, pthread_self()),
       "admit() ran on the transport's own thread");
    send_str(srv, &from, "back", &err);
    rc = T->recv(cli, WAIT_MS, NULL, &m, &err);
    ok(rc == 0 && T->peer_name(&m, name, sizeof name) == EMBER_ENOTFOUND,
       "a client's messages carry no name");
    if (rc == 0)
        T->msg_release(&m);
    char tiny[3];
    rc = T->recv(srv, 0, NULL, &m, &err);
    send_str(cli, NULL, "again", &err);
    rc = T->recv(srv, WAIT_MS, NULL, &m, &err);
    ok(rc == 0 && T->peer_name(&m, tiny, sizeof tiny) == 0 &&
           strcmp(tiny, "go") == 0,
       "peer_name truncates to the buffer (\"%s\")", tiny);
    if (rc == 0)
        T->msg_release(&m);

    /* admit() is slow for one client: the others are served meanwhile */
    slow_client sc = {b, -99};
    pthread_t th;
    pthread_create(&th, NULL, slow_main, &sc);
    sleep_ms(200);
    send_str(cli, NULL, "quick", &err);
    recv_str(srv, NULL, buf, sizeof buf, &err);
    is_string("quick", buf, "an admitted peer is served while admit() runs");
    recv_str(srv, NULL, buf, sizeof buf, &err);
    is_string("slow", buf, "then the slow one arrives");
    pthread_join(th, NULL);
    is_int(0, sc.rc, "the slow client's send waited for admit()");
    T->sock_close(cli);
    T->sock_close(srv);

    /* the smaller of transport.shm.max_message and the listener's */
    static const char *const conf[] = {"transport.shm.max_message", "1k", NULL};
    fake_host_st.conf = conf;
    void *c1k = NULL;
    rc = T->open(&fake_host, &c1k, &err);
    fake_host_st.conf = NULL;
    srv = rc == 0 ? listen_sec(c1k, "max", 1 << 20, b, sizeof b) : NULL;
    cli = NULL;
    if (srv)
        T->connect_secure(ctx, b, &cs, &cli, &err);
    char big[2000];
    memset(big, 'x', sizeof big);
    const void *parts[1] = {big};
    size_t lens[1] = {1000};
    T->send(cli, NULL, parts, lens, 1, &err);
    lens[0] = 2000;
    T->send(cli, NULL, parts, lens, 1, &err);
    rc = T->recv(srv, WAIT_MS, NULL, &m, &err);
    ok(rc == 0 && m.len == 1000, "1000 bytes pass a 1k limit");
    if (rc == 0)
        T->msg_release(&m);
    memset(&err, 0, sizeof err);
    rc = T->recv(srv, WAIT_MS, NULL, &m, &err);
    is_int(EMBER_EPROTO, rc,
           "2000 bytes do not (transport.shm.max_message 1k, listener 1m)");
    like(err.msg, "1024", "... the limit is 1024: %s", err.msg);
    sleep_ms(300);
    T->recv(srv, 0, NULL, &m, &err); /* the server drops the connection */
    memset(&err, 0, sizeof err);
    rc = send_str(cli, NULL, "more", &err);
    is_int(EMBER_ECLOSED, rc, "the client learns it was disconnected: %s",
           err.msg);
    T->sock_close(cli);
    T->sock_close(srv);
    if (c1k)
        T->close(c1k);
}

/* ------------------------------------- a hand-made, dishonest client */

#define FORGE_RING (64u << 10)

typedef struct forged {
    shm_ctl *ctl;
    shm_conn *conn;
    size_t len;
    char obj[OBJ_NAME_MAX];
} forged;

/* Announce a connection to the listener `name` by hand, with a hello of
 * `key` (the handshake block's layout is shm_int.h's). */
static int forge(const char *name, const uint8_t *key, forged *f)
{
    memset(f, 0, sizeof *f);
    char ctlname[OBJ_NAME_MAX];
    snprintf(ctlname, sizeof ctlname, "/ember-%s", name);
    int fd = shm_open(ctlname, O_RDWR, 0);
    if (fd < 0)
        return -1;
    void *p =
        mmap(NULL, sizeof(shm_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    f->ctl = p;
    unsigned char rnd[16];
    char hex[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(f->obj, sizeof f->obj, "/ember-%s+c%ld.%s", name, (long)getpid(),
             hex);
    fd = shm_open(f->obj, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    f->len = sizeof(shm_conn) + 2 * FORGE_RING;
    p = ftruncate(fd, (off_t)f->len) == 0
            ? mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            : MAP_FAILED;
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    f->conn = p;
    f->conn->version = LAYOUT_VERSION;
    f->conn->ring_size = FORGE_RING;
    f->conn->client_pid = (int32_t)getpid();
    memcpy(f->conn->hs.client_key, key, EMBER_KEY_BYTES);
    randombytes_buf(f->conn->hs.client_nonce, NONCE_BYTES);
    atomic_store(&f->conn->hs.state, HS_HELLO);
    atomic_store(&f->conn->magic, CONN_MAGIC);
    if (pthread_mutex_lock(&f->ctl->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&f->ctl->lock);
    int slot = -1;
    for (int i = 0; i < SLOTS && slot < 0; i++)
        if (atomic_load(&f->ctl->slots[i].state) == SLOT_FREE)
            slot = i;
    if (slot >= 0) {
        shm_slot *sl = &f->ctl->slots[slot];
        memcpy(sl->name, f->obj, sizeof sl->name);
        sl->pid = (int32_t)getpid();
        atomic_store(&sl->state, SLOT_READY);
    }
    pthread_mutex_unlock(&f->ctl->lock);
    atomic_fetch_add(&f->ctl->hs_bell, 1); /* the thread polls anyway */
    return slot >= 0 ? 0 : -1;
}

/* Wait until the handshake state is not `from`; return it. */
static uint32_t forge_wait(forged *f, uint32_t from)
{
    int64_t t0 = now_ms();
    uint32_t st;
    while ((st = atomic_load(&f->conn->hs.state)) == from &&
           now_ms() - t0 < WAIT_MS)
        sleep_ms(5);
    return st;
}

/* Put a well-formed message into the client->server ring. */
static void forge_message(forged *f, const char *text)
{
    unsigned char *data = (unsigned char *)f->conn + sizeof(shm_conn);
    frame_hdr fh = {FRAME_MAGIC, 0, strlen(text)};
    memcpy(data, &fh, sizeof fh);
    memcpy(data + sizeof fh, text, strlen(text));
    atomic_store(&f->conn->c2s.head, sizeof fh + strlen(text));
    atomic_fetch_add(&f->ctl->bell, 1);
}

static void forge_free(forged *f)
{
    if (f->conn)
        munmap(f->conn, f->len);
    if (f->ctl)
        munmap(f->ctl, sizeof(shm_ctl));
    if (f->obj[0])
        shm_unlink(f->obj); /* normally the server did */
}

static void test_forged(void)
{
    static const char *const how[3] = {"a wrong proof", "no proof at all",
                                       "an unusable public key"};
    static const char *const logged[3] = {"could not prove", "malformed",
                                          "unusable public key"};
    uint8_t zero[EMBER_KEY_BYTES] = {0};
    for (int k = 0; k < 3; k++) {
        char what[32], b[128], name[128];
        snprintf(what, sizeof what, "forged%d", k);
        snprintf(name, sizeof name, "%s%s", prefix, what);
        ember_tsock *srv = listen_sec(ctx, what, 0, b, sizeof b);
        forged f;
        int admits0 = admits, logs0 = fake_host_st.nlogs;
        int rc = srv ? forge(name, k == 2 ? zero : good_kp.pub, &f) : -1;
        if (!ok(rc == 0, "a hand-made client announces itself (%s)", how[k])) {
            forge_free(&f);
            T->sock_close(srv);
            continue;
        }
        uint32_t st = HS_HELLO;
        if (k < 2) {
            st = forge_wait(&f, HS_HELLO);
            is_int(HS_CHALLENGE, st, "the server answers with a challenge");
            forge_message(&f, "launch task");
            if (k == 0) { /* claims good_kp without its secret key */
                randombytes_buf(f.conn->hs.client_proof, PROOF_BYTES);
                atomic_store(&f.conn->hs.state, HS_PROOF);
            } else { /* claims to be admitted */
                atomic_store(&f.conn->hs.state, HS_ADMITTED);
            }
            atomic_fetch_add(&f.ctl->hs_bell, 1);
            st = k == 0 ? HS_PROOF : HS_ADMITTED;
        } else {
            skip("no challenge for an unusable key");
        }
        st = forge_wait(&f, st);
        is_int(HS_REFUSED, st, "%s is refused", how[k]);
        ok(atomic_load(&f.conn->server_closed) != 0,
           "... and the connection closed by the server");
        ember_tmsg m;
        ember_error err = {0};
        is_int(EMBER_EAGAIN, T->recv(srv, 300, NULL, &m, &err),
               "nothing it wrote is delivered");
        is_int(admits0, admits, "admit() was not asked");
        ok(fake_host_st.nlogs > logs0 &&
               strstr(fake_host_st.last_log, logged[k]) != NULL,
           "the refusal is logged: %s", fake_host_st.last_log);
        forge_free(&f);
        T->sock_close(srv);
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    plan(199);
    snprintf(prefix, sizeof prefix, "t%ld-", (long)getpid());
    void *handle = load(argc, argv);
    test_conf();
    ember_error err = {0};
    int rc = T->open(&fake_host, &ctx, &err);
    if (!ok(rc == 0 && ctx, "open the transport context %s", err.msg))
        bail("cannot open");

    ember_tsock *srv, *cli;
    char bound[256] = "";
    test_basic(&srv, &cli, bound, sizeof bound);
    test_two_clients(srv, bound);
    test_timeout_and_wake(srv, cli);
    test_send_errors(srv, cli);
    test_bad_endpoints(bound);
    test_stale();
    test_ordering(srv, cli);
    test_big(srv, cli);
    test_corrupt();
    test_fork();
    test_killed();
    test_send_timeout();
    test_modes();
    test_precreated();
    test_foreign_conn();
    if (sodium_init() < 0)
        bail("sodium_init failed");
    crypto_box_keypair(srv_kp.pub, srv_kp.sec);
    crypto_box_keypair(good_kp.pub, good_kp.sec);
    crypto_box_keypair(slow_kp.pub, slow_kp.sec);
    test_secure();
    test_forged();

    T->sock_close(cli);
    T->sock_close(srv);
    T->sock_close(NULL);
    T->close(ctx);
    ok(1, "sockets and context closed without hanging");
    is_int(0, shm_count(prefix, NULL, 0),
           "no /dev/shm/ember-%s* object is left", prefix);
    dlclose(handle);
    return done_testing();
}
