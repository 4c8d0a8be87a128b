/*
 * transport_shm.c -- ember's message transport over POSIX shared memory
 * (plugin "transport_shm", registers the transport "shm").  Same semantics
 * as "zmq": listen() makes a server socket with many peers, connect() a
 * client with one peer; a message is one contiguous buffer on receipt.
 * The authenticated sockets (listen_secure, connect_secure, peer_name) are
 * in shm_auth.c, the creating and opening of private objects in shm_obj.c,
 * the layouts and local structs in shm_int.h.
 *
 * What it owns: per process a tiny context (settings); per server socket a
 * control object "/ember-NAME" (created with O_EXCL, unlinked at close);
 * per client socket a connection object "/ember-NAME+c<pid>.<32 hex>" (the
 * hex part random, from libsodium) holding two single-producer/
 * single-consumer byte rings (client->server, server->client;
 * transport.shm.ring_size bytes each, default 4 MiB).
 *
 * Private on disk: every object is created with O_CREAT|O_EXCL (never
 * following a symlink: glibc's shm_open adds O_NOFOLLOW, and we ask for it
 * too), made mode 0600 whatever the umask (fchmod) and checked with fstat:
 * a regular file of our effective uid with mode 0600, else it is removed
 * and the call fails.  An existing object is lstat'ed first and not even
 * opened unless it is the same; then opened with O_NOFOLLOW and O_NONBLOCK
 * (a FIFO swapped in cannot block us) and used only if fstat agrees: a
 * connection object of another uid or with another mode is refused at
 * accept (and left alone if it is not ours); a control object that is not
 * ours makes connect() fail with EMBER_EDENIED.
 * The control object's name comes from the endpoint the host chose, so
 * another user can take it first: listen() then fails with EMBER_EEXISTS
 * saying whose object is in the way and leaves it alone.  That is a denial
 * of service only; nothing of ours is ever written into, read from or
 * mapped from such an object, and a client never connects through it.
 *
 * How connecting works: the control object holds a robust, process-shared
 * mutex and a table of SLOTS mailboxes.  A client claims a free slot under
 * the mutex (state CLAIMED, its pid and the object's name), creates and
 * initialises its connection object, then marks the slot READY and rings
 * the server's doorbell.  The server takes READY slots under the mutex (a
 * plain listener in recv()/send(), a secure one on its handshake thread,
 * see shm_auth.c): it opens, validates and maps the object, unlinks its
 * name at once (both sides keep their mappings) and frees the slot.  So
 * after a connection is accepted nothing of it remains in /dev/shm,
 * whoever dies.  Slots of dead clients (kill(pid, 0) == ESRCH) are
 * reclaimed and their names unlinked; a client that closes before being
 * accepted frees its slot and unlinks its object itself.  Whoever frees a
 * slot unlinks its name, always under the mutex, so a name is never
 * unlinked twice.
 *
 * Messages: a 16-byte frame header (magic, length) and the payload, written
 * into the ring as a byte stream; anything larger than the ring is streamed
 * in chunks as the consumer drains it.  The receiver copies into one heap
 * buffer per message (msg->handle), so messages outlive their socket.
 *
 * Waking: futexes on words in shared memory (no FUTEX_PRIVATE_FLAG, so they
 * work across processes).  The server sleeps on a doorbell word in the
 * control object that every client bumps after writing; a client sleeps on
 * a word in its connection object that the server bumps; a producer facing
 * a full ring sleeps on a "space" word the consumer bumps.  "waiting" flags
 * let the other side skip FUTEX_WAKE when nobody sleeps.  wake() sets a
 * flag, bumps the socket's doorbell and FUTEX_WAKEs: thread-safe and
 * async-signal-safe.
 *
 * Failure handling: send() to a full ring waits while the consumer makes
 * progress; after transport.shm.send_timeout_ms (default 30000) without
 * progress, or as soon as the peer closed or its pid is gone, it returns
 * EMBER_ECLOSED and the connection is marked broken (a message may have been
 * cut).  While it waits it also drains the socket's own incoming rings into
 * its queue, so two peers sending big messages to each other do not
 * deadlock.  recv() always honours its timeout and checks every ~200 ms
 * whether clients died or closed, dropping their connections.
 *
 * Everything read from shared memory is untrusted: object names in slots
 * must have the exact form above, ring sizes are checked against the
 * object's size at accept, positions against the ring size, frame headers
 * against a magic and the socket's max_message (transport.shm.max_message,
 * or a secure listener's smaller ember_tsec.max_message); violations give
 * EMBER_EPROTO (the connection is broken and the client told so), never a
 * crash.  The mutex is taken with a timeout, so a corrupted one cannot
 * wedge us either.
 *
 * Global state: none (the host table is kept in the context and sockets).
 *
 * Threads: the context may be shared by all threads.  A socket is used by
 * one thread at a time, except wake(), which any thread (or a signal
 * handler) may call while the socket is open.  A received message may be
 * released on any thread, also after its socket was closed.  A secure
 * listener also runs a handshake thread of its own (shm_auth.c).
 */
#include "shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define PLUGIN_VERSION "0.2.0"

#define RING_DEFAULT (4u << 20)
#define RING_MIN (64u << 10)
#define RING_MAX (1u << 30)
#define MAXMSG_DEFAULT (UINT64_C(4) << 30)
#define SEND_TIMEOUT_DEFAULT 30000
#define LOCK_TIMEOUT_S 5 /* a mutex held longer is considered wedged */

/* ------------------------------------------------------------ helpers */

int64_t shm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void shm_futex_wait(_Atomic uint32_t *w, uint32_t val, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void shm_ring_bell(_Atomic uint32_t *bell, _Atomic uint32_t *waiting)
{
    atomic_fetch_add(bell, 1);
    if (!waiting || atomic_load(waiting))
        futex_wake(bell);
}

/* 1 if pid is known to be gone. */
int shm_pid_dead(pid_t pid)
{
    return pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH);
}

static int valid_name(const char *n)
{
    size_t len = 0;
    for (; n[len]; len++) {
        char c = n[len];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
        if (len >= NAME_MAXLEN)
            return 0;
    }
    return len > 0;
}

