/*
 * test_dag.c -- the real driver (core/sched/: the driver's files, dag.c,
 * taskset.c) against simulated executors and a fake clock, in one process.
 *
 * How it works.  Two plugins are compiled into this program and registered
 * with plugins_register_static(): a transport "sim" whose sockets are
 * in-memory queues (a mutex and a condition variable; recv() waits in real
 * time and honours wake()), and a cluster manager "sim" that accepts the
 * master URL "sim[N]", starts nothing and reports as exited the executors
 * the test marks dead.  The driver runs its own loop thread as in
 * production; the test thread plays every executor: it connects client
 * sockets, sends REGISTER / STATUS / HEARTBEAT messages and reads the
 * LAUNCH / KILL messages the driver addresses to each of them.
 * driver_run_job() blocks, so each job runs on a helper thread.
 *
 * Determinism.  Time as the driver sees it (now_ms/now_us) is a fake clock
 * moved only by the test (clock_override).  "Nothing happened" is checked
 * after a barrier: the transport counts the driver's blocking receives (the
 * loop makes one per turn, right after scheduling), and the barrier wakes
 * the loop until it has started three more turns, so every message sent and
 * every clock change made before the barrier has been processed and the
 * resource offers they call for (scheduler.revive.interval) were made.  Waits
 * for messages use real-time timeouts of several seconds that are never reached
 * when things work.
 *
 * Expectations are Spark's (docs: /work/shared/reference/spark-semantics.md
 * §1 and §2.3).
 */
#include "codec/blockcodec.h"
#include "config.h"
#include "plugin/plugins.h"
#include "rpc/msg.h"
#include "sched/driver.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap/tap.h"
#include "unit/dag_plans.h"

