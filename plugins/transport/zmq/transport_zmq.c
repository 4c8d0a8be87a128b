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
 *   - No ZMQ_MAXMSGSIZE: the wire layer bounds-checks every message.
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#define PLUGIN_NAME "transport_zmq"
#define PLUGIN_VERSION "0.1.0"
#define ENDPOINT_MAX 1024

typedef struct tctx {
    const ember_host *host;
    void *zctx;
} tctx;

struct ember_tsock {
    const ember_host *host;
    void *zsock;
    int efd;       /* eventfd for wake() */
    int is_router; /* listen() socket: frames carry a routing id */
    char endpoint[ENDPOINT_MAX];
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
    c->zctx = zmq_ctx_new();
    if (!c->zctx) {
        int e = errno;
        host->seterr(err, EMBER_EIO, "zmq_ctx_new: %s", zmq_strerror(e));
        free(c);
        return EMBER_EIO;
    }
    if (zmq_ctx_set(c->zctx, ZMQ_BLOCKY, 0) != 0) {
        int e = errno;
        host->seterr(err, EMBER_EIO, "zmq_ctx_set(ZMQ_BLOCKY): %s",
                     zmq_strerror(e));
        zmq_ctx_term(c->zctx);
        free(c);
        return EMBER_EIO;
    }
    *ctx = c;
    return 0;
}

/* All sockets must have been closed. */
static void t_close(void *ctx)
{
    tctx *c = ctx;
    if (!c)
        return;
    while (zmq_ctx_term(c->zctx) != 0 && errno == EINTR)
        ;
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
    if (zmq_bind(s->zsock, endpoint) != 0) {
        int e = errno;
        rc = code_of(e);
        c->host->seterr(err, rc, "zmq_bind(%s): %s", endpoint, zmq_strerror(e));
        goto fail;
    }
    char last[ENDPOINT_MAX];
    size_t lastlen = sizeof last;
    if (zmq_getsockopt(s->zsock, ZMQ_LAST_ENDPOINT, last, &lastlen) != 0) {
        int e = errno;
        rc = EMBER_EIO;
        c->host->seterr(err, rc, "zmq_getsockopt(%s, ZMQ_LAST_ENDPOINT): %s",
                        endpoint, zmq_strerror(e));
        goto fail;
    }
    last[sizeof last - 1] = '\0';
    snprintf(s->endpoint, sizeof s->endpoint, "%s", last);
    if (bound && boundlen > 0) {
        if (strlen(last) >= boundlen) {
            rc = EMBER_ETOOBIG;
            c->host->seterr(err, rc,
                            "zmq: bound endpoint %s does not fit in %zu bytes",
                            last, boundlen);
            goto fail;
        }
        strcpy(bound, last);
    }
    *out = s;
    return 0;
fail:
    zmq_close(s->zsock);
    close(s->efd);
    free(s);
    return rc;
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
        zmq_pollitem_t items[2] = {
            {.socket = s->zsock, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = s->efd, .events = ZMQ_POLLIN},
        };
        int n = zmq_poll(items, 2, wait);
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
    zmq_close(s->zsock);
    close(s->efd);
    free(s);
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
