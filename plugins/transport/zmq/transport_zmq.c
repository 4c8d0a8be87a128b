/*
 * transport_zmq.c -- ember's message transport over ZeroMQ (plugin
 * "transport_zmq", registers the transport "zmq").
 *
 * What it owns: one zmq context per process (open/close), and sockets:
 *   - listen():  a ROUTER bound to an endpoint ("tcp://127.0.0.1:*" picks a
 *                free port; "ipc:///path" works too).  The concrete endpoint
 *                (ZMQ_LAST_ENDPOINT) is reported in `bound`.
 *   - connect(): a DEALER connected to one endpoint.
 * A message on the wire is one zmq frame (plus the routing-id frame that the
 * ROUTER adds/strips): send() concatenates its parts into a single frame, so
 * the receiver sees one contiguous buffer; recv() hands out that frame zero
 * copy (msg->handle is a heap zmq_msg_t, msg->data/len point into it).
 *
 * How waking works: every socket owns an eventfd.  recv() zmq_polls the
 * socket and the eventfd; wake() writes the eventfd from any thread, and the
 * next (or current) recv() drains it and returns EMBER_EWOKEN.
 *
 * Socket options, and why:
 *   - ZMQ_LINGER 0 on every socket and ZMQ_BLOCKY 0 on the context: closing
 *     never blocks and zmq_ctx_term never hangs on a vanished peer.  The cost
 *     is that messages still queued when a socket is closed are dropped;
 *     ember's protocol does not rely on them (anything that matters is
 *     acknowledged at the protocol level, and the driver waits for the ack).
 *   - ZMQ_ROUTER_MANDATORY 1 on ROUTERs: a send to an unknown or disconnected
 *     peer fails with EMBER_ECLOSED instead of being dropped silently.
 *   - ZMQ_SNDHWM/ZMQ_RCVHWM 0 (unbounded) on all sockets: zmq never drops or
 *     blocks on a queue limit; flow control is ember's job (bounded numbers
 *     of in-flight tasks and block fetches), and a peer that dies is detected
 *     by heartbeats.  With a ROUTER, a full HWM would otherwise mean dropped
 *     messages or a blocked scheduler thread.
 *   - DEALERs keep ZMQ_IMMEDIATE off and the default reconnect intervals, so
 *     a client may connect before the server binds, and messages queue.
 *   - No ZMQ_MAXMSGSIZE on plain sockets: the wire layer bounds-checks every
 *     message.  Secure listening sockets take the limit their owner gives
 *     (ember_tsec.max_message), so a peer cannot make us buffer more.
 *
 * Security (listen_secure/connect_secure, ABI 1.3): CurveZMQ.  A secure
 * ROUTER is a CURVE server with its own ZAP domain ("ember.N"); one ZAP
 * handler thread per context (a REP socket on inproc://zeromq.zap.01,
 * started with the first secure listener, before it binds: libzmq admits
 * every CURVE client when no handler is bound) looks the domain up in the
 * context's table and asks that socket's admit() about the client's key.
 * The name admit() returns becomes the ZAP User-Id, which libzmq attaches
 * to every message of that connection (peer_name reads it back).  A secure
 * DEALER proves its keypair and checks the server's key; a monitor socket
 * reports a failed handshake (refused by ZAP, or a server that could not
 * prove its key), and recv()/send() then fail with EMBER_EDENIED at once
 * instead of waiting for answers that never come.
 *
 * Global state: none (the host table is kept in the context and sockets).
 *
 * Threads: the context may be shared by all threads.  A socket is used by
 * one thread at a time (zmq sockets are not thread-safe), except wake(),
 * which any thread may call while the socket is open.  A received message may
 * be released on any thread, also after its socket was closed.
 */
#include <ember/plugin.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#define PLUGIN_NAME "transport_zmq"
#define PLUGIN_VERSION "0.1.0"
#define ENDPOINT_MAX 1024

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define NAME_MAX_ 64  /* peer names given by admit() */
#define LOGGED_MAX 32 /* refused addresses logged per socket */
#define ADDR_MAX 64

/* A secure listening socket as the ZAP handler sees it. */
typedef struct zap_domain {
    char domain[24];
    int (*admit)(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                 const char *address, char *name, size_t namelen);
    void *ud;
    char endpoint[ENDPOINT_MAX];
    char logged[LOGGED_MAX][ADDR_MAX]; /* refused addresses already logged */
    int nlogged;
    struct zap_domain *next;
} zap_domain;