#define WAIT_MS 5000 /* real-time bound of every wait; never hit normally */

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void abs_deadline(struct timespec *ts, int64_t deadline_ms)
{
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

/* ------------------------------------------------------------ fake clock */

static _Atomic int64_t fake_now = 1000000;

static int64_t fake_clock(void)
{
    return atomic_load(&fake_now);
}

/* ------------------------------------------------------- "sim" transport */

typedef struct qmsg {
    struct qmsg *next;
    ember_peer from;
    size_t len;
    uint8_t data[];
} qmsg;

typedef struct simnet simnet;

struct ember_tsock {
    simnet *net;
    int listener;
    char endpoint[32];          /* listeners: where clients connect */
    struct ember_tsock *server; /* clients: their listener */
    ember_peer id;
    qmsg *head, *tail;
    int woken;
    struct ember_tsock *next; /* in net->socks */
};

struct simnet {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on every enqueue, wake and loop turn */
    ember_tsock *socks;
    ember_tsock *listener; /* the first one: the driver's control socket */
    int next_peer;
    int nlisteners;
    uint64_t turns; /* blocking receives on `listener`: loop turns */
};

static simnet *the_net; /* the open context; one driver at a time */

static int sim_open(const ember_host *host, void **ctx, ember_error *err)
{
    simnet *n = calloc(1, sizeof *n);
    pthread_condattr_t ca;
    (void)host;
    if (!n)
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    the_net = n;
    *ctx = n;
    return 0;
}

static void sock_free(ember_tsock *s)
{
    while (s->head) {
        qmsg *q = s->head;
        s->head = q->next;
        free(q);
    }
    free(s);
}

static void sim_close(void *ctx)
{
    simnet *n = ctx;
    while (n->socks) {
        ember_tsock *s = n->socks;
        n->socks = s->next;
        sock_free(s);
    }
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    if (the_net == n)
        the_net = NULL;
    free(n);
}

/* Listeners are "sim://driver" (the first: the driver's control socket),
 * then "sim://listen-1", ...; a client is connected to one listener. */
static ember_tsock *sock_new(simnet *n, const char *connect_to)
{
    ember_tsock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->net = n;
    s->listener = connect_to == NULL;
    pthread_mutex_lock(&n->mu);
    if (connect_to) {
        for (ember_tsock *l = n->socks; l; l = l->next)
            if (l->listener && strcmp(l->endpoint, connect_to) == 0)
                s->server = l;
        if (!s->server) {
            pthread_mutex_unlock(&n->mu);
            free(s);
            return NULL;
        }
        s->id.len = (uint8_t)snprintf((char *)s->id.id, sizeof s->id.id,
                                      "peer-%d", n->next_peer++);
    } else {
        if (n->nlisteners == 0)
            snprintf(s->endpoint, sizeof s->endpoint, "sim://driver");
        else
            snprintf(s->endpoint, sizeof s->endpoint, "sim://listen-%d",
                     n->nlisteners);
        n->nlisteners++;
        s->id.len = (uint8_t)snprintf((char *)s->id.id, sizeof s->id.id, "%s",
                                      s->endpoint);
        if (!n->listener)
            n->listener = s;
    }
    s->next = n->socks;
    n->socks = s;
    pthread_mutex_unlock(&n->mu);
    return s;
}

static int sim_listen(void *ctx, const char *endpoint, ember_tsock **out,
                      char *bound, size_t boundlen, ember_error *err)
{
    (void)endpoint;
    if (!(*out = sock_new(ctx, NULL)))
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    snprintf(bound, boundlen, "%s", (*out)->endpoint);
    return 0;
}

static int sim_connect(void *ctx, const char *endpoint, ember_tsock **out,
                       ember_error *err)
{
    if (!(*out = sock_new(ctx, endpoint)))
        return ember_seterr(err, EMBER_ENOTFOUND, "sim: nothing listens on %s",
                            endpoint);
    return 0;
}

static int sim_send(ember_tsock *s, const ember_peer *to,
                    const void *const *parts, const size_t *lens, int nparts,
                    ember_error *err)
{
    simnet *n = s->net;
    size_t total = 0, off = 0;
    ember_tsock *dest = NULL;
    qmsg *q;
    for (int i = 0; i < nparts; i++)
        total += lens[i];
    if (!(q = malloc(sizeof *q + total + 1)))
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    for (int i = 0; i < nparts; i++) {
        memcpy(q->data + off, parts[i], lens[i]);
        off += lens[i];
    }
    q->len = total;
    q->next = NULL;
    q->from = s->id;
    pthread_mutex_lock(&n->mu);
    if (!s->listener) {
        dest = s->server;
    } else if (to) {
        for (ember_tsock *c = n->socks; c; c = c->next)
            if (c->server == s && c->id.len == to->len &&
                memcmp(c->id.id, to->id, to->len) == 0)
                dest = c;
    }
    if (!dest) {
        pthread_mutex_unlock(&n->mu);
        free(q);
        /* like a ROUTER socket: a message to a gone peer is dropped */
        return s->listener ? 0
                           : ember_seterr(err, EMBER_ECLOSED,
                                          "sim: the driver is gone");
    }
    if (dest->tail)
        dest->tail->next = q;
    else
        dest->head = q;
    dest->tail = q;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return 0;
}

static int sim_recv(ember_tsock *s, int timeout_ms, ember_peer *from,
                    ember_tmsg *msg, ember_error *err)
{
    simnet *n = s->net;
    int64_t deadline = real_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc;
    (void)err;
    pthread_mutex_lock(&n->mu);
    if (s == n->listener && timeout_ms != 0) {
        n->turns++;
        pthread_cond_broadcast(&n->cv);
    }
    for (;;) {
        if (s->head) {
            qmsg *q = s->head;
            s->head = q->next;
            if (!s->head)
                s->tail = NULL;
            if (from)
                *from = q->from;
            msg->data = q->data;
            msg->len = q->len;
            msg->handle = q;
            rc = 0;
            break;
        }
        if (s->woken) {
            s->woken = 0;
            rc = EMBER_EWOKEN;
            break;
        }
        if (timeout_ms == 0 || (timeout_ms > 0 && real_ms() >= deadline)) {
            rc = EMBER_EAGAIN;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&n->cv, &n->mu);
        } else {
            struct timespec ts;
            abs_deadline(&ts, deadline);
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static void sim_release(ember_tmsg *msg)
{
    free(msg->handle);
    msg->handle = NULL;
    msg->data = NULL;
}

static int sim_wake(ember_tsock *s)
{
    pthread_mutex_lock(&s->net->mu);
    s->woken = 1;
    pthread_cond_broadcast(&s->net->cv);
    pthread_mutex_unlock(&s->net->mu);
    return 0;
}

static void sim_sock_close(ember_tsock *s)
{
    simnet *n;
    if (!s)
        return;
    n = s->net;
    pthread_mutex_lock(&n->mu);
    for (ember_tsock **p = &n->socks; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    if (n->listener == s)
        n->listener = NULL;
    for (ember_tsock *c = n->socks; c; c = c->next)
        if (c->server == s)
            c->server = NULL; /* its sends now fail: the peer is gone */
    pthread_mutex_unlock(&n->mu);
    sock_free(s);
}

static const ember_transport_desc sim_transport = {
    sizeof(ember_transport_desc),
    "sim",
    sim_open,
    sim_close,
    sim_listen,
    sim_connect,
    sim_send,
    sim_recv,
    sim_release,
    sim_wake,
    sim_sock_close,
    NULL, /* no secure sockets: the simulation runs without authentication */
    NULL,
    NULL,
};

/* --------------------------------------------- "sim" cluster manager */

static struct {
    pthread_mutex_t mu;
    char dead[16][32]; /* exited, to report at the next poll */
    int ndead;
    int requested; /* request_executor() calls */
    int started, stopped;
} cmsim = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0, 0, 0};

static int cm_accepts(const char *url)
{
    int n;
    return sscanf(url, "sim[%d]", &n) == 1 && n > 0;
}

static int cm_start(const ember_host *host, const ember_cm_request *req,
                    void **state, int *expected, ember_error *err)
{
    int n = 0;
    (void)host;
    if (sscanf(req->master_url, "sim[%d]", &n) != 1)
        return ember_seterr(err, EMBER_EINVAL, "sim: bad master %s",
                            req->master_url);
    pthread_mutex_lock(&cmsim.mu);
    cmsim.started++;
    cmsim.ndead = 0;
    cmsim.requested = 0;
    pthread_mutex_unlock(&cmsim.mu);
    *state = &cmsim;
    *expected = n;
    return 0;
}

static int cm_request(void *state, ember_error *err)
{
    (void)state;
    (void)err;
    pthread_mutex_lock(&cmsim.mu);
    cmsim.requested++;
    pthread_mutex_unlock(&cmsim.mu);
    return 0;
}

static int cm_kill(void *state, const char *exec_id)
{
    (void)state;
    (void)exec_id;
    return 0;
}

static void cm_stop(void *state)
{
    (void)state;
    pthread_mutex_lock(&cmsim.mu);
    cmsim.stopped++;
    pthread_mutex_unlock(&cmsim.mu);
}

static int cm_poll_exited(void *state,
                          void (*exited)(void *ud, const char *exec_id,
                                         const char *how),
                          void *ud)
{
    char dead[16][32];
    int n;
    (void)state;
    /* copy first: exited() requests a replacement, which takes the lock */
    pthread_mutex_lock(&cmsim.mu);
    n = cmsim.ndead;
    memcpy(dead, cmsim.dead, sizeof dead);
    cmsim.ndead = 0;
    pthread_mutex_unlock(&cmsim.mu);
    for (int i = 0; i < n; i++)
        exited(ud, dead[i], "exited with status 1");
    return n;
}

static const ember_cm_desc sim_cm = {
    sizeof(ember_cm_desc),
    "sim",
    cm_accepts,
    cm_start,
    cm_request,
    cm_kill,
    cm_stop,
    cm_poll_exited,
};

static int tp_init(const ember_host *host, ember_registry *reg,
                   ember_error *err)
{
    (void)err;
    return host->register_transport(reg, &sim_transport);
}

static int cm_init(const ember_host *host, ember_registry *reg,
                   ember_error *err)
{
    (void)err;
    return host->register_clustermgr(reg, &sim_cm);
}

/* Named after the modules driver_new() loads for transport=sim and
 * clustermgr=sim, so its plugins_load() calls are no-ops. */
static const ember_plugin tp_plugin = {
    sizeof(ember_plugin), EMBER_ABI_MAJOR, EMBER_ABI_MINOR, EMBER_ABI_SIG,
    "transport_sim",      "1.0",           tp_init,         NULL};
static const ember_plugin cm_plugin = {
    sizeof(ember_plugin), EMBER_ABI_MAJOR, EMBER_ABI_MINOR, EMBER_ABI_SIG,
    "clustermgr_sim",     "1.0",           cm_init,         NULL};

/* -------------------------------------------------------------- scenario */

#define MAXEX 16
#define MAXL 128

typedef struct sexec {
    char id[32];
    char host[32];
    char endpoint[48];
    ember_tsock *s;
    int dead; /* lost: sends nothing more */
} sexec;

typedef struct launch {
    int exec;
    int answered;
    msg_launch m;
} launch;

typedef struct scen {
    conf *c;
    driver *d;
    sexec ex[MAXEX];
    int nex;
    launch l[MAXL];
    int nl;
    uint64_t kills[MAXL]; /* KILL messages: task id */
    int kill_exec[MAXL];
    int nkills;
    /* the job, run on its own thread */
    pthread_t th;
    int has_thread;
    const job_spec *spec;
    job_result res;
    ember_error err;
    int rc;
    _Atomic int finished;
} scen;

static void *job_main(void *arg)
{
    scen *sc = arg;
    sc->rc = driver_run_job(sc->d, sc->spec, &sc->res, &sc->err);
    atomic_store(&sc->finished, 1);
    return NULL;
}

static void scen_start(scen *sc, const char *master, const char *const *kv)
{
    ember_error err = {0, ""};
    memset(sc, 0, sizeof *sc);
    sc->c = conf_new();
    if (!sc->c)
        bail("conf_new");
    conf_set(sc->c, "transport", "sim", CONF_SRC_SCRIPT, NULL);
    conf_set(sc->c, "clustermgr", "sim", CONF_SRC_SCRIPT, NULL);
    conf_set(sc->c, "master", master, CONF_SRC_SCRIPT, NULL);
    /* the simulated transport has no secure sockets (authentication is
       tested with the real transports: test_transport_sec, security.t) */
    conf_set(sc->c, "authenticate", "false", CONF_SRC_SCRIPT, NULL);
    /* these tests pin Spark's slot-by-slot offers (delay scheduling,
     * placement); launching ahead is tested on its own */
    conf_set(sc->c, "scheduler.launchAhead", "0", CONF_SRC_SCRIPT, NULL);
    for (int i = 0; kv && kv[i]; i += 2)
        conf_set(sc->c, kv[i], kv[i + 1], CONF_SRC_SCRIPT, NULL);
    sc->d = driver_new(sc->c, "test_dag", &err);
    if (!sc->d)
        bail("driver_new: %s", err.msg);
    if (!the_net)
        bail("the driver did not open the sim transport");
}

static void job_submit(scen *sc, const job_spec *spec)
{
    memset(&sc->res, 0, sizeof sc->res);
    memset(&sc->err, 0, sizeof sc->err);
    sc->spec = spec;
    sc->rc = -999;
    atomic_store(&sc->finished, 0);
    if (pthread_create(&sc->th, NULL, job_main, sc) != 0)
        bail("pthread_create");
    sc->has_thread = 1;
}

/* Wait (real time) for the job to end and join its thread; 0 if it did. */
static int job_wait(scen *sc)
{
    int64_t deadline = real_ms() + WAIT_MS;
    while (!atomic_load(&sc->finished) && real_ms() < deadline) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&sc->finished))
        return -1;
    pthread_join(sc->th, NULL);
    sc->has_thread = 0;
    return 0;
}

static void launches_free(scen *sc)
{
    for (int i = 0; i < sc->nl; i++)
        msg_launch_free(&sc->l[i].m);
    sc->nl = 0;
    sc->nkills = 0;
}

static void scen_end(scen *sc)
{
    if (sc->has_thread && job_wait(sc) != 0)
        bail("a job is still running at the end of a scenario");
    job_result_free(&sc->res);
    for (int i = 0; i < sc->nex; i++)
        sim_sock_close(sc->ex[i].s);
    driver_destroy(&sc->d);
    conf_destroy(&sc->c);
    launches_free(sc);
}

/* Barrier: the driver's loop has taken three more turns since the call,
 * so all it was sent before was handled and it has scheduled since. */
static void quiesce(void)
{
    simnet *n = the_net;
    int64_t deadline = real_ms() + WAIT_MS;
    uint64_t target;
    pthread_mutex_lock(&n->mu);
    target = n->turns + 3;
    while (n->turns < target && real_ms() < deadline) {
        struct timespec ts;
        if (n->listener) {
            n->listener->woken = 1;
            pthread_cond_broadcast(&n->cv);
        }
        abs_deadline(&ts, real_ms() + 20);
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    }
    if (n->turns < target) {
        pthread_mutex_unlock(&n->mu);
        bail("the driver loop is stuck");
    }
    pthread_mutex_unlock(&n->mu);
}

static void clock_advance(int64_t ms)
{
    atomic_fetch_add(&fake_now, ms);
    quiesce();
}

static void send_buf(sexec *e, buf *b)
{
    ember_error err = {0, ""};
    const void *parts[1] = {b->data};
    size_t lens[1] = {b->len};
    if (b->oom || sim_send(e->s, NULL, parts, lens, 1, &err) != 0)
        bail("executor %s cannot send: %s", e->id, err.msg);
}

/* Handle one message addressed to executor ei; returns 1 if it was a
 * LAUNCH (recorded), 0 otherwise. */
static int take_msg(scen *sc, int ei, const ember_tmsg *msg)
{
    ember_error err = {0, ""};
    int type = msg_peek_type(msg->data, msg->len, &err);
    if (type == MSG_LAUNCH) {
        launch *l;
        if (sc->nl == MAXL)
            bail("too many launches");
        l = &sc->l[sc->nl];
        memset(l, 0, sizeof *l);
        if (msg_launch_decode(msg->data, msg->len, &l->m, &err) != 0)
            bail("bad launch: %s", err.msg);
        l->exec = ei;
        sc->nl++;
        return 1;
    }
    if (type == MSG_KILL && sc->nkills < MAXL) {
        char *id = NULL;
        uint64_t tid = 0;
        if (msg_simple_decode(msg->data, msg->len, MSG_KILL, &id, &tid, &err) ==
            0) {
            sc->kills[sc->nkills] = tid;
            sc->kill_exec[sc->nkills++] = ei;
        }
        free(id);
    }
    return 0; /* heartbeat acks, stops and others */
}

/* Read what the driver sent the executors until `want` new launches came
 * (or WAIT_MS passed); returns how many new launches were read. */
static int collect(scen *sc, int want)
{
    simnet *n = the_net;
    int64_t deadline = real_ms() + WAIT_MS;
    int got = 0;
    for (;;) {
        int any = 0;
        for (int i = 0; i < sc->nex; i++) {
            ember_tmsg msg;
            while (sim_recv(sc->ex[i].s, 0, NULL, &msg, NULL) == 0) {
                got += take_msg(sc, i, &msg);
                sim_release(&msg);
                any = 1;
            }
        }
        if (got >= want || real_ms() >= deadline)
            return got;
        if (!any) {
            struct timespec ts;
            int pending = 0;
            pthread_mutex_lock(&n->mu);
            for (int i = 0; i < sc->nex; i++)
                pending |= sc->ex[i].s->head != NULL;
            if (!pending) {
                abs_deadline(&ts, real_ms() + 50);
                pthread_cond_timedwait(&n->cv, &n->mu, &ts);
            }
            pthread_mutex_unlock(&n->mu);
        }
    }
}

/* After a barrier: read whatever is queued; returns the new launches. */
static int settle(scen *sc)
{
    quiesce();
    return collect(sc, 0);
}

/* Register a simulated executor; returns whether the driver accepted it
 * (its answer's message in why, when refused). */
static int exec_register(scen *sc, const char *host, int cores, char *why,
                         size_t whylen)
{
    ember_error err = {0, ""};
    sexec *e;
    msg_register m;
    buf b;
    ember_tmsg msg;
    int ei = sc->nex, okk = 0;
    if (ei == MAXEX)
        bail("too many executors");
    e = &sc->ex[ei];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "exec-%d", ei);
    snprintf(e->host, sizeof e->host, "%s", host);
    snprintf(e->endpoint, sizeof e->endpoint, "sim://exec-%d", ei);
    if (sim_connect(the_net, "sim://driver", &e->s, &err))
        bail("connect: %s", err.msg);
    sc->nex++;
    memset(&m, 0, sizeof m);
    m.exec_id = e->id;
    m.host = e->host;
    m.pid = 1000 + ei;
    m.cores = cores;
    m.memory_mb = 512;
    m.data_endpoint = e->endpoint;
    m.plugins = "";
    buf_init(&b);
    msg_register_encode(&b, &m);
    send_buf(e, &b);
    buf_free(&b);
    while (sim_recv(e->s, WAIT_MS, NULL, &msg, NULL) == 0) {
        msg_registered r;
        int type = msg_peek_type(msg.data, msg.len, NULL);
        if (type == MSG_REGISTERED &&
            msg_registered_decode(msg.data, msg.len, &r, &err) == 0) {
            okk = r.ok;
            if (!r.ok)
                snprintf(why, whylen, "%s", r.message ? r.message : "");
            msg_registered_free(&r);
            sim_release(&msg);
            break;
        }
        sim_release(&msg);
    }
    return okk;
}