/* Check "shm://NAME" and copy NAME out. */
static int parse_endpoint(const ember_host *h, const char *ep, char *name,
                          ember_error *err)
{
    if (!ep || strncmp(ep, SCHEME, sizeof SCHEME - 1) != 0) {
        h->seterr(err, EMBER_EINVAL,
                  "shm: bad endpoint \"%.200s\": expected shm://NAME",
                  ep ? ep : "(null)");
        return EMBER_EINVAL;
    }
    const char *n = ep + sizeof SCHEME - 1;
    if (!valid_name(n)) {
        h->seterr(err, EMBER_EINVAL,
                  "shm: bad endpoint \"%.200s\": NAME must be 1 to %d "
                  "characters of [A-Za-z0-9_.-]",
                  ep, NAME_MAXLEN);
        return EMBER_EINVAL;
    }
    strcpy(name, n);
    return 0;
}

/* Lock the control mutex with a timeout; recovers from a dead owner. */
static int ctl_lock(shm_ctl *ctl)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += LOCK_TIMEOUT_S;
    int rc = pthread_mutex_timedlock(&ctl->lock, &ts);
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&ctl->lock);
        rc = 0;
    }
    return rc;
}

static void ctl_unlock(shm_ctl *ctl)
{
    pthread_mutex_unlock(&ctl->lock);
}