typedef struct tctx {
    const ember_host *host;
    void *zctx;
    /* security: the ZAP handler and the table of secure listeners */
    pthread_mutex_t mu;
    pthread_t zap_thread;
    int zap_started;
    void *zap_stop; /* PAIR: a message here stops the ZAP thread */
    zap_domain *domains;
    unsigned next_domain;
    unsigned next_monitor;
} tctx;

struct ember_tsock {
    const ember_host *host;
    tctx *ctx;
    void *zsock;
    int efd;       /* eventfd for wake() */
    int is_router; /* listen() socket: frames carry a routing id */
    char endpoint[ENDPOINT_MAX];
    /* secure sockets */
    zap_domain *dom; /* listener: its entry in ctx->domains */
    void *monitor;   /* client: PAIR receiving handshake failures */
    int denied;      /* client: the handshake failed for good */
    char denied_msg[512];
};

/* ------------------------------------------------------------- helpers */

/* Map a zmq errno to an ember code. */
static int code_of(int e)
{
    switch (e) {
    case ENOMEM:
        return EMBER_ENOMEM;
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
        return EMBER_EINVAL;
    case EHOSTUNREACH:
    case ETERM:
    case ENOTSOCK:
        return EMBER_ECLOSED;
    default:
        return EMBER_EIO;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_int(void *zsock, int opt, int v)
{
    return zmq_setsockopt(zsock, opt, &v, sizeof v);
}

/* Receive and discard the rest of a multipart message. */
static void drain(void *zsock)
{
    int more = 1;
    size_t sz = sizeof more;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, zsock, 0) < 0 && errno != EINTR) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
        if (zmq_getsockopt(zsock, ZMQ_RCVMORE, &more, &sz) != 0)
            return;
    }
}

static int has_more(void *zsock)
{
    int more = 0;
    size_t sz = sizeof more;
    if (zmq_getsockopt(zsock, ZMQ_RCVMORE, &more, &sz) != 0)
        return 0;
    return more;
}

/* Create a socket of `type` with ember's options and an eventfd; on failure
 * everything is undone and *out stays NULL. */
static int sock_new(tctx *c, int type, const char *endpoint, ember_tsock **out,
                    ember_error *err)
{
    const ember_host *h = c->host;
    *out = NULL;
    if (!endpoint || !*endpoint) {
        h->seterr(err, EMBER_EINVAL, "zmq: empty endpoint");
        return EMBER_EINVAL;
    }
    if (strlen(endpoint) >= ENDPOINT_MAX) {
        h->seterr(err, EMBER_EINVAL, "zmq: endpoint longer than %d bytes",
                  ENDPOINT_MAX - 1);
        return EMBER_EINVAL;
    }
    ember_tsock *s = calloc(1, sizeof *s);
    if (!s) {
        h->seterr(err, EMBER_ENOMEM, "zmq: out of memory");
        return EMBER_ENOMEM;
    }
    s->host = h;
    s->ctx = c;
    s->is_router = type == ZMQ_ROUTER;
    s->efd = -1;
    strcpy(s->endpoint, endpoint);
    s->zsock = zmq_socket(c->zctx, type);
    if (!s->zsock) {
        int e = errno;
        h->seterr(err, code_of(e), "zmq_socket(%s): %s",
                  s->is_router ? "ROUTER" : "DEALER", zmq_strerror(e));
        free(s);
        return code_of(e);
    }
    if (set_int(s->zsock, ZMQ_LINGER, 0) != 0 ||
        set_int(s->zsock, ZMQ_SNDHWM, 0) != 0 ||
        set_int(s->zsock, ZMQ_RCVHWM, 0) != 0 ||
        (s->is_router && set_int(s->zsock, ZMQ_ROUTER_MANDATORY, 1) != 0)) {
        int e = errno;
        h->seterr(err, EMBER_EIO, "zmq_setsockopt(%s): %s", endpoint,
                  zmq_strerror(e));
        zmq_close(s->zsock);
        free(s);
        return EMBER_EIO;
    }
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0) {
        int e = errno;
        h->seterr(err, EMBER_EIO, "eventfd: %s", strerror(e));
        zmq_close(s->zsock);
        free(s);
        return EMBER_EIO;
    }
    *out = s;
    return 0;
}