static int exec_add(scen *sc, const char *host, int cores)
{
    char why[512] = "";
    int ei = sc->nex;
    if (!exec_register(sc, host, cores, why, sizeof why)) {
        diag("register refused: %s", why);
        bail("executor %s did not register", sc->ex[ei].id);
    }
    return ei;
}

static void heartbeat(scen *sc, int ei)
{
    msg_heartbeat hb;
    buf b;
    memset(&hb, 0, sizeof hb);
    hb.exec_id = sc->ex[ei].id;
    hb.seq = 1;
    buf_init(&b);
    msg_heartbeat_encode(&b, &hb);
    send_buf(&sc->ex[ei], &b);
    buf_free(&b);
}

/* Accumulator bytes of an attempt: "acc s<stage> p<part> a<attempt> <tag>" */
static void acc_of(const launch *l, const char *tag, char *out, size_t n)
{
    snprintf(out, n, "acc s%d p%d sa%d a%d %s", l->m.stage_id, l->m.partition,
             l->m.stage_attempt, l->m.attempt, tag);
}

static void send_status(scen *sc, launch *l, msg_status *m)
{
    buf b;
    buf_init(&b);
    m->task_id = l->m.task_id;
    if (!m->message)
        m->message = "";
    msg_status_encode(&b, m);
    send_buf(&sc->ex[l->exec], &b);
    buf_free(&b);
    l->answered = 1;
}