/* Map an object by fd; MAP_FAILED -> NULL. */
static void *map_fd(int fd, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Parse a byte size: digits with an optional k/m/g suffix (powers of
 * 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = UINT64_C(1) << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = UINT64_C(1) << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = UINT64_C(1) << 30;
        end++;
        break;
    default:
        break;
    }
    if (*end || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static void queue_push(ember_tsock *s, qmsg *m)
{
    m->next = NULL;
    if (s->qtail)
        s->qtail->next = m;
    else
        s->qhead = m;
    s->qtail = m;
}

static qmsg *queue_pop(ember_tsock *s)
{
    qmsg *m = s->qhead;
    if (m) {
        s->qhead = m->next;
        if (!s->qhead)
            s->qtail = NULL;
        m->next = NULL;
    }
    return m;
}

static void peer_of(const conn *c, ember_peer *p)
{
    memset(p, 0, sizeof *p);
    p->len = 8;
    memcpy(p->id, &c->id, 4);
    memcpy(p->id + 4, &c->serial, 4);
}

/* ---------------------------------------------------------- the rings */

/* Bytes the consumer may read; -1 if the producer's head is impossible. */
static int64_t rx_avail(const ring *r)
{
    uint64_t head = atomic_load_explicit(&r->h->head, memory_order_acquire);
    uint64_t n = head - r->pos;
    return n > r->size ? -1 : (int64_t)n;
}

/* Bytes the producer may write; -1 if the consumer's tail is impossible. */
static int64_t tx_free(const ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->h->tail, memory_order_acquire);
    uint64_t used = r->pos - tail;
    return used > r->size ? -1 : (int64_t)(r->size - used);
}

static void ring_copy_out(ring *r, void *dst, size_t n)
{
    size_t off = (size_t)(r->pos % r->size);
    size_t first = r->size - off < n ? r->size - off : n;
    memcpy(dst, r->data + off, first);
    if (n > first)
        memcpy((unsigned char *)dst + first, r->data, n - first);
    r->pos += n;
}

static void ring_copy_in(ring *r, const void *src, size_t n)
{
    size_t off = (size_t)(r->pos % r->size);
    size_t first = r->size - off < n ? r->size - off : n;
    memcpy(r->data + off, src, first);
    if (n > first)
        memcpy(r->data, (const unsigned char *)src + first, n - first);
    r->pos += n;
}

/* Consumer: publish our tail and wake a producer waiting for space. */
static void rx_publish(ring *r)
{
    atomic_store_explicit(&r->h->tail, r->pos, memory_order_release);
    shm_ring_bell(&r->h->space, &r->h->pwaiting);
}

/* Producer: publish our head and wake the consumer. */
static void tx_publish(ring *r)
{
    atomic_store_explicit(&r->h->head, r->pos, memory_order_release);
    shm_ring_bell(r->bell, r->waiting);
}

/* Read from c's rx ring what is there.  Returns 1 if a message was
 * completed (queued on s), 0 if not (yet), or a negative error.  If `all`,
 * keeps going until the ring is empty. */
static int pump(ember_tsock *s, conn *c, int all, ember_error *err)
{
    const ember_host *h = s->host;
    int done = 0, moved = 0;
    if (c->broken)
        return 0;
    for (;;) {
        int64_t avail = rx_avail(&c->rx);
        if (avail < 0) {
            c->broken = 1;
            h->seterr(err, EMBER_EPROTO,
                      "shm recv on %s: corrupt ring (write position out of "
                      "range)",
                      s->endpoint);
            return EMBER_EPROTO;
        }
        if (avail == 0)
            break;
        if (!c->cur) {
            size_t want = sizeof c->hdr - c->hdr_got;
            size_t n = (size_t)avail < want ? (size_t)avail : want;
            ring_copy_out(&c->rx, c->hdr + c->hdr_got, n);
            c->hdr_got += n;
            moved = 1;
            if (c->hdr_got < sizeof c->hdr)
                continue;
            frame_hdr fh;
            memcpy(&fh, c->hdr, sizeof fh);
            c->hdr_got = 0;
            if (fh.magic != FRAME_MAGIC || fh.len > s->max_message ||
                fh.len > SIZE_MAX - sizeof(qmsg)) {
                c->broken = 1;
                if (fh.magic != FRAME_MAGIC)
                    h->seterr(err, EMBER_EPROTO,
                              "shm recv on %s: corrupt ring (bad frame "
                              "magic)",
                              s->endpoint);
                else
                    h->seterr(err, EMBER_EPROTO,
                              "shm recv on %s: corrupt ring (a message of "
                              "%llu bytes, longer than max_message, %llu)",
                              s->endpoint, (unsigned long long)fh.len,
                              (unsigned long long)s->max_message);
                rx_publish(&c->rx);
                return EMBER_EPROTO;
            }
            qmsg *m = malloc(sizeof *m + (size_t)fh.len);
            if (!m) {
                c->broken = 1;
                h->seterr(err, EMBER_ENOMEM,
                          "shm recv on %s: out of memory for %llu bytes",
                          s->endpoint, (unsigned long long)fh.len);
                rx_publish(&c->rx);
                return EMBER_ENOMEM;
            }
            m->len = fh.len;
            peer_of(c, &m->from);
            memcpy(m->peer, c->name, sizeof m->peer);
            c->cur = m;
            c->got = 0;
        } else {
            uint64_t want = c->cur->len - c->got;
            size_t n =
                (size_t)((uint64_t)avail < want ? (uint64_t)avail : want);
            ring_copy_out(&c->rx, c->cur->data + c->got, n);
            c->got += n;
            moved = 1;
        }
        if (c->cur && c->got == c->cur->len) {
            queue_push(s, c->cur);
            c->cur = NULL;
            done = 1;
            if (!all)
                break;
        }
        /* free space early so a streaming producer keeps going */
        if (moved && c->cur) {
            rx_publish(&c->rx);
            moved = 0;
        }
    }
    if (moved)
        rx_publish(&c->rx);
    return done;
}

/* ------------------------------------------------------ connections */

void shm_conn_free(conn *c)
{
    if (!c)
        return;
    if (c->shm)
        munmap(c->shm, c->maplen);
    free(c->cur);
    free(c);
}

/* Set up the local views of a mapped connection object. */
static void conn_views(conn *c, int server, shm_ctl *ctl)
{
    unsigned char *base = (unsigned char *)c->shm + sizeof(shm_conn);
    uint64_t rs = c->tx.size; /* set by the caller */
    ring c2s = {&c->shm->c2s, base, rs, 0, NULL, NULL};
    ring s2c = {&c->shm->s2c, base + rs, rs, 0, NULL, NULL};
    if (server) {
        c->rx = c2s;
        c->tx = s2c;
        c->tx.bell = &c->shm->s2c.bell;
        c->tx.waiting = &c->shm->s2c.cwaiting;
    } else {
        c->rx = s2c;
        c->tx = c2s;
        c->tx.bell = &ctl->bell;
        c->tx.waiting = &ctl->waiting;
    }
    /* both rings start at zero; take the positions as they are (a
     * connection accepted late may already carry data) */
    c->rx.pos = atomic_load(&c->rx.h->tail);
    c->tx.pos = atomic_load(&c->tx.h->head);
}

/* Server: open, validate and map a client's object announced in a slot.
 * Called with the control mutex held.  Unlinks the name, unless the object
 * is not ours.  NULL with a reason in why when it is refused. */
static conn *accept_slot(ember_tsock *s, const char *name, pid_t pid, char *why,
                         size_t whylen)
{
    if (!shm_conn_name_ok(name, s->name)) {
        snprintf(why, whylen, "a malformed object name");
        return NULL;
    }
    struct stat st;
    int fd = shm_obj_open(name, &st);
    if (fd < 0 && errno != EPERM) {
        snprintf(why, whylen, "cannot open %s: %s", name, strerror(errno));
        return NULL;
    }
    if (st.st_uid == geteuid()) /* ours, even if bad: the name goes */
        shm_unlink(name);
    conn *c = NULL;
    if (fd < 0 || !shm_obj_private(&st)) {
        char d[160];
        shm_obj_describe(&st, d, sizeof d);
        snprintf(why, whylen, "%s is %s", name, d);
        goto out;
    }
    if (st.st_size < (off_t)sizeof(shm_conn)) {
        snprintf(why, whylen, "%s is too small", name);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    shm_conn *sc = map_fd(fd, len);
    if (!sc) {
        snprintf(why, whylen, "cannot map %s: %s", name, strerror(errno));
        goto out;
    }
    uint64_t rs = sc->ring_size;
    if (atomic_load(&sc->magic) != CONN_MAGIC ||
        sc->version != LAYOUT_VERSION || rs < RING_MIN || rs > RING_MAX ||
        len != sizeof(shm_conn) + 2 * rs || sc->client_pid != pid) {
        snprintf(why, whylen, "%s has a bad layout", name);
        munmap(sc, len);
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, whylen, "out of memory");
        munmap(sc, len);
        goto out;
    }
    c->shm = sc;
    c->maplen = len;
    c->tx.size = rs;
    c->peer_pid = pid;
    conn_views(c, 1, s->ctl);
    atomic_store(&sc->server_pid, (int32_t)getpid());
out:
    if (fd >= 0)
        close(fd);
    return c;
}

void shm_refused(ember_tsock *s, pid_t pid, const char *why)
{
    for (int i = 0; i < s->nlogged; i++)
        if (s->logged[i] == pid)
            return;
    if (s->nlogged < LOGGED_MAX)
        s->logged[s->nlogged++] = pid;
    s->host->log(EMBER_LOG_WARN, PLUGIN_NAME, "%s: refused a peer (pid %d): %s",
                 s->endpoint, (int)pid, why);
}

static int add_conn(ember_tsock *s, conn *c)
{
    for (size_t i = 0; i < s->nconns; i++) {
        if (!s->conns[i]) {
            c->id = (uint32_t)i;
            c->serial = ++s->next_serial;
            s->conns[i] = c;
            return 0;
        }
    }
    if (s->nconns >= UINT32_MAX)
        return -1;
    conn **n = realloc(s->conns, (s->nconns + 1) * sizeof *n);
    if (!n)
        return -1;
    s->conns = n;
    c->id = (uint32_t)s->nconns;
    c->serial = ++s->next_serial;
    s->conns[s->nconns++] = c;
    return 0;
}

/* Server: tell a client its connection was dropped, then free it. */
static void conn_drop(conn *c)
{
    atomic_store(&c->shm->server_closed, 1);
    shm_ring_bell(&c->shm->s2c.bell, NULL);
    shm_ring_bell(&c->shm->c2s.space, NULL);
    shm_conn_free(c);
}

void shm_accept_pending(ember_tsock *s, int reap)
{
    int any = 0;
    for (int i = 0; i < SLOTS && !any; i++) {
        uint32_t st = atomic_load(&s->ctl->slots[i].state);
        any = (st == SLOT_READY && (!s->secure || s->npending < SLOTS)) ||
              (reap && st == SLOT_CLAIMED);
    }
    if (!any || ctl_lock(s->ctl) != 0)
        return;
    for (int i = 0; i < SLOTS; i++) {
        shm_slot *sl = &s->ctl->slots[i];
        uint32_t st = atomic_load(&sl->state);
        pid_t pid = sl->pid;
        char name[OBJ_NAME_MAX];
        memcpy(name, sl->name, sizeof name);
        name[sizeof name - 1] = '\0';
        if (st == SLOT_READY) {
            if (s->secure && s->npending >= SLOTS)
                continue; /* later, when handshakes have finished */
            char why[400];
            conn *c = accept_slot(s, name, pid, why, sizeof why);
            if (!c) {
                shm_refused(s, pid, why);
            } else if (s->secure ? shm_hs_add(s, c, name) != 0
                                 : add_conn(s, c) != 0) {
                s->host->log(EMBER_LOG_WARN, PLUGIN_NAME,
                             "%s: out of memory accepting a client",
                             s->endpoint);
                conn_drop(c);
            }
            atomic_store(&sl->state, SLOT_FREE);
        } else if (st == SLOT_CLAIMED && reap && shm_pid_dead(pid)) {
            if (shm_conn_name_ok(name, s->name))
                shm_unlink(name);
            atomic_store(&sl->state, SLOT_FREE);
        }
    }
    ctl_unlock(s->ctl);
}

/* Server, secure: move the connections the handshake thread admitted into
 * the socket's table. */
static void take_admitted(ember_tsock *s)
{
    if (!atomic_load(&s->nadmitted))
        return;
    pthread_mutex_lock(&s->mu);
    conn *list = s->admitted;
    s->admitted = NULL;
    s->admitted_tail = &s->admitted;
    atomic_store(&s->nadmitted, 0);
    pthread_mutex_unlock(&s->mu);
    while (list) {
        conn *c = list;
        list = c->next;
        c->next = NULL;
        if (add_conn(s, c) != 0) {
            s->host->log(EMBER_LOG_WARN, PLUGIN_NAME,
                         "%s: out of memory accepting a client", s->endpoint);
            conn_drop(c);
        }
    }
}

/* Server: take new connections (plain: from the slots; secure: from the
 * handshake thread). */
static void accept_new(ember_tsock *s, int reap)
{
    if (s->secure)
        take_admitted(s);
    else
        shm_accept_pending(s, reap);
}

/* Server: drop connections whose client closed or died (after taking what
 * they sent), and those broken by a protocol error (telling the client). */
static void reap_conns(ember_tsock *s, ember_error *err)
{
    for (size_t i = 0; i < s->nconns; i++) {
        conn *c = s->conns[i];
        if (!c)
            continue;
        int closed = atomic_load(&c->shm->client_closed) != 0;
        if (!closed && !c->broken && !shm_pid_dead(c->peer_pid))
            continue;
        if (!c->broken)
            pump(s, c, 1, err);
        s->conns[i] = NULL;
        conn_drop(c);
    }
}

/* ------------------------------------------------------------ transport */

static void t_sock_close(ember_tsock *s);

static int t_open(const ember_host *host, void **ctx, ember_error *err)
{
    *ctx = NULL;
    tctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->seterr(err, EMBER_ENOMEM, "shm: out of memory");
        return EMBER_ENOMEM;
    }
    c->host = host;
    c->ring_size = RING_DEFAULT;
    c->max_message = MAXMSG_DEFAULT;
    c->send_timeout_ms = SEND_TIMEOUT_DEFAULT;
    const char *v =
        host->conf_get ? host->conf_get("transport.shm.ring_size") : NULL;
    if (v) {
        uint64_t rs;
        if (parse_size(v, &rs) != 0 || rs < RING_MIN || rs > RING_MAX) {
            host->seterr(err, EMBER_EINVAL,
                         "transport.shm.ring_size: \"%s\" is not a size "
                         "between 64k and 1g",
                         v);
            free(c);
            return EMBER_EINVAL;
        }
        c->ring_size = (rs + 4095) & ~(uint64_t)4095;
    }
    v = host->conf_get ? host->conf_get("transport.shm.max_message") : NULL;
    if (v) {
        uint64_t mm;
        if (parse_size(v, &mm) != 0 || mm == 0) {
            host->seterr(err, EMBER_EINVAL,
                         "transport.shm.max_message: \"%s\" is not a size", v);
            free(c);
            return EMBER_EINVAL;
        }
        c->max_message = mm;
    }
    v = host->conf_get ? host->conf_get("transport.shm.send_timeout_ms") : NULL;
    if (v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (end == v || *end || ms < 1 || ms > INT_MAX) {
            host->seterr(err, EMBER_EINVAL,
                         "transport.shm.send_timeout_ms: \"%s\" is not a "
                         "positive number of milliseconds",
                         v);
            free(c);
            return EMBER_EINVAL;
        }
        c->send_timeout_ms = (int)ms;
    }
    *ctx = c;
    return 0;
}