/* Send one frame, retrying on EINTR.  On failure the frame is still ours. */
static int send_frame(void *zsock, zmq_msg_t *m, int flags)
{
    for (;;) {
        if (zmq_msg_send(m, zsock, flags) >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Bind s to endpoint and report the concrete endpoint in s->endpoint and
 * bound.  On failure the socket is still the caller's to close. */
static int bind_socket(ember_tsock *s, const char *endpoint, char *bound,
                       size_t boundlen, ember_error *err)
{
    const ember_host *h = s->host;
    int rc;
    if (zmq_bind(s->zsock, endpoint) != 0) {
        int e = errno;
        rc = code_of(e);
        h->seterr(err, rc, "zmq_bind(%s): %s", endpoint, zmq_strerror(e));
        return rc;
    }
    char last[ENDPOINT_MAX];
    size_t lastlen = sizeof last;
    if (zmq_getsockopt(s->zsock, ZMQ_LAST_ENDPOINT, last, &lastlen) != 0) {
        int e = errno;
        h->seterr(err, EMBER_EIO, "zmq_getsockopt(%s, ZMQ_LAST_ENDPOINT): %s",
                  endpoint, zmq_strerror(e));
        return EMBER_EIO;
    }
    last[sizeof last - 1] = '\0';
    snprintf(s->endpoint, sizeof s->endpoint, "%s", last);
    if (bound && boundlen > 0) {
        if (strlen(last) >= boundlen) {
            h->seterr(err, EMBER_ETOOBIG,
                      "zmq: bound endpoint %s does not fit in %zu bytes", last,
                      boundlen);
            return EMBER_ETOOBIG;
        }
        strcpy(bound, last);
    }
    return 0;
}

/* ------------------------------------------------------------ transport */

static int t_open(const ember_host *host, void **ctx, ember_error *err)
{
    *ctx = NULL;
    tctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->seterr(err, EMBER_ENOMEM, "zmq: out of memory");
        return EMBER_ENOMEM;
    }
    c->host = host;
    pthread_mutex_init(&c->mu, NULL);
    c->zctx = zmq_ctx_new();
    if (!c->zctx) {
        int e = errno;
        host->seterr(err, EMBER_EIO, "zmq_ctx_new: %s", zmq_strerror(e));
        pthread_mutex_destroy(&c->mu);
        free(c);
        return EMBER_EIO;
    }
    if (zmq_ctx_set(c->zctx, ZMQ_BLOCKY, 0) != 0) {
        int e = errno;
        host->seterr(err, EMBER_EIO, "zmq_ctx_set(ZMQ_BLOCKY): %s",
                     zmq_strerror(e));
        zmq_ctx_term(c->zctx);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return EMBER_EIO;
    }
    *ctx = c;
    return 0;
}

static void zap_stop(tctx *c);
static void t_sock_close(ember_tsock *s);
static int check_monitor(ember_tsock *s);
static int denied(ember_tsock *s, ember_error *err);

/* All sockets must have been closed. */
static void t_close(void *ctx)
{
    tctx *c = ctx;
    if (!c)
        return;
    zap_stop(c);
    while (zmq_ctx_term(c->zctx) != 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int t_listen(void *ctx, const char *endpoint, ember_tsock **out,
                    char *bound, size_t boundlen, ember_error *err)
{
    tctx *c = ctx;
    ember_tsock *s;
    *out = NULL;
    int rc = sock_new(c, ZMQ_ROUTER, endpoint, &s, err);
    if (rc != 0)
        return rc;
    rc = bind_socket(s, endpoint, bound, boundlen, err);
    if (rc != 0) {
        zmq_close(s->zsock);
        close(s->efd);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int t_connect(void *ctx, const char *endpoint, ember_tsock **out,
                     ember_error *err)
{
    tctx *c = ctx;
    ember_tsock *s;
    *out = NULL;
    int rc = sock_new(c, ZMQ_DEALER, endpoint, &s, err);
    if (rc != 0)
        return rc;
    if (zmq_connect(s->zsock, endpoint) != 0) {
        int e = errno;
        rc = code_of(e);
        c->host->seterr(err, rc, "zmq_connect(%s): %s", endpoint,
                        zmq_strerror(e));
        zmq_close(s->zsock);
        close(s->efd);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int t_send(ember_tsock *s, const ember_peer *to,
                  const void *const *parts, const size_t *lens, int nparts,
                  ember_error *err)
{
    const ember_host *h = s->host;
    if (s->is_router && (!to || to->len == 0 || to->len > sizeof to->id)) {
        h->seterr(err, EMBER_EINVAL,
                  "zmq send on %s: a listening socket needs a peer",
                  s->endpoint);
        return EMBER_EINVAL;
    }
    if (!s->is_router && to) {
        h->seterr(err, EMBER_EINVAL,
                  "zmq send on %s: a client socket takes no peer", s->endpoint);
        return EMBER_EINVAL;
    }
    if (s->monitor && check_monitor(s))
        return denied(s, err);
    if (nparts < 0 || (nparts > 0 && (!parts || !lens))) {
        h->seterr(err, EMBER_EINVAL, "zmq send on %s: bad parts", s->endpoint);
        return EMBER_EINVAL;
    }
    size_t total = 0;
    for (int i = 0; i < nparts; i++) {
        if (lens[i] > SIZE_MAX - total) {
            h->seterr(err, EMBER_ETOOBIG, "zmq send on %s: message too big",
                      s->endpoint);
            return EMBER_ETOOBIG;
        }
        total += lens[i];
    }

    zmq_msg_t body;
    if (zmq_msg_init_size(&body, total) != 0) {
        int e = errno;
        h->seterr(err, code_of(e), "zmq_msg_init_size(%zu): %s", total,
                  zmq_strerror(e));
        return code_of(e);
    }
    uint8_t *p = zmq_msg_data(&body);
    for (int i = 0; i < nparts; i++) {
        if (lens[i]) {
            memcpy(p, parts[i], lens[i]);
            p += lens[i];
        }
    }

    if (s->is_router) {
        zmq_msg_t id;
        zmq_msg_init_size(&id, to->len); /* <= 31 bytes: kept inline */
        memcpy(zmq_msg_data(&id), to->id, to->len);
        if (send_frame(s->zsock, &id, ZMQ_SNDMORE) != 0) {
            int e = errno;
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            if (e == EHOSTUNREACH) {
                h->seterr(err, EMBER_ECLOSED,
                          "zmq send on %s: peer unknown or disconnected",
                          s->endpoint);
                return EMBER_ECLOSED;
            }
            h->seterr(err, code_of(e), "zmq_msg_send(%s): %s", s->endpoint,
                      zmq_strerror(e));
            return code_of(e);
        }
    }
    if (send_frame(s->zsock, &body, 0) != 0) {
        int e = errno;
        zmq_msg_close(&body);
        h->seterr(err, code_of(e), "zmq_msg_send(%s): %s", s->endpoint,
                  zmq_strerror(e));
        return code_of(e);
    }
    return 0;
}

/* Read one message that zmq_poll reported.  Returns 0, EMBER_EAGAIN if it
 * vanished (caller polls again), or an error. */
static int read_message(ember_tsock *s, ember_peer *from, ember_tmsg *msg,
                        ember_error *err)
{
    const ember_host *h = s->host;
    if (from)
        from->len = 0;
    if (s->is_router) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, s->zsock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&id);
            if (e == EAGAIN || e == EINTR)
                return EMBER_EAGAIN;
            h->seterr(err, code_of(e), "zmq_msg_recv(%s): %s", s->endpoint,
                      zmq_strerror(e));
            return code_of(e);
        }
        size_t idlen = zmq_msg_size(&id);
        int more = has_more(s->zsock);
        if (idlen == 0 || idlen > sizeof from->id || !more) {
            zmq_msg_close(&id);
            if (more)
                drain(s->zsock);
            h->seterr(err, EMBER_EPROTO, "zmq recv on %s: %s", s->endpoint,
                      !more        ? "message without a body"
                      : idlen == 0 ? "empty peer identity"
                                   : "peer identity longer than 31 bytes");
            return EMBER_EPROTO;
        }
        if (from) {
            from->len = (uint8_t)idlen;
            memcpy(from->id, zmq_msg_data(&id), idlen);
        }
        zmq_msg_close(&id);
    }

    zmq_msg_t *body = malloc(sizeof *body);
    if (!body) {
        drain(s->zsock);
        h->seterr(err, EMBER_ENOMEM, "zmq recv on %s: out of memory",
                  s->endpoint);
        return EMBER_ENOMEM;
    }
    zmq_msg_init(body);
    /* The rest of a multipart message is delivered atomically: block. */
    int flags = s->is_router ? 0 : ZMQ_DONTWAIT;
    for (;;) {
        if (zmq_msg_recv(body, s->zsock, flags) >= 0)
            break;
        int e = errno;
        if (e == EINTR)
            continue;
        zmq_msg_close(body);
        free(body);
        if (e == EAGAIN && !s->is_router)
            return EMBER_EAGAIN;
        h->seterr(err, code_of(e), "zmq_msg_recv(%s): %s", s->endpoint,
                  zmq_strerror(e));
        return code_of(e);
    }
    if (has_more(s->zsock)) {
        drain(s->zsock);
        zmq_msg_close(body);
        free(body);
        h->seterr(err, EMBER_EPROTO,
                  "zmq recv on %s: unexpected extra frames in a message",
                  s->endpoint);
        return EMBER_EPROTO;
    }
    msg->handle = body;
    msg->data = zmq_msg_data(body);
    msg->len = zmq_msg_size(body);
    return 0;
}

static int t_recv(ember_tsock *s, int timeout_ms, ember_peer *from,
                  ember_tmsg *msg, ember_error *err)
{
    const ember_host *h = s->host;
    msg->data = NULL;
    msg->len = 0;
    msg->handle = NULL;
    if (from)
        from->len = 0;
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    for (;;) {
        long wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (long)left : 0;
        }
        if (s->monitor && check_monitor(s))
            return denied(s, err);
        zmq_pollitem_t items[3] = {
            {.socket = s->zsock, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = s->efd, .events = ZMQ_POLLIN},
            {.socket = s->monitor, .events = ZMQ_POLLIN},
        };
        int n = zmq_poll(items, s->monitor ? 3 : 2, wait);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            h->seterr(err, code_of(e), "zmq_poll(%s): %s", s->endpoint,
                      zmq_strerror(e));
            return code_of(e);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            while (read(s->efd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            return EMBER_EWOKEN;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            int rc = read_message(s, from, msg, err);
            if (rc != EMBER_EAGAIN)
                return rc;
        }
        if (s->monitor && check_monitor(s))
            return denied(s, err);
        if (deadline >= 0 && now_ms() >= deadline)
            return EMBER_EAGAIN;
    }
}

static void t_msg_release(ember_tmsg *msg)
{
    if (!msg || !msg->handle)
        return;
    zmq_msg_close(msg->handle);
    free(msg->handle);
    msg->handle = NULL;
    msg->data = NULL;
    msg->len = 0;
}

static int t_wake(ember_tsock *s)
{
    uint64_t one = 1;
    for (;;) {
        if (write(s->efd, &one, sizeof one) == (ssize_t)sizeof one)
            return 0;
        if (errno == EAGAIN) /* counter saturated: a wake is pending */
            return 0;
        if (errno != EINTR)
            return EMBER_EIO;
    }
}

static void t_sock_close(ember_tsock *s)
{
    if (!s)
        return;
    if (s->monitor) {
        zmq_socket_monitor(s->zsock, NULL, 0);
        zmq_close(s->monitor);
    }
    zmq_close(s->zsock);
    close(s->efd);
    if (s->dom) {
        tctx *c = s->ctx;
        pthread_mutex_lock(&c->mu);
        for (zap_domain **pp = &c->domains; *pp; pp = &(*pp)->next)
            if (*pp == s->dom) {
                *pp = s->dom->next;
                break;
            }
        pthread_mutex_unlock(&c->mu);
        free(s->dom);
    }
    free(s);
}

/* ------------------------------------------------------------- security */

/* Receive one frame of a ZAP request into buf (NUL-terminated, truncated);
 * returns its size or -1.  *more says whether frames follow. */
static int zap_frame(void *zs, uint8_t *buf, size_t cap, int *more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, zs, 0) < 0) {
        zmq_msg_close(&m);
        *more = 0;
        return -1;
    }
    size_t n = zmq_msg_size(&m);
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(buf, zmq_msg_data(&m), k);
    buf[k] = '\0';
    *more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    return n > INT_MAX ? INT_MAX : (int)n;
}

static void zap_send(void *zs, const char *s, int more)
{
    while (zmq_send(zs, s, strlen(s), more ? ZMQ_SNDMORE : 0) < 0 &&
           errno == EINTR)
        ;
}

/* Log a refused address once per socket (c->mu held). */
static void zap_log_refusal(tctx *c, zap_domain *d, const char *address,
                            const char *why)
{
    for (int i = 0; i < d->nlogged; i++)
        if (strcmp(d->logged[i], address) == 0)
            return;
    if (d->nlogged < LOGGED_MAX)
        snprintf(d->logged[d->nlogged++], ADDR_MAX, "%s", address);
    c->host->log(EMBER_LOG_WARN, PLUGIN_NAME, "%s: refused a peer from %s: %s",
                 d->endpoint, *address ? address : "(no address)", why);
}

/* Answer one ZAP request (RFC 27): version, request id, domain, address,
 * routing id, mechanism, credentials -> version, request id, status code,
 * status text, user id, metadata. */
static void zap_handle(tctx *c, void *zs)
{
    uint8_t f[8][ADDR_MAX + 8];
    int len[8] = {0};
    int n = 0, more = 1;
    while (more) {
        uint8_t scratch[ADDR_MAX + 8];
        uint8_t *dst = n < 8 ? f[n] : scratch;
        int k = zap_frame(zs, dst, sizeof f[0], &more);
        if (k < 0 && n == 0)
            return; /* nothing to answer */
        if (n < 8)
            len[n] = k;
        n++;
    }
    const char *code = "400", *text = "refused";
    char name[NAME_MAX_] = "";
    /* f[0] version, f[1] request id, f[2] domain, f[3] address,
       f[4] routing id, f[5] mechanism, f[6] the client's public key */
    int wellformed = n == 7 && len[0] == 3 && memcmp(f[0], "1.0", 3) == 0 &&
                     strcmp((char *)f[5], "CURVE") == 0 &&
                     len[6] == EMBER_KEY_BYTES;
    pthread_mutex_lock(&c->mu);
    zap_domain *d = NULL;
    if (n >= 3)
        for (d = c->domains; d; d = d->next)
            if (strcmp(d->domain, (char *)f[2]) == 0)
                break;
    const char *address = n >= 4 ? (const char *)f[3] : "";
    if (!d) {
        text = "unknown domain";
    } else if (!wellformed) {
        zap_log_refusal(c, d, address, "malformed authentication request");
    } else if (d->admit(d->ud, f[6], address, name, sizeof name) == 1) {
        code = "200";
        text = "OK";
        name[sizeof name - 1] = '\0';
    } else {
        name[0] = '\0';
        zap_log_refusal(c, d, address, "unknown key");
    }
    pthread_mutex_unlock(&c->mu);
    /* request ids from libzmq are short; a longer one is not ours to echo */
    size_t reqlen = n >= 2 && len[1] > 0 && (size_t)len[1] < sizeof f[1]
                        ? (size_t)len[1]
                        : 0;
    zap_send(zs, "1.0", 1);
    while (zmq_send(zs, f[1], reqlen, ZMQ_SNDMORE) < 0 && errno == EINTR)
        ;
    zap_send(zs, code, 1);
    zap_send(zs, text, 1);
    zap_send(zs, code[0] == '2' ? name : "", 1);
    zap_send(zs, "", 0);
}

typedef struct zap_start {
    tctx *c;
    void *rep;
    void *stop;
} zap_start;

static void *zap_main(void *arg)
{
    zap_start *z = arg;
    tctx *c = z->c;
    void *rep = z->rep, *stop = z->stop;
    free(z);
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = rep, .events = ZMQ_POLLIN},
                                   {.socket = stop, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            zap_handle(c, rep);
    }
    zmq_close(rep);
    zmq_close(stop);
    return NULL;
}

/* Start the ZAP handler once per context (c->mu held).  The REP socket is
 * bound here, before the caller binds its CURVE server. */
static int zap_ensure(tctx *c, ember_error *err)
{
    if (c->zap_started)
        return 0;
    const ember_host *h = c->host;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ember-zap-stop-%p", (void *)c);
    void *rep = zmq_socket(c->zctx, ZMQ_REP);
    void *stop_in = zmq_socket(c->zctx, ZMQ_PAIR);
    void *stop_out = zmq_socket(c->zctx, ZMQ_PAIR);
    zap_start *z = malloc(sizeof *z);
    if (!rep || !stop_in || !stop_out || !z ||
        set_int(rep, ZMQ_LINGER, 0) != 0 ||
        set_int(stop_in, ZMQ_LINGER, 0) != 0 ||
        set_int(stop_out, ZMQ_LINGER, 0) != 0 ||
        zmq_bind(rep, ZAP_ENDPOINT) != 0 || zmq_bind(stop_in, ep) != 0 ||
        zmq_connect(stop_out, ep) != 0) {
        int e = errno;
        h->seterr(err, EMBER_EIO, "zmq: cannot start the ZAP handler: %s",
                  zmq_strerror(e));
        goto fail;
    }
    z->c = c;
    z->rep = rep;
    z->stop = stop_in;
    if (pthread_create(&c->zap_thread, NULL, zap_main, z) != 0) {
        h->seterr(err, EMBER_EIO, "zmq: cannot start the ZAP thread");
        goto fail;
    }
    c->zap_stop = stop_out;
    c->zap_started = 1;
    return 0;
fail:
    if (rep)
        zmq_close(rep);
    if (stop_in)
        zmq_close(stop_in);
    if (stop_out)
        zmq_close(stop_out);
    free(z);
    return EMBER_EIO;
}

static void zap_stop(tctx *c)
{
    if (!c->zap_started)
        return;
    zap_send(c->zap_stop, "", 0);
    pthread_join(c->zap_thread, NULL);
    zmq_close(c->zap_stop);
    c->zap_stop = NULL;
    c->zap_started = 0;
}

static int check_sec(const ember_host *h, const ember_tsec *sec, int listener,
                     ember_error *err)
{
    if (!sec || sec->struct_size < sizeof(ember_tsec) ||
        sec->mechanism != EMBER_SEC_CURVE) {
        h->seterr(err, EMBER_EINVAL,
                  "zmq: a secure socket needs an ember_tsec with "
                  "mechanism EMBER_SEC_CURVE");
        return EMBER_EINVAL;
    }
    if (listener && !sec->admit) {
        h->seterr(err, EMBER_EINVAL, "zmq: a secure listener needs admit()");
        return EMBER_EINVAL;
    }
    if (sec->max_message < 0) {
        h->seterr(err, EMBER_EINVAL, "zmq: negative max_message");
        return EMBER_EINVAL;
    }
    return 0;
}

static int t_listen_secure(void *ctx, const char *endpoint,
                           const ember_tsec *sec, ember_tsock **out,
                           char *bound, size_t boundlen, ember_error *err)
{
    tctx *c = ctx;
    const ember_host *h = c->host;
    *out = NULL;
    int rc = check_sec(h, sec, 1, err);
    if (rc != 0)
        return rc;
    zap_domain *d = calloc(1, sizeof *d);
    if (!d) {
        h->seterr(err, EMBER_ENOMEM, "zmq: out of memory");
        return EMBER_ENOMEM;
    }
    d->admit = sec->admit;
    d->ud = sec->admit_ud;
    snprintf(d->endpoint, sizeof d->endpoint, "%s", endpoint ? endpoint : "");
    pthread_mutex_lock(&c->mu);
    rc = zap_ensure(c, err);
    if (rc == 0) {
        snprintf(d->domain, sizeof d->domain, "ember.%u", c->next_domain++);
        d->next = c->domains;
        c->domains = d;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
        free(d);
        return rc;
    }
    ember_tsock *s = NULL;
    rc = sock_new(c, ZMQ_ROUTER, endpoint, &s, err);
    if (rc == 0) {
        /* libzmq checks the limit on the encrypted frame: allow CURVE's
           envelope (command name, nonce, MAC, flags) on top */
        int64_t maxmsg = sec->max_message > 0 ? sec->max_message + 64 : -1;
        if (set_int(s->zsock, ZMQ_CURVE_SERVER, 1) != 0 ||
            zmq_setsockopt(s->zsock, ZMQ_CURVE_SECRETKEY, sec->secret_key,
                           EMBER_KEY_BYTES) != 0 ||
            zmq_setsockopt(s->zsock, ZMQ_ZAP_DOMAIN, d->domain,
                           strlen(d->domain)) != 0 ||
            zmq_setsockopt(s->zsock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) !=
                0) {
            int e = errno;
            h->seterr(err, EMBER_EIO, "zmq: CURVE server options on %s: %s",
                      endpoint, zmq_strerror(e));
            rc = EMBER_EIO;
        }
    }
    if (rc == 0)
        rc = bind_socket(s, endpoint, bound, boundlen, err);
    if (rc != 0) {
        if (s) {
            zmq_close(s->zsock);
            close(s->efd);
            free(s);
        }
        pthread_mutex_lock(&c->mu);
        for (zap_domain **pp = &c->domains; *pp; pp = &(*pp)->next)
            if (*pp == d) {
                *pp = d->next;
                break;
            }
        pthread_mutex_unlock(&c->mu);
        free(d);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    snprintf(d->endpoint, sizeof d->endpoint, "%s", s->endpoint);
    pthread_mutex_unlock(&c->mu);
    s->dom = d;
    *out = s;
    return 0;
}

static int t_connect_secure(void *ctx, const char *endpoint,
                            const ember_tsec *sec, ember_tsock **out,
                            ember_error *err)
{
    tctx *c = ctx;
    const ember_host *h = c->host;
    ember_tsock *s;
    *out = NULL;
    int rc = check_sec(h, sec, 0, err);
    if (rc != 0)
        return rc;
    rc = sock_new(c, ZMQ_DEALER, endpoint, &s, err);
    if (rc != 0)
        return rc;
    char mon[64];
    pthread_mutex_lock(&c->mu);
    snprintf(mon, sizeof mon, "inproc://ember-mon-%p-%u", (void *)c,
             c->next_monitor++);
    pthread_mutex_unlock(&c->mu);
    const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_setsockopt(s->zsock, ZMQ_CURVE_SERVERKEY, sec->server_key,
                       EMBER_KEY_BYTES) != 0 ||
        zmq_setsockopt(s->zsock, ZMQ_CURVE_PUBLICKEY, sec->public_key,
                       EMBER_KEY_BYTES) != 0 ||
        zmq_setsockopt(s->zsock, ZMQ_CURVE_SECRETKEY, sec->secret_key,
                       EMBER_KEY_BYTES) != 0 ||
        zmq_socket_monitor(s->zsock, mon, events) != 0 ||
        !(s->monitor = zmq_socket(c->zctx, ZMQ_PAIR)) ||
        set_int(s->monitor, ZMQ_LINGER, 0) != 0 ||
        zmq_connect(s->monitor, mon) != 0) {
        int e = errno;
        h->seterr(err, EMBER_EIO, "zmq: CURVE client options on %s: %s",
                  endpoint, zmq_strerror(e));
        rc = EMBER_EIO;
    } else if (zmq_connect(s->zsock, endpoint) != 0) {
        int e = errno;
        rc = code_of(e);
        h->seterr(err, rc, "zmq_connect(%s): %s", endpoint, zmq_strerror(e));
    }
    if (rc != 0) {
        t_sock_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Read the monitor's pending events; a failed handshake makes the socket
 * denied for good.  Returns 1 if it is denied. */
static int check_monitor(ember_tsock *s)
{
    while (s->monitor && !s->denied) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, s->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) { /* the endpoint frame */
            zmq_msg_init(&addr);
            if (zmq_msg_recv(&addr, s->monitor, 0) >= 0 && zmq_msg_more(&addr))
                drain(s->monitor);
            zmq_msg_close(&addr);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            snprintf(s->denied_msg, sizeof s->denied_msg,
                     "%s refused this process's key (authentication status "
                     "%u): it is not a key of this application",
                     s->endpoint, (unsigned)value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            snprintf(s->denied_msg, sizeof s->denied_msg,
                     "%s could not prove the server key this process expects "
                     "(CURVE handshake failed, zmq protocol error 0x%x): not "
                     "a server of this application, or a wrong key",
                     s->endpoint, (unsigned)value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            snprintf(s->denied_msg, sizeof s->denied_msg,
                     "the CURVE handshake with %s failed: the server did not "
                     "prove the key this process expects (not a server of "
                     "this application, or a wrong key)",
                     s->endpoint);
        else
            continue;
        s->denied = 1;
    }
    return s->denied;
}

static int denied(ember_tsock *s, ember_error *err)
{
    s->host->seterr(err, EMBER_EDENIED, "zmq: %s", s->denied_msg);
    return EMBER_EDENIED;
}

static int t_peer_name(const ember_tmsg *msg, char *out, size_t outlen)
{
    if (!msg || !msg->handle || !out || outlen == 0)
        return EMBER_EINVAL;
    const char *uid = zmq_msg_gets((zmq_msg_t *)msg->handle, "User-Id");
    if (!uid || !*uid)
        return EMBER_ENOTFOUND;
    snprintf(out, outlen, "%s", uid);
    return 0;
}

/* --------------------------------------------------------------- plugin */

static const ember_transport_desc zmq_transport = {
    .struct_size = sizeof(ember_transport_desc),
    .name = "zmq",
    .open = t_open,
    .close = t_close,
    .listen = t_listen,
    .connect = t_connect,
    .send = t_send,
    .recv = t_recv,
    .msg_release = t_msg_release,
    .wake = t_wake,
    .sock_close = t_sock_close,
    .listen_secure = t_listen_secure,
    .connect_secure = t_connect_secure,
    .peer_name = t_peer_name,
};

static int plugin_init(const ember_host *host, ember_registry *reg,
                       ember_error *err)
{
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    if (major < 4 || (major == 4 && minor < 3)) {
        host->seterr(err, EMBER_EUNSUPPORTED,
                     "%s needs libzmq >= 4.3, found %d.%d.%d", PLUGIN_NAME,
                     major, minor, patch);
        return EMBER_EUNSUPPORTED;
    }
    int rc = host->register_transport(reg, &zmq_transport);
    if (rc != 0)
        host->seterr(err, rc, "%s: cannot register transport \"zmq\": %s",
                     PLUGIN_NAME, host->strerror(rc));
    return rc;
}

EMBER_PLUGIN_DEFINE(PLUGIN_NAME, PLUGIN_VERSION, plugin_init, NULL)