/* The result block of partition p: one blockcodec frame of "result p". */
static void result_block(int p, buf *out)
{
    char raw[32];
    snprintf(raw, sizeof raw, "result %d", p);
    buf_init(out);
    if (blockcodec_encode(out, raw, strlen(raw), 0) != 0)
        bail("blockcodec_encode");
}

static void finish(scen *sc, launch *l, const char *acc_tag)
{
    msg_status m;
    char acc[96];
    uint64_t sizes[8];
    buf blk;
    memset(&m, 0, sizeof m);
    m.state = TASK_FINISHED;
    acc_of(l, acc_tag ? acc_tag : "ok", acc, sizeof acc);
    m.accum = (uint8_t *)acc;
    m.accum_len = strlen(acc);
    buf_init(&blk);
    if (l->m.kind == TASK_SHUFFLE_MAP) {
        for (int i = 0; i < l->m.out_partitions && i < 8; i++)
            sizes[i] = 100;
        m.nsizes = l->m.out_partitions;
        m.sizes = sizes;
    } else {
        result_block(l->m.partition, &blk);
        m.result = blk.data;
        m.result_len = blk.len;
    }
    send_status(sc, l, &m);
    buf_free(&blk);
}

static void fail(scen *sc, launch *l, int kind, const char *why)
{
    msg_status m;
    char acc[96];
    memset(&m, 0, sizeof m);
    m.state = TASK_FAILED;
    m.fail_kind = kind;
    m.message = (char *)why;
    acc_of(l, "failed", acc, sizeof acc); /* must be ignored */
    m.accum = (uint8_t *)acc;
    m.accum_len = strlen(acc);
    send_status(sc, l, &m);
}

static void fail_fetch(scen *sc, launch *l, int shuffle, uint64_t map_tid,
                       const char *exec_id)
{
    msg_status m;
    char acc[96];
    memset(&m, 0, sizeof m);
    m.state = TASK_FAILED;
    m.fail_kind = FAIL_FETCH;
    m.message = "shuffle block missing";
    m.fetch_shuffle = shuffle;
    m.fetch_map_task = map_tid;
    m.fetch_exec = (char *)exec_id;
    acc_of(l, "failed", acc, sizeof acc);
    m.accum = (uint8_t *)acc;
    m.accum_len = strlen(acc);
    send_status(sc, l, &m);
}

/* The latest launch of (kind, partition) among launches [from, nl). */
static launch *find(scen *sc, int from, int kind, int part)
{
    launch *f = NULL;
    for (int i = from; i < sc->nl; i++)
        if (sc->l[i].m.kind == kind && sc->l[i].m.partition == part)
            f = &sc->l[i];
    return f;
}

/* Bit set of the partitions of launches [from, nl) of one kind. */
static unsigned parts_of(scen *sc, int from, int kind)
{
    unsigned set = 0;
    for (int i = from; i < sc->nl; i++)
        if (sc->l[i].m.kind == kind)
            set |= 1u << sc->l[i].m.partition;
    return set;
}

static int count_kind(scen *sc, int from, int kind)
{
    int n = 0;
    for (int i = from; i < sc->nl; i++)
        n += sc->l[i].m.kind == kind;
    return n;
}

/* Result blocks are what the tasks sent: "result p" for partition p. */
static int blocks_right(const job_result *r, int nparts)
{
    if (r->nparts != nparts || !r->blocks)
        return 0;
    for (int p = 0; p < nparts; p++) {
        buf want;
        int same;
        result_block(p, &want);
        same = r->blocks[p] && r->lens[p] == want.len &&
               memcmp(r->blocks[p], want.data, want.len) == 0;
        buf_free(&want);
        if (!same) {
            diag("result block %d differs", p);
            return 0;
        }
    }
    return 1;
}

/* How many accumulator entries name (stage, partition); and whether any
 * came from a failed attempt. */
static int acc_count(const job_result *r, int stage, int part)
{
    char pre[48];
    int n = 0;
    snprintf(pre, sizeof pre, "acc s%d p%d ", stage, part);
    for (int i = 0; i < r->naccum; i++)
        if (r->accum_lens[i] > strlen(pre) &&
            memcmp(r->accum[i], pre, strlen(pre)) == 0)
            n++;
    return n;
}