/* All sockets must have been closed. */
static void t_close(void *ctx)
{
    free(ctx);
}

static ember_tsock *sock_alloc(tctx *c, const char *name, int server)
{
    ember_tsock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->host = c->host;
    s->ctx = c;
    s->is_server = server;
    s->slot = -1;
    s->max_message = c->max_message;
    s->admitted_tail = &s->admitted;
    strcpy(s->name, name);
    snprintf(s->endpoint, sizeof s->endpoint, SCHEME "%s", name);
    return s;
}

static void sock_free(ember_tsock *s)
{
    if (!s)
        return;
    shm_sec_wipe(s);
    free(s);
}

/* Create and initialise the control object; returns 0 or an errno value
 * (EEXIST: the name is taken). */
static int ctl_create(const char *obj, int secure, shm_ctl **out)
{
    int fd = shm_obj_create(obj);
    if (fd < 0)
        return errno;
    int e = 0;
    shm_ctl *ctl = NULL;
    if (ftruncate(fd, sizeof(shm_ctl)) != 0 ||
        !(ctl = map_fd(fd, sizeof(shm_ctl)))) {
        e = errno;
        close(fd);
        shm_unlink(obj);
        return e ? e : EIO;
    }
    close(fd);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    e = pthread_mutex_init(&ctl->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (e != 0) {
        munmap(ctl, sizeof(shm_ctl));
        shm_unlink(obj);
        return e;
    }
    ctl->version = LAYOUT_VERSION;
    ctl->server_pid = (int32_t)getpid();
    ctl->secure = secure ? 1u : 0u;
    atomic_store(&ctl->magic, CTL_MAGIC);
    *out = ctl;
    return 0;
}

/* The control object's name `obj` is taken.  If it is our own object of a
 * dead or closed server, unlink it and return 0 (try again).  Anything
 * else -- a live server, or an object that is not ours (another user's, a
 * symlink, a FIFO, another mode) -- is left alone: EMBER_EEXISTS with a
 * message saying what is in the way. */
static int ctl_taken(const ember_host *h, const char *endpoint, const char *obj,
                     ember_error *err)
{
    struct stat st;
    int fd = shm_obj_open(obj, &st);
    if (fd < 0 && errno != EPERM) {
        int e = errno;
        if (e == ENOENT)
            return 0; /* vanished meanwhile */
        h->seterr(err, EMBER_EEXISTS,
                  "shm listen on %s: the name is taken: /dev/shm%s exists and "
                  "cannot be opened (%s); it was left alone",
                  endpoint, obj, e == ELOOP ? "a symbolic link" : strerror(e));
        return EMBER_EEXISTS;
    }
    if (fd < 0 || !shm_obj_private(&st)) {
        char d[160];
        shm_obj_describe(&st, d, sizeof d);
        if (fd >= 0)
            close(fd);
        h->seterr(err, EMBER_EEXISTS,
                  "shm listen on %s: the name is taken by an object that is "
                  "not this user's own: /dev/shm%s is %s; it was left alone",
                  endpoint, obj, d);
        return EMBER_EEXISTS;
    }
    pid_t owner = 0;
    int stale = 0, ours = 0;
    if (st.st_size == (off_t)sizeof(shm_ctl)) {
        shm_ctl *ctl = map_fd(fd, sizeof(shm_ctl));
        if (ctl) {
            if (atomic_load(&ctl->magic) == CTL_MAGIC &&
                ctl->version == LAYOUT_VERSION) {
                ours = 1;
                owner = ctl->server_pid;
                stale = atomic_load(&ctl->closed) || shm_pid_dead(owner);
            }
            munmap(ctl, sizeof(shm_ctl));
        }
    }
    close(fd);
    if (stale) {
        shm_unlink(obj);
        return 0;
    }
    if (ours)
        h->seterr(err, EMBER_EEXISTS,
                  "shm listen on %s: address in use (by pid %d)", endpoint,
                  (int)owner);
    else
        h->seterr(err, EMBER_EEXISTS,
                  "shm listen on %s: address in use (by /dev/shm%s, not a "
                  "control object of this version; remove it if no older "
                  "ember uses it)",
                  endpoint, obj);
    return EMBER_EEXISTS;
}

int shm_listen(tctx *c, const char *endpoint, const ember_tsec *sec,
               ember_tsock **out, char *bound, size_t boundlen,
               ember_error *err)
{
    const ember_host *h = c->host;
    char name[NAME_MAXLEN + 1];
    *out = NULL;
    int rc = parse_endpoint(h, endpoint, name, err);
    if (rc != 0)
        return rc;
    if (bound && boundlen > 0 && strlen(endpoint) >= boundlen) {
        h->seterr(err, EMBER_ETOOBIG,
                  "shm: bound endpoint %s does not fit in %zu bytes", endpoint,
                  boundlen);
        return EMBER_ETOOBIG;
    }
    ember_tsock *s = sock_alloc(c, name, 1);
    if (!s) {
        h->seterr(err, EMBER_ENOMEM, "shm: out of memory");
        return EMBER_ENOMEM;
    }
    char obj[OBJ_NAME_MAX];
    snprintf(obj, sizeof obj, "/ember-%s", name);
    int e = 0;
    for (int tries = 0; tries < 3; tries++) {
        e = ctl_create(obj, sec != NULL, &s->ctl);
        if (e != EEXIST)
            break;
        rc = ctl_taken(h, endpoint, obj, err);
        if (rc != 0) {
            sock_free(s);
            return rc;
        }
    }
    if (e != 0) {
        h->seterr(err, EMBER_EIO, "shm listen on %s: creating %s: %s", endpoint,
                  obj, e == EPERM ? "not private after creation" : strerror(e));
        sock_free(s);
        return EMBER_EIO;
    }
    s->bell = &s->ctl->bell;
    s->bell_waiting = &s->ctl->waiting;
    s->last_check = shm_now_ms();
    if (sec) {
        s->secure = 1;
        memcpy(&s->sec, sec, sizeof s->sec);
        s->sec.struct_size = sizeof s->sec;
        if (sec->max_message > 0 && (uint64_t)sec->max_message < s->max_message)
            s->max_message = (uint64_t)sec->max_message;
        rc = shm_hs_start(s, err);
        if (rc != 0) {
            atomic_store(&s->ctl->closed, 1);
            shm_unlink(obj);
            munmap(s->ctl, sizeof(shm_ctl));
            sock_free(s);
            return rc;
        }
    }
    if (bound && boundlen > 0)
        strcpy(bound, s->endpoint);
    *out = s;
    return 0;
}

static int t_listen(void *ctx, const char *endpoint, ember_tsock **out,
                    char *bound, size_t boundlen, ember_error *err)
{
    return shm_listen(ctx, endpoint, NULL, out, bound, boundlen, err);
}

/* Client: free our slot if the server has not taken it; unlink our object
 * in that case (else the server did). */
static void client_unannounce(ember_tsock *s)
{
    if (s->slot < 0)
        return;
    int locked = ctl_lock(s->ctl) == 0;
    shm_slot *sl = &s->ctl->slots[s->slot];
    uint32_t st = atomic_load(&sl->state);
    if (st != SLOT_FREE && sl->pid == (int32_t)getpid() &&
        strncmp(sl->name, s->objname, sizeof sl->name) == 0) {
        atomic_store(&sl->state, SLOT_FREE);
        shm_unlink(s->objname);
    } else if (!locked) {
        shm_unlink(s->objname);
    }
    if (locked)
        ctl_unlock(s->ctl);
    s->slot = -1;
}

int shm_connect(tctx *c, const char *endpoint, const ember_tsec *sec,
                ember_tsock **out, ember_error *err)
{
    const ember_host *h = c->host;
    char name[NAME_MAXLEN + 1], obj[OBJ_NAME_MAX];
    *out = NULL;
    int rc = parse_endpoint(h, endpoint, name, err);
    if (rc != 0)
        return rc;
    snprintf(obj, sizeof obj, "/ember-%s", name);
    struct stat st;
    int fd = shm_obj_open(obj, &st);
    if (fd < 0 && errno != EPERM) {
        int e = errno;
        rc = e == ENOENT                 ? EMBER_ECLOSED
             : e == EACCES || e == ELOOP ? EMBER_EDENIED
                                         : EMBER_EIO;
        h->seterr(err, rc, "shm connect to %s: %s", endpoint,
                  e == ENOENT ? "nobody listens there" : strerror(e));
        return rc;
    }
    if (fd < 0 || !shm_obj_private(&st)) {
        char d[160];
        shm_obj_describe(&st, d, sizeof d);
        if (fd >= 0)
            close(fd);
        h->seterr(err, EMBER_EDENIED,
                  "shm connect to %s: /dev/shm%s is not this user's own "
                  "(it is %s): refusing to use it",
                  endpoint, obj, d);
        return EMBER_EDENIED;
    }
    shm_ctl *ctl = NULL;
    if (st.st_size == (off_t)sizeof(shm_ctl))
        ctl = map_fd(fd, sizeof(shm_ctl));
    close(fd);
    if (!ctl || atomic_load(&ctl->magic) != CTL_MAGIC ||
        ctl->version != LAYOUT_VERSION || atomic_load(&ctl->closed) ||
        shm_pid_dead(ctl->server_pid)) {
        if (ctl)
            munmap(ctl, sizeof(shm_ctl));
        h->seterr(err, EMBER_ECLOSED,
                  "shm connect to %s: the server is not ready or closed",
                  endpoint);
        return EMBER_ECLOSED;
    }
    if (sec && ctl->secure != 1) {
        munmap(ctl, sizeof(shm_ctl));
        h->seterr(err, EMBER_EDENIED,
                  "shm connect to %s: the server does not authenticate (a "
                  "plain listener): refusing to talk to it",
                  endpoint);
        return EMBER_EDENIED;
    }
    ember_tsock *s = sock_alloc(c, name, 0);
    conn *cn = calloc(1, sizeof *cn);
    if (!s || !cn) {
        free(s);
        free(cn);
        munmap(ctl, sizeof(shm_ctl));
        h->seterr(err, EMBER_ENOMEM, "shm: out of memory");
        return EMBER_ENOMEM;
    }
    s->ctl = ctl;
    s->cli = cn;
    cn->peer_pid = ctl->server_pid;
    if (sec && (rc = shm_client_begin(s, sec, err)) != 0)
        goto fail;

    /* claim a slot under the mutex */
    if (ctl_lock(ctl) != 0) {
        rc = EMBER_EIO;
        h->seterr(err, rc, "shm connect to %s: the server's lock is wedged",
                  endpoint);
        goto fail;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load(&ctl->slots[i].state) == SLOT_FREE) {
            s->slot = i;
            break;
        }
    }
    if (s->slot < 0) {
        ctl_unlock(ctl);
        rc = EMBER_EAGAIN;
        h->seterr(err, rc,
                  "shm connect to %s: %d connections pending, try again",
                  endpoint, SLOTS);
        goto fail;
    }
    /* create the object under a random name, announced before it exists
     * so that a crash in between leaves nothing the server cannot reclaim */
    shm_slot *sl = &ctl->slots[s->slot];
    fd = -1;
    for (int tries = 0; tries < 8 && fd < 0; tries++) {
        shm_conn_obj_name(s->objname, sizeof s->objname, name);
        memcpy(sl->name, s->objname, sizeof sl->name);
        sl->pid = (int32_t)getpid();
        atomic_store(&sl->state, SLOT_CLAIMED);
        fd = shm_obj_create(s->objname);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        atomic_store(&sl->state, SLOT_FREE);
        s->slot = -1;
        ctl_unlock(ctl);
        rc = EMBER_EIO;
        h->seterr(err, rc, "shm connect to %s: creating %s: %s", endpoint,
                  s->objname,
                  e == EPERM ? "not private after creation" : strerror(e));
        goto fail;
    }
    ctl_unlock(ctl);
    size_t len = sizeof(shm_conn) + 2 * (size_t)c->ring_size;
    if (ftruncate(fd, (off_t)len) != 0 || !(cn->shm = map_fd(fd, len))) {
        int e = errno;
        close(fd);
        rc = EMBER_EIO;
        h->seterr(err, rc, "shm connect to %s: mapping %zu bytes: %s", endpoint,
                  len, strerror(e));
        goto fail;
    }
    close(fd);
    cn->maplen = len;
    cn->shm->version = LAYOUT_VERSION;
    cn->shm->ring_size = c->ring_size;
    cn->shm->client_pid = (int32_t)getpid();
    if (sec)
        shm_client_hello(s);
    atomic_store(&cn->shm->magic, CONN_MAGIC);
    cn->tx.size = c->ring_size;
    conn_views(cn, 0, ctl);
    s->bell = &cn->shm->s2c.bell;
    s->bell_waiting = &cn->shm->s2c.cwaiting;

    if (ctl_lock(ctl) != 0) {
        rc = EMBER_EIO;
        h->seterr(err, rc, "shm connect to %s: the server's lock is wedged",
                  endpoint);
        goto fail;
    }
    atomic_store(&sl->state, SLOT_READY);
    ctl_unlock(ctl);
    shm_ring_bell(&ctl->bell, &ctl->waiting);
    shm_ring_bell(&ctl->hs_bell, &ctl->hs_waiting);
    if (sec) {
        /* prove our key now, so that no handshake waits on an idle client;
           a refusal is the socket's to report (recv/send: EMBER_EDENIED) */
        rc = shm_client_wait(s, CS_WAIT_VERDICT, "connect to", err);
        if (rc != 0 && rc != EMBER_EDENIED) {
            t_sock_close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
fail:
    client_unannounce(s);
    shm_conn_free(cn);
    munmap(ctl, sizeof(shm_ctl));
    sock_free(s);
    return rc;
}

static int t_connect(void *ctx, const char *endpoint, ember_tsock **out,
                     ember_error *err)
{
    return shm_connect(ctx, endpoint, NULL, out, err);
}

/* Is the peer of c gone?  Sets a message. */
static int peer_gone(ember_tsock *s, conn *c, int check_pid, ember_error *err)
{
    int closed = s->is_server ? atomic_load(&c->shm->client_closed) != 0
                              : atomic_load(&c->shm->server_closed) != 0 ||
                                    atomic_load(&s->ctl->closed) != 0;
    if (closed || (check_pid && shm_pid_dead(c->peer_pid))) {
        s->host->seterr(err, EMBER_ECLOSED,
                        "shm send on %s: the peer (pid %d) %s", s->endpoint,
                        (int)c->peer_pid, closed ? "closed" : "died");
        return 1;
    }
    return 0;
}

/* Write n bytes into c's tx ring, waiting for space if needed.  On
 * failure the connection is broken (a message may be cut). */
static int tx_write(ember_tsock *s, conn *c, const void *src, size_t n,
                    ember_error *err)
{
    const unsigned char *p = src;
    int64_t progress = 0, last_pid_check = 0;
    while (n > 0) {
        int64_t fr = tx_free(&c->tx);
        if (fr < 0) {
            c->broken = 1;
            s->host->seterr(err, EMBER_EPROTO,
                            "shm send on %s: corrupt ring (read position out "
                            "of range)",
                            s->endpoint);
            return EMBER_EPROTO;
        }
        if (fr > 0) {
            size_t k = (uint64_t)fr < n ? (size_t)fr : n;
            ring_copy_in(&c->tx, p, k);
            p += k;
            n -= k;
            progress = 0;
            continue;
        }
        /* full: publish what we have, then wait for the consumer */
        tx_publish(&c->tx);
        int64_t t = shm_now_ms();
        if (!progress)
            progress = t;
        if (t - progress >= s->ctx->send_timeout_ms) {
            c->broken = 1;
            s->host->seterr(err, EMBER_ECLOSED,
                            "shm send on %s: the peer (pid %d) read nothing "
                            "for %d ms",
                            s->endpoint, (int)c->peer_pid,
                            s->ctx->send_timeout_ms);
            return EMBER_ECLOSED;
        }
        int check = t - last_pid_check >= CHECK_MS;
        if (check)
            last_pid_check = t;
        if (peer_gone(s, c, check, err)) {
            c->broken = 1;
            return EMBER_ECLOSED;
        }
        /* drain our own incoming rings meanwhile: no mutual deadlock */
        if (s->is_server) {
            for (size_t i = 0; i < s->nconns; i++)
                if (s->conns[i] && s->conns[i] != c)
                    pump(s, s->conns[i], 1, NULL);
        }
        pump(s, s->is_server ? c : s->cli, 1, NULL);
        uint32_t seq = atomic_load(&c->tx.h->space);
        if (tx_free(&c->tx) != 0)
            continue;
        atomic_store(&c->tx.h->pwaiting, 1);
        shm_futex_wait(&c->tx.h->space, seq, 20);
        atomic_store(&c->tx.h->pwaiting, 0);
    }
    return 0;
}

static conn *find_peer(ember_tsock *s, const ember_peer *to)
{
    uint32_t id, serial;
    if (to->len != 8)
        return NULL;
    memcpy(&id, to->id, 4);
    memcpy(&serial, to->id + 4, 4);
    if (id >= s->nconns || !s->conns[id] || s->conns[id]->serial != serial)
        return NULL;
    return s->conns[id];
}

static int t_send(ember_tsock *s, const ember_peer *to,
                  const void *const *parts, const size_t *lens, int nparts,
                  ember_error *err)
{
    const ember_host *h = s->host;
    if (s->is_server && (!to || to->len == 0 || to->len > sizeof to->id)) {
        h->seterr(err, EMBER_EINVAL,
                  "shm send on %s: a listening socket needs a peer",
                  s->endpoint);
        return EMBER_EINVAL;
    }
    if (!s->is_server && to) {
        h->seterr(err, EMBER_EINVAL,
                  "shm send on %s: a client socket takes no peer", s->endpoint);
        return EMBER_EINVAL;
    }
    if (nparts < 0 || (nparts > 0 && (!parts || !lens))) {
        h->seterr(err, EMBER_EINVAL, "shm send on %s: bad parts", s->endpoint);
        return EMBER_EINVAL;
    }
    uint64_t total = 0;
    for (int i = 0; i < nparts; i++) {
        if (lens[i] > s->ctx->max_message - total) {
            h->seterr(err, EMBER_ETOOBIG,
                      "shm send on %s: message longer than "
                      "transport.shm.max_message (%llu bytes)",
                      s->endpoint, (unsigned long long)s->ctx->max_message);
            return EMBER_ETOOBIG;
        }
        total += lens[i];
    }
    conn *c;
    if (s->is_server) {
        accept_new(s, 0);
        c = find_peer(s, to);
        if (!c) {
            h->seterr(err, EMBER_ECLOSED,
                      "shm send on %s: peer unknown or disconnected",
                      s->endpoint);
            return EMBER_ECLOSED;
        }
    } else {
        /* a secure client says nothing before the server proved its key
           and admitted ours */
        int rc = s->secure ? shm_client_wait(s, CS_OPEN, "send on", err) : 0;
        if (rc != 0)
            return rc;
        c = s->cli;
    }
    if (c->broken) {
        h->seterr(err, EMBER_ECLOSED,
                  "shm send on %s: connection broken by an earlier error",
                  s->endpoint);
        return EMBER_ECLOSED;
    }
    if (peer_gone(s, c, 0, err))
        return EMBER_ECLOSED;
    frame_hdr fh = {FRAME_MAGIC, 0, total};
    int rc = tx_write(s, c, &fh, sizeof fh, err);
    for (int i = 0; rc == 0 && i < nparts; i++)
        if (lens[i])
            rc = tx_write(s, c, parts[i], lens[i], err);
    if (rc == 0)
        tx_publish(&c->tx);
    return rc;
}

static void hand_out(qmsg *m, ember_peer *from, ember_tmsg *msg, int server)
{
    if (from) {
        if (server)
            *from = m->from;
        else
            from->len = 0;
    }
    msg->handle = m;
    msg->data = m->data;
    msg->len = (size_t)m->len;
}

static int t_recv(ember_tsock *s, int timeout_ms, ember_peer *from,
                  ember_tmsg *msg, ember_error *err)
{
    msg->data = NULL;
    msg->len = 0;
    msg->handle = NULL;
    if (from)
        from->len = 0;
    int64_t deadline = timeout_ms >= 0 ? shm_now_ms() + timeout_ms : -1;
    for (;;) {
        if (atomic_exchange(&s->woken, 0))
            return EMBER_EWOKEN;
        uint32_t seq = atomic_load(s->bell);
        qmsg *m = queue_pop(s);
        if (m) {
            hand_out(m, from, msg, s->is_server);
            return 0;
        }
        int rc = 0;
        if (s->is_server) {
            int64_t t = shm_now_ms();
            int reap = t - s->last_check >= CHECK_MS;
            accept_new(s, reap);
            size_t n = s->nconns;
            for (size_t k = 0; k < n && rc == 0; k++) {
                conn *c = s->conns[(s->rr + k) % n];
                if (c)
                    rc = pump(s, c, 0, err);
            }
            if (n)
                s->rr = (s->rr + 1) % n;
            if (reap) {
                s->last_check = t;
                reap_conns(s, NULL);
            }
        } else if (s->secure) {
            /* nothing is read before the handshake is done */
            rc = shm_client_step(s, err);
            if (rc == 0)
                rc = pump(s, s->cli, 0, err);
            else if (rc > 0)
                rc = 0;
        } else {
            rc = pump(s, s->cli, 0, err);
        }
        if (rc < 0)
            return rc;
        if ((m = queue_pop(s)) != NULL) {
            hand_out(m, from, msg, s->is_server);
            return 0;
        }
        int wait = CHECK_MS;
        if (deadline >= 0) {
            int64_t left = deadline - shm_now_ms();
            if (left <= 0)
                return EMBER_EAGAIN;
            if (left < wait)
                wait = (int)left;
        }
        atomic_store(s->bell_waiting, 1);
        shm_futex_wait(s->bell, seq, wait);
        atomic_store(s->bell_waiting, 0);
    }
}

static void t_msg_release(ember_tmsg *msg)
{
    if (!msg || !msg->handle)
        return;
    free(msg->handle);
    msg->handle = NULL;
    msg->data = NULL;
    msg->len = 0;
}

/* Async-signal-safe: atomics and one futex syscall. */
static int t_wake(ember_tsock *s)
{
    if (!s)
        return EMBER_EINVAL;
    atomic_store(&s->woken, 1);
    shm_ring_bell(s->bell, NULL);
    return 0;
}

static void t_sock_close(ember_tsock *s)
{
    if (!s)
        return;
    if (s->is_server) {
        atomic_store(&s->ctl->closed, 1);
        if (s->secure) {
            shm_hs_stop(s);   /* drops the connections under way */
            take_admitted(s); /* the admitted ones are dropped below */
        }
        if (ctl_lock(s->ctl) == 0) {
            for (int i = 0; i < SLOTS; i++) {
                shm_slot *sl = &s->ctl->slots[i];
                if (atomic_load(&sl->state) == SLOT_FREE)
                    continue;
                char name[OBJ_NAME_MAX];
                memcpy(name, sl->name, sizeof name);
                name[sizeof name - 1] = '\0';
                if (shm_conn_name_ok(name, s->name))
                    shm_unlink(name);
                atomic_store(&sl->state, SLOT_FREE);
            }
            ctl_unlock(s->ctl);
        }
        for (size_t i = 0; i < s->nconns; i++)
            if (s->conns[i])
                conn_drop(s->conns[i]);
        free(s->conns);
        char obj[OBJ_NAME_MAX];
        snprintf(obj, sizeof obj, "/ember-%s", s->name);
        shm_unlink(obj);
        /* the mutex is not destroyed: clients may still hold the mapping */
    } else {
        conn *c = s->cli;
        if (c->shm) {
            atomic_store(&c->shm->client_closed, 1);
            shm_ring_bell(&s->ctl->bell, NULL);
            shm_ring_bell(&s->ctl->hs_bell, NULL);
            shm_ring_bell(&c->shm->s2c.space, NULL);
        }
        client_unannounce(s);
        shm_conn_free(c);
    }
    munmap(s->ctl, sizeof(shm_ctl));
    for (qmsg *m = queue_pop(s); m; m = queue_pop(s))
        free(m);
    sock_free(s);
}

/* --------------------------------------------------------------- plugin */

static const ember_transport_desc shm_transport = {
    .struct_size = sizeof(ember_transport_desc),
    .name = "shm",
    .open = t_open,
    .close = t_close,
    .listen = t_listen,
    .connect = t_connect,
    .send = t_send,
    .recv = t_recv,
    .msg_release = t_msg_release,
    .wake = t_wake,
    .sock_close = t_sock_close,
    .listen_secure = shm_listen_secure,
    .connect_secure = shm_connect_secure,
    .peer_name = shm_peer_name,
};

static int plugin_init(const ember_host *host, ember_registry *reg,
                       ember_error *err)
{
    if (sodium_init() < 0) {
        host->seterr(err, EMBER_EIO, "%s: libsodium cannot initialise",
                     PLUGIN_NAME);
        return EMBER_EIO;
    }
    int rc = host->register_transport(reg, &shm_transport);
    if (rc != 0)
        host->seterr(err, rc, "%s: cannot register transport \"shm\": %s",
                     PLUGIN_NAME, host->strerror(rc));
    return rc;
}

EMBER_PLUGIN_DEFINE(PLUGIN_NAME, PLUGIN_VERSION, plugin_init, NULL)