static int acc_failed(const job_result *r)
{
    for (int i = 0; i < r->naccum; i++) {
        const char *tag = " failed";
        size_t tl = strlen(tag);
        if (r->accum_lens[i] >= tl &&
            memcmp(r->accum[i] + r->accum_lens[i] - tl, tag, tl) == 0)
            return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- checks */

/* 1, 2, 5: a shuffle; a fetch failure; accumulators of re-run map tasks. */
static void test_shuffle_and_fetch_failure(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[4];
    int a, b, S, R, lost_exec, relaunched_from, attempt1_from, ok_inputs;
    uint64_t map_tid[3];
    int map_exec[3];
    unsigned lost = 0;

    diag("shuffle: map stage first, fetch failure, partial recompute");
    scen_start(&sc, "sim[2]", NULL);
    a = exec_add(&sc, "hostA", 2);
    b = exec_add(&sc, "hostB", 2);
    (void)b;
    two_stage(&spec, nodes, 3, 2);
    job_submit(&sc, &spec);

    is_int(3, collect(&sc, 3), "three tasks launched first");
    if (sc.nl != 3 || parts_of(&sc, 0, TASK_SHUFFLE_MAP) != 0x7)
        bail("the map tasks were not launched");
    S = sc.l[0].m.stage_id;
    ok(count_kind(&sc, 0, TASK_SHUFFLE_MAP) == 3 && sc.l[1].m.stage_id == S &&
           sc.l[2].m.stage_id == S,
       "they are the shuffle map tasks of one stage");
    is_int(0x7, parts_of(&sc, 0, TASK_SHUFFLE_MAP), "map partitions 0, 1, 2");
    ok(sc.l[0].m.out_partitions == 2 && sc.l[0].m.stage_attempt == 0 &&
           sc.l[0].m.attempt == 0 && sc.l[0].m.ninputs == 0,
       "map launch: 2 reduce partitions, attempt 0 of stage attempt 0");
    for (int p = 0; p < 3; p++) {
        launch *l = find(&sc, 0, TASK_SHUFFLE_MAP, p);
        map_tid[p] = l->m.task_id;
        map_exec[p] = l->exec;
    }
    finish(&sc, find(&sc, 0, TASK_SHUFFLE_MAP, 0), NULL);
    finish(&sc, find(&sc, 0, TASK_SHUFFLE_MAP, 1), NULL);
    is_int(0, settle(&sc), "no result task while a map task runs");

    finish(&sc, find(&sc, 0, TASK_SHUFFLE_MAP, 2), NULL);
    is_int(2, collect(&sc, 2), "the last map output launches the result stage");
    if (sc.nl != 5 || parts_of(&sc, 3, TASK_RESULT) != 0x3)
        bail("the result tasks were not launched");
    R = sc.l[3].m.stage_id;
    ok(count_kind(&sc, 3, TASK_RESULT) == 2 && R != S &&
           sc.l[4].m.stage_id == R && sc.l[3].m.stage_attempt == 0,
       "two result tasks of another stage, attempt 0");
    is_int(0x3, parts_of(&sc, 3, TASK_RESULT), "result partitions 0 and 1");
    ok_inputs = 1;
    for (int i = 3; i < 5; i++) {
        const msg_launch *m = &sc.l[i].m;
        if (m->ninputs != 1 || m->inputs[0].shuffle_id != 2 ||
            m->inputs[0].nmaps != 3) {
            ok_inputs = 0;
            continue;
        }
        for (int k = 0; k < 3; k++) {
            const msg_maploc *ml = &m->inputs[0].maps[k];
            if (ml->map_task_id != map_tid[k] || !ml->exec_id ||
                strcmp(ml->exec_id, sc.ex[map_exec[k]].id) != 0 ||
                !ml->endpoint ||
                strcmp(ml->endpoint, sc.ex[map_exec[k]].endpoint) != 0)
                ok_inputs = 0;
        }
    }
    ok(ok_inputs, "result tasks read shuffle 2 from the map task ids, "
                  "executors and endpoints that reported them");

    /* partition 1 completes; partition 0 cannot fetch map output 0 */
    finish(&sc, find(&sc, 3, TASK_RESULT, 1), NULL);
    lost_exec = map_exec[0];
    for (int p = 0; p < 3; p++)
        if (map_exec[p] == lost_exec)
            lost |= 1u << p;
    relaunched_from = sc.nl;
    fail_fetch(&sc, find(&sc, 3, TASK_RESULT, 0), 2, map_tid[0],
               sc.ex[lost_exec].id);
    collect(&sc, __builtin_popcount(lost));
    settle(&sc);
    is_int(lost, parts_of(&sc, relaunched_from, TASK_SHUFFLE_MAP),
           "fetch failure: every map output of %s is recomputed (0x%x)",
           sc.ex[lost_exec].id, lost);
    is_int(__builtin_popcount(lost),
           count_kind(&sc, relaunched_from, TASK_SHUFFLE_MAP),
           "... and only those, once each");
    is_int(0, count_kind(&sc, relaunched_from, TASK_RESULT),
           "no result task before the lost outputs exist again");
    {
        launch *l =
            find(&sc, relaunched_from, TASK_SHUFFLE_MAP, __builtin_ctz(lost));
        if (l)
            ok(l->m.stage_attempt == 1,
               "the map stage's resubmission is stage attempt 1 (seen %d)",
               l->m.stage_attempt);
        else
            ok(0, "the map stage's resubmission is stage attempt 1");
    }
    /* the re-run map tasks finish (with accumulator updates again) */
    for (int p = 0; p < 3; p++) {
        launch *l = find(&sc, relaunched_from, TASK_SHUFFLE_MAP, p);
        if (l) {
            map_tid[p] = l->m.task_id;
            map_exec[p] = l->exec;
            finish(&sc, l, "rerun");
        }
    }
    attempt1_from = sc.nl;
    collect(&sc, 1);
    settle(&sc);
    is_int(1, count_kind(&sc, attempt1_from, TASK_RESULT),
           "the result stage is resubmitted with its one missing partition");
    {
        launch *l = find(&sc, attempt1_from, TASK_RESULT, 0);
        ok(l && l->m.stage_id == R && l->m.stage_attempt == 1,
           "... partition 0, as stage attempt 1");
        ok(l && l->m.ninputs == 1 && l->m.inputs[0].nmaps == 3 &&
               l->m.inputs[0].maps[__builtin_ctz(lost)].map_task_id ==
                   map_tid[__builtin_ctz(lost)] &&
               strcmp(l->m.inputs[0].maps[__builtin_ctz(lost)].exec_id,
                      sc.ex[map_exec[__builtin_ctz(lost)]].id) == 0,
           "... reading the recomputed map outputs");
        if (l)
            finish(&sc, l, NULL);
    }
    if (job_wait(&sc))
        bail("the shuffle job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    ok(blocks_right(&sc.res, 2), "result blocks are the tasks' frames");
    {
        int once = 1;
        for (int p = 0; p < 3; p++)
            once &= acc_count(&sc.res, S, p) == 1;
        ok(once, "one accumulator update per map partition, re-runs "
                 "not counted twice");
        ok(acc_count(&sc.res, R, 0) == 1 && acc_count(&sc.res, R, 1) == 1,
           "one accumulator update per result partition");
        ok(!acc_failed(&sc.res) && sc.res.naccum == 5,
           "failed attempts' accumulators are ignored (%d entries)",
           sc.res.naccum);
    }
    (void)a;
    scen_end(&sc);
}

/* Tasks of the failed stage attempt still running when the fetch failure
 * came: a success counts (Spark's job.finished), a failure is ignored. */
static void test_stale_attempt(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[4];
    int from, att1;
    launch *old1, *old2;
    unsigned launched;

    diag("tasks of an older stage attempt");
    scen_start(&sc, "sim[2]", NULL);
    exec_add(&sc, "hostA", 4);
    exec_add(&sc, "hostB", 4);
    two_stage(&spec, nodes, 2, 3);
    job_submit(&sc, &spec);
    if (collect(&sc, 2) != 2)
        bail("map tasks not launched");
    for (int p = 0; p < 2; p++)
        finish(&sc, find(&sc, 0, TASK_SHUFFLE_MAP, p), NULL);
    if (collect(&sc, 3) != 3)
        bail("result tasks not launched");
    old1 = find(&sc, 2, TASK_RESULT, 1);
    old2 = find(&sc, 2, TASK_RESULT, 2);
    from = sc.nl;
    {
        launch *m0 = find(&sc, 0, TASK_SHUFFLE_MAP, 0);
        fail_fetch(&sc, find(&sc, 2, TASK_RESULT, 0), 2, m0->m.task_id,
                   sc.ex[m0->exec].id);
    }
    /* old partition 1 succeeds while the stage waits for its parent */
    settle(&sc);
    finish(&sc, old1, NULL);
    settle(&sc);
    for (int i = from; i < sc.nl; i++)
        if (sc.l[i].m.kind == TASK_SHUFFLE_MAP && !sc.l[i].answered)
            finish(&sc, &sc.l[i], NULL);
    att1 = sc.nl;
    collect(&sc, 2);
    settle(&sc);
    launched = parts_of(&sc, att1, TASK_RESULT);
    ok(launched & 0x1, "attempt 1 runs the fetch-failed partition 0");
    ok(launched == 0x5,
       "attempt 1 runs only the unfinished partitions 0 and 2 "
       "(seen 0x%x)",
       launched);
    /* old partition 2 fails after attempt 1 started: ignored in Spark */
    from = sc.nl;
    fail(&sc, old2, FAIL_USER, "boom in an old attempt");
    settle(&sc);
    ok(sc.nl == from,
       "a failure in an older stage attempt launches nothing "
       "(seen %d launches)",
       sc.nl - from);
    /* finish everything still running */
    for (int round = 0; round < 4 && !atomic_load(&sc.finished); round++) {
        for (int i = att1; i < sc.nl; i++)
            if (!sc.l[i].answered && sc.l[i].m.kind == TASK_RESULT)
                finish(&sc, &sc.l[i], NULL);
        settle(&sc);
    }
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    ok(blocks_right(&sc.res, 3), "with every partition's block");
    scen_end(&sc);
}

/* 3: stage.maxConsecutiveAttempts. */
static void test_fetch_failure_abort(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[4];
    uint64_t tid0 = 0;
    int exec0 = 0, attempts_ok = 1, R = -1;

    diag("abort after 4 consecutive fetch failures");
    scen_start(&sc, "sim[2]", NULL);
    exec_add(&sc, "hostA", 2);
    exec_add(&sc, "hostB", 2);
    two_stage(&spec, nodes, 2, 2);
    job_submit(&sc, &spec);
    for (int round = 0; round < 4; round++) {
        int from = sc.nl;
        launch *r0;
        /* map tasks (all at first, then the lost ones) */
        collect(&sc, round == 0 ? 2 : 1);
        settle(&sc);
        for (int i = from; i < sc.nl; i++)
            if (sc.l[i].m.kind == TASK_SHUFFLE_MAP) {
                if (sc.l[i].m.partition == 0) {
                    tid0 = sc.l[i].m.task_id;
                    exec0 = sc.l[i].exec;
                }
                finish(&sc, &sc.l[i], NULL);
            }
        from = sc.nl;
        collect(&sc, round == 0 ? 2 : 1);
        settle(&sc);
        r0 = find(&sc, from, TASK_RESULT, 0);
        if (!r0)
            bail("round %d: no result task for partition 0", round);
        if (R < 0)
            R = r0->m.stage_id;
        attempts_ok &= r0->m.stage_attempt == round && r0->m.stage_id == R;
        if (round == 0)
            finish(&sc, find(&sc, from, TASK_RESULT, 1), NULL);
        if (round == 3)
            ok(!atomic_load(&sc.finished),
               "still running after 3 fetch failures");
        fail_fetch(&sc, r0, 2, tid0, sc.ex[exec0].id);
    }
    ok(attempts_ok, "the result stage ran as attempts 0, 1, 2, 3");
    if (job_wait(&sc))
        bail("the job was not aborted");
    is_int(EMBER_ETASK, sc.rc,
           "the 4th consecutive fetch failure fails the "
           "job");
    like(sc.err.msg, "failed the maximum allowable number of times: 4",
         "with Spark's message");
    is_int(0, settle(&sc), "and nothing more is launched");
    scen_end(&sc);
}

/* 4: task.maxFailures; executor loss is not the task's fault. */
static void test_retries(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    int attempts_ok = 1;
    launch *l = NULL;

    diag("task retries");
    scen_start(&sc, "sim[1]", NULL);
    exec_add(&sc, "hostA", 1);
    one_stage(&spec, nodes, 1, NULL);

    job_submit(&sc, &spec);
    for (int k = 0; k < 4; k++) {
        int from = sc.nl;
        if (collect(&sc, 1) != 1)
            bail("attempt %d not launched", k);
        l = &sc.l[from];
        attempts_ok &= l->m.attempt == k && l->m.partition == 0;
        if (k < 3)
            fail(&sc, l, FAIL_USER, "user error");
    }
    ok(attempts_ok, "a failing task is relaunched as attempts 1, 2, 3");
    finish(&sc, l, NULL);
    if (job_wait(&sc))
        bail("job 1 did not finish");
    is_int(0, sc.rc, "3 failures then a success: the job succeeds (%s)",
           sc.err.msg);
    ok(blocks_right(&sc.res, 1), "with the 4th attempt's result");
    ok(sc.res.naccum == 1 && !acc_failed(&sc.res),
       "only the successful attempt's accumulators count (%d)", sc.res.naccum);
    job_result_free(&sc.res);
    launches_free(&sc);

    job_submit(&sc, &spec);
    attempts_ok = 1;
    for (int k = 0; k < 4; k++) {
        int from = sc.nl;
        if (collect(&sc, 1) != 1)
            bail("attempt %d not launched", k);
        attempts_ok &= sc.l[from].m.attempt == k;
        fail(&sc, &sc.l[from], FAIL_USER, "always fails");
    }
    ok(attempts_ok, "attempts 0..3 of an always-failing task");
    if (job_wait(&sc))
        bail("job 2 did not end");
    is_int(EMBER_ETASK, sc.rc, "4 failures fail the job");
    like(sc.err.msg, "failed 4 times", "with Spark's message");
    is_int(0, settle(&sc), "no 5th attempt");
    scen_end(&sc);
}

static void test_lost_executors(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *kv[] = {"network.timeout", "120s", NULL};
    int cur, attempts_ok = 1, where_ok = 1;
    launch *l;

    diag("lost executors do not count as task failures");
    scen_start(&sc, "sim[1]", kv);
    cur = exec_add(&sc, "host0", 1);
    one_stage(&spec, nodes, 1, NULL);
    job_submit(&sc, &spec);
    if (collect(&sc, 1) != 1)
        bail("no launch");
    l = &sc.l[0];
    for (int k = 0; k < 4; k++) {
        char host[16];
        int next, from;
        snprintf(host, sizeof host, "host%d", k + 1);
        next = exec_add(&sc, host, 1); /* the replacement */
        from = sc.nl;
        sc.ex[cur].dead = 1;
        if (k % 2 == 0) {
            /* the cluster manager saw the process exit */
            pthread_mutex_lock(&cmsim.mu);
            snprintf(cmsim.dead[cmsim.ndead++], 32, "%s", sc.ex[cur].id);
            pthread_mutex_unlock(&cmsim.mu);
            clock_advance(100); /* the loop polls every 100 ms */
        } else {
            /* silent for longer than network.timeout; the others beat */
            for (int step = 0; step < 3; step++) {
                for (int i = 0; i < sc.nex; i++)
                    if (!sc.ex[i].dead)
                        heartbeat(&sc, i);
                quiesce();
                clock_advance(50000);
            }
        }
        collect(&sc, 1);
        settle(&sc);
        if (sc.nl != from + 1)
            bail("loss %d: %d launches instead of 1", k + 1, sc.nl - from);
        l = &sc.l[from];
        attempts_ok &= l->m.attempt == k + 1;
        where_ok &= l->exec == next;
        cur = next;
    }
    ok(where_ok, "each time the task is relaunched on the live executor");
    ok(attempts_ok, "as attempts 1, 2, 3, 4");
    ok(!atomic_load(&sc.finished), "4 executor losses do not fail the job");
    finish(&sc, l, NULL);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds after 4 executor losses (%s)",
           sc.err.msg);
    pthread_mutex_lock(&cmsim.mu);
    is_int(4, cmsim.requested, "a replacement was requested for each loss");
    pthread_mutex_unlock(&cmsim.mu);
    scen_end(&sc);
}

/* Four 1-core executors on four hosts, a job of three tasks, all
 * launched: the stage speculation tests start from. */
static void three_tasks_four_slots(scen *sc, const char *const *kv,
                                   job_spec *spec, plan_node *nodes)
{
    scen_start(sc, "sim[4]", kv);
    for (int i = 0; i < 4; i++) {
        char host[16];
        snprintf(host, sizeof host, "host%d", i);
        exec_add(sc, host, 1);
    }
    one_stage(spec, nodes, 3, NULL);
    job_submit(sc, spec);
    if (collect(sc, 3) != 3)
        bail("tasks not launched");
}

/* 5: a speculative copy and the original both finish. */
static void test_speculation_accum(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *kv[] = {"speculation", "true", "speculation.quantile", "0.3",
                        NULL};
    launch *o1, *o2, *c1 = NULL, *c2 = NULL;
    int from, R, killed = 0;

    diag("accumulators exactly once with speculative copies");
    three_tasks_four_slots(&sc, kv, &spec, nodes);
    R = sc.l[0].m.stage_id;
    o1 = find(&sc, 0, TASK_RESULT, 1);
    o2 = find(&sc, 0, TASK_RESULT, 2);
    finish(&sc, find(&sc, 0, TASK_RESULT, 0), NULL);
    is_int(0, settle(&sc), "no copy before the stragglers are slow");
    from = sc.nl;
    clock_advance(500); /* > max(3 x median 0 ms, minTaskRuntime 100 ms) */
    collect(&sc, 2);
    settle(&sc);
    for (int i = from; i < sc.nl; i++) {
        if (sc.l[i].m.partition == 1)
            c1 = &sc.l[i];
        if (sc.l[i].m.partition == 2)
            c2 = &sc.l[i];
    }
    ok(c1 && c2 && sc.nl == from + 2 && c1->m.attempt == 1 &&
           c1->exec != o1->exec && c2->exec != o2->exec,
       "the two stragglers get a copy each, attempt 1, on other executors");
    if (!c1 || !c2)
        bail("no speculative copies");
    finish(&sc, c1, "copy");
    settle(&sc);
    for (int i = 0; i < sc.nkills; i++)
        killed |= sc.kills[i] == o1->m.task_id && sc.kill_exec[i] == o1->exec;
    ok(killed, "the first success kills the other copy");
    finish(&sc, o1, "orig"); /* it finished before the kill arrived */
    settle(&sc);
    ok(!atomic_load(&sc.finished), "the job still runs");
    finish(&sc, o2, NULL);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    ok(blocks_right(&sc.res, 3), "result blocks of the winners");
    ok(acc_count(&sc.res, R, 0) == 1 && acc_count(&sc.res, R, 1) == 1 &&
           acc_count(&sc.res, R, 2) == 1 && sc.res.naccum == 3,
       "one accumulator update per partition though partition 1 finished "
       "twice (%d entries)",
       sc.res.naccum);
    scen_end(&sc);
}

/* 6: locality.wait through the driver. */
static void test_delay_scheduling(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *prefs[] = {"hostL", "hostL"};
    const char *kv[] = {"locality.wait", "3s", NULL};
    int L, N, from;
    launch *l0;

    diag("delay scheduling");
    scen_start(&sc, "sim[2]", kv);
    L = exec_add(&sc, "hostL", 1);
    N = exec_add(&sc, "hostN", 1);
    one_stage(&spec, nodes, 2, prefs);
    job_submit(&sc, &spec);
    is_int(1, collect(&sc, 1), "one task launches at once");
    l0 = &sc.l[0];
    ok(l0->exec == L, "on the executor of its preferred host");
    from = sc.nl;
    is_int(0, settle(&sc),
           "the other waits while only a non-local slot is "
           "free");
    clock_advance(1500);
    is_int(0, collect(&sc, 0), "still waiting after 1500 ms");
    clock_advance(1499);
    is_int(0, collect(&sc, 0), "still waiting after 2999 ms");
    clock_advance(1);
    collect(&sc, 1);
    ok(sc.nl == from + 1 && sc.l[from].exec == N && sc.l[from].m.partition == 1,
       "after locality.wait (3000 ms) it runs on the non-local executor");
    finish(&sc, l0, NULL);
    if (sc.nl > from)
        finish(&sc, &sc.l[from], NULL);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    scen_end(&sc);
}

/* Finish every launch from index `from` on, and whatever those let the
 * driver launch next (copies of taken-back tasks included), until it
 * launches nothing more. */
static void drain(scen *sc, int from)
{
    for (int round = 0; round < 100; round++) {
        for (int i = from; i < sc->nl; i++)
            finish(sc, &sc->l[i], NULL);
        from = sc->nl;
        settle(sc);
        if (sc->nl == from)
            return;
    }
}

/* scheduler.launchAhead: short tasks queue on busy executors, long ones
 * do not. */
static void test_launch_ahead(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *prefs[] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const char *kv[] = {"scheduler.launchAhead", "1", NULL};
    int A, B, n;

    diag("launch ahead");
    scen_start(&sc, "sim[2]", kv);
    A = exec_add(&sc, "hostA", 1);
    B = exec_add(&sc, "hostB", 1);
    one_stage(&spec, nodes, 8, prefs);
    job_submit(&sc, &spec);
    n = collect(&sc, 4);
    is_int(4, n, "two executors of one core take two tasks each at once");
    {
        int on_a = 0;
        for (int i = 0; i < sc.nl; i++)
            on_a += sc.l[i].exec == A;
        is_int(2, on_a, "... one running and one queued on each (A)");
        (void)B;
    }
    is_int(0, settle(&sc), "no more than one queued per core");
    /* the running tasks become long: nothing more is queued behind them */
    clock_advance(30);
    finish(&sc, &sc.l[0], NULL);
    n = settle(&sc);
    is_int(0, n,
           "a slot freed while the executor's other task is long (30 ms): "
           "its queued task takes it, nothing new is queued");
    drain(&sc, 1);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    scen_end(&sc);
}

/* A task queued behind one that turns long is taken back and run on an
 * executor with a free core. */
static void test_recall_queued(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *prefs[] = {NULL, NULL, NULL, NULL};
    const char *kv[] = {"scheduler.launchAhead", "1", NULL};
    int A, qa, rb, from;

    diag("recalling a queued task");
    scen_start(&sc, "sim[2]", kv);
    A = exec_add(&sc, "hostA", 1);
    exec_add(&sc, "hostB", 1);
    one_stage(&spec, nodes, 3, prefs);
    job_submit(&sc, &spec);
    is_int(3, collect(&sc, 3), "three tasks launch: one queued ahead");
    /* which executor holds two? the second of its tasks is the queued one */
    {
        int na = 0, nb = 0, last_a = -1, last_b = -1;
        for (int i = 0; i < sc.nl; i++) {
            if (sc.l[i].exec == A) {
                na++;
                last_a = i;
            } else {
                nb++;
                last_b = i;
            }
        }
        qa = na == 2 ? last_a : last_b;
        rb = na == 2 ? last_b : last_a;
        ok((na == 2 && nb == 1) || (na == 1 && nb == 2),
           "one executor holds two tasks");
    }
    /* the single task on the other executor finishes: a core is free; the
     * busy executor's first task runs on and becomes long */
    finish(&sc, &sc.l[rb], NULL);
    from = sc.nl;
    clock_advance(30);
    collect(&sc, 1);
    ok(sc.nkills >= 1 && sc.kills[0] == sc.l[qa].m.task_id,
       "the queued task is taken back (a kill to its executor)");
    ok(sc.nl == from + 1 && sc.l[from].exec == sc.l[rb].exec &&
           sc.l[from].m.partition == sc.l[qa].m.partition,
       "and runs on the free executor");
    for (int i = 0; i < sc.nl; i++)
        if (i != qa && i != rb)
            finish(&sc, &sc.l[i], NULL);
    drain(&sc, sc.nl);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    scen_end(&sc);
}

/* Finish every launch not answered yet, and what those let the driver
 * launch, until the job ends. */
static void finish_all(scen *sc)
{
    for (int round = 0; round < 100 && !atomic_load(&sc->finished); round++) {
        for (int i = 0; i < sc->nl; i++)
            if (!sc->l[i].answered)
                finish(sc, &sc->l[i], NULL);
        settle(sc);
    }
}

/* task.cpus: a task occupies that many cores; an executor with fewer can
 * run nothing, and says so. */
static void test_task_cpus(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *kv[] = {"task.cpus", "2", NULL};
    char why[512] = "";
    int from;

    diag("task.cpus");
    scen_start(&sc, "sim[1]", kv);
    exec_add(&sc, "hostA", 4);
    one_stage(&spec, nodes, 4, NULL);
    job_submit(&sc, &spec);
    is_int(2, collect(&sc, 2), "a 4-core executor runs two 2-core tasks");
    is_int(0, settle(&sc), "and no third while they run");
    from = sc.nl;
    finish(&sc, &sc.l[0], NULL);
    is_int(1, collect(&sc, 1), "a task that ends frees a slot for one more");
    is_int(0, settle(&sc), "... and only one");
    ok(sc.nl == from + 1 && sc.l[from].exec == 0, "on the same executor");
    finish_all(&sc);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    ok(blocks_right(&sc.res, 4), "with every partition's block");
    scen_end(&sc);

    scen_start(&sc, "sim[1]", kv);
    ok(!exec_register(&sc, "hostA", 1, why, sizeof why),
       "an executor with 1 core is refused when task.cpus is 2");
    like(why, "fewer than task.cpus (2)", "saying why");
    one_stage(&spec, nodes, 2, NULL);
    job_submit(&sc, &spec);
    if (job_wait(&sc))
        bail("the job did not end");
    is_int(EMBER_ETASK, sc.rc, "a job with no executor that can run it fails");
    like(sc.err.msg, "no executor can run a task: executor exec-0 has 1 cores",
         "naming the executor");
    like(sc.err.msg, "task.cpus", "and the setting");
    is_int(0, sc.nl, "nothing was launched");
    scen_end(&sc);
}

/* speculation.interval: stragglers are looked for that often. */
static void test_speculation_interval(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *kv[] = {"speculation",
                        "true",
                        "speculation.quantile",
                        "0.3",
                        "speculation.interval",
                        "1s",
                        NULL};

    diag("speculation.interval");
    three_tasks_four_slots(&sc, kv, &spec, nodes);
    finish(&sc, find(&sc, 0, TASK_RESULT, 0), NULL);
    settle(&sc);
    clock_advance(500); /* stragglers by then (threshold 100 ms) */
    is_int(0, collect(&sc, 0),
           "no copy 500 ms after the last check (speculation.interval 1s)");
    clock_advance(499);
    is_int(0, collect(&sc, 0), "nor after 999 ms");
    clock_advance(1);
    collect(&sc, 2);
    settle(&sc);
    is_int(5, sc.nl, "the check at 1000 ms gives both stragglers a copy");
    finish_all(&sc);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    scen_end(&sc);
}

/* scheduler.revive.interval: with nothing happening, slots are offered
 * again only that often, so delay scheduling relaxes at an offer. */
static void test_revive_interval(void)
{
    scen sc;
    job_spec spec;
    plan_node nodes[2];
    const char *prefs[] = {"hostL", "hostL"};
    const char *kv[] = {"locality.wait", "3s", "scheduler.revive.interval",
                        "5s", NULL};
    int L, N, from;

    diag("scheduler.revive.interval");
    scen_start(&sc, "sim[2]", kv);
    L = exec_add(&sc, "hostL", 1);
    N = exec_add(&sc, "hostN", 1);
    one_stage(&spec, nodes, 2, prefs);
    job_submit(&sc, &spec);
    is_int(1, collect(&sc, 1), "one task launches at once (stage submitted)");
    ok(sc.l[0].exec == L, "on its preferred host");
    from = sc.nl;
    clock_advance(3000);
    is_int(0, collect(&sc, 0),
           "locality.wait is over at 3000 ms, but no offer came since");
    clock_advance(1999);
    is_int(0, collect(&sc, 0), "nor at 4999 ms");
    clock_advance(1);
    collect(&sc, 1);
    ok(sc.nl == from + 1 && sc.l[from].exec == N && sc.l[from].m.partition == 1,
       "the periodic revive at 5000 ms offers the non-local slot");
    finish_all(&sc);
    if (job_wait(&sc))
        bail("the job did not finish");
    is_int(0, sc.rc, "the job succeeds (%s)", sc.err.msg);
    scen_end(&sc);
}

static void test_register_static(void)
{
    ember_error err = {0, ""};
    ember_plugin bad = tp_plugin;
    int n;
    is_int(0, plugins_register_static(&tp_plugin, "test_dag.c", &err),
           "plugins_register_static: the sim transport (%s)", err.msg);
    is_int(0, plugins_register_static(&cm_plugin, NULL, &err),
           "plugins_register_static: the sim cluster manager (%s)", err.msg);
    n = plugins_count();
    is_int(0, plugins_register_static(&tp_plugin, NULL, &err),
           "registering again is a no-op");
    is_int(n, plugins_count(), "... that adds nothing");
    bad.name = "transport_bad";
    bad.abi_major = EMBER_ABI_MAJOR + 1;
    is_int(EMBER_EABI, plugins_register_static(&bad, NULL, &err),
           "another ABI major is refused");
    is_int(n, plugins_count(), "... and not registered");
    ok(plugins_find_transport("sim") == &sim_transport &&
           plugins_find_cm("sim[3]", NULL) == &sim_cm,
       "the registry finds both");
}

int main(void)
{
    const char *v = getenv("TEST_DAG_VERBOSE");
    log_set_level(v && *v ? EMBER_LOG_DEBUG : EMBER_LOG_ERROR);
    clock_override(fake_clock);
    test_register_static();
    test_shuffle_and_fetch_failure();
    test_stale_attempt();
    test_fetch_failure_abort();
    test_retries();
    test_lost_executors();
    test_speculation_accum();
    test_delay_scheduling();
    test_launch_ahead();
    test_recall_queued();
    test_task_cpus();
    test_speculation_interval();
    test_revive_interval();
    clock_override(NULL);
    plugins_shutdown();
    return done_testing();
}
