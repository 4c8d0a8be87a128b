/*
 * executor.c -- the executor process: `ember executor --driver EP ...`.
 *
 * Threads:
 *   control thread (main): registers with the driver, receives LAUNCH and
 *     STOP, sends status updates queued by task threads (the outbox) and
 *     heartbeats.  It owns the driver socket.
 *   task threads (one per core): take tasks from the queue and run each
 *     through the task runner given to executor_main() (task_runner.h; the
 *     `ember` command passes the Lua runtime, one lua_State per thread),
 *     with the thread's own block client (blockfetch.c).
 *   block server: serves shuffle blocks of this executor's local directory
 *     to reducers on a socket of its own, so bulk transfer never delays the
 *     control messages.
 *
 * Lifetime: the executor exits, removing its local directory, when the
 * driver says STOP, when the driver stops answering heartbeats for
 * network.timeout, or on SIGTERM/SIGINT (the local cluster manager arranges
 * SIGTERM when the driver process dies).
 */
#include "executor.h"

#include "blockfetch.h"
#include "codec/blockcodec.h"
#include "config.h"
#include "plugin/plugins.h"
#include "rpc/msg.h"
#include "sec/sec.h"
#include "shuffle/shuffle_file.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct qtask {
    msg_launch m;
    struct qtask *next;
} qtask;

typedef struct outmsg {
    buf b;
    struct outmsg *next;
} outmsg;

typedef struct stage_bin {
    int stage_id;
    uint8_t *bin;
    size_t len;
} stage_bin;

static struct {
    exec_ctx ctx;
    conf *conf;
    ember_tsock *drv; /* control thread only */
    ember_tsock *bsrv;
    ember_tsock *data_srv; /* block server on transport.data, or NULL */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qtask *qhead, *qtail;
    outmsg *ohead, *otail;
    stage_bin *bins;
    int nbins;
    int stop;
    int running_tasks;
    int ncores;
    char local_dir[4096];
    char block_ep[256];
    char exec_id[64];
    char app_id[128];
    char driver_block_ep[256];
    const task_runner *runner;
    task_env **envs; /* one per task thread, for kills */
    sec_creds creds; /* with authentication (X.ctx.creds points here) */
} X;

static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t wake_ok; /* X.drv may be woken */

/* Runs on the control thread only: the other threads block these signals. */
static void on_signal(int sig)
{
    got_signal = sig;
    if (wake_ok)
        X.ctx.tp->wake(X.drv);
}

/* Block or unblock SIGTERM/SIGINT in the calling thread (threads created
 * while blocked inherit the mask). */
static void mask_signals(int block)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* ------------------------------------------------------------ the outbox */

static void outbox_push(buf *b)
{
    outmsg *o = malloc(sizeof *o);
    if (!o) {
        buf_free(b);
        return;
    }
    o->b = *b;
    buf_init(b);
    o->next = NULL;
    pthread_mutex_lock(&X.mu);
    if (X.otail)
        X.otail->next = o;
    else
        X.ohead = o;
    X.otail = o;
    pthread_mutex_unlock(&X.mu);
    X.ctx.tp->wake(X.drv);
}

static void send_buf(buf *b)
{
    ember_error err = {0, ""};
    const void *parts[1] = {b->data};
    size_t lens[1] = {b->len};
    if (X.ctx.tp->send(X.drv, NULL, parts, lens, 1, &err))
        LOG_WARN("send to driver failed: %s", err.msg);
}

static void outbox_flush(void)
{
    outmsg *o;
    pthread_mutex_lock(&X.mu);
    o = X.ohead;
    X.ohead = X.otail = NULL;
    pthread_mutex_unlock(&X.mu);
    while (o) {
        outmsg *next = o->next;
        send_buf(&o->b);
        buf_free(&o->b);
        free(o);
        o = next;
    }
}

/* ---------------------------------------------------------- task threads */

void task_result_path(char *out, size_t n, const char *local_dir, uint64_t tid)
{
    snprintf(out, n, "%s/taskresult_%llu", local_dir, (unsigned long long)tid);
}

static int stage_lookup(int id, uint8_t **bin, size_t *len)
{
    for (int i = 0; i < X.nbins; i++)
        if (X.bins[i].stage_id == id) {
            *bin = X.bins[i].bin;
            *len = X.bins[i].len;
            return 0;
        }
    return EMBER_ENOTFOUND;
}

/* A large stage binary travels as a broadcast: fetch it once, keep it
 * with the others. */
static int fetch_stage(blockfetch *bf, const msg_launch *m, uint8_t **bin,
                       size_t *len, ember_error *err)
{
    buf raw;
    int rc;
    buf_init(&raw);
    rc = blockfetch_broadcast(bf, (int64_t)m->stage_bcast, &raw, err);
    pthread_mutex_lock(&X.mu);
    if (rc == 0 && stage_lookup(m->stage_id, bin, len) != 0) {
        stage_bin *nb = realloc(X.bins, (size_t)(X.nbins + 1) * sizeof *nb);
        if (!nb) {
            rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
        } else {
            X.bins = nb;
            nb[X.nbins].stage_id = m->stage_id;
            nb[X.nbins].bin = buf_steal(&raw, &nb[X.nbins].len);
            *bin = nb[X.nbins].bin;
            *len = nb[X.nbins].len;
            X.nbins++;
        }
    }
    pthread_mutex_unlock(&X.mu);
    buf_free(&raw);
    return rc;
}

static void *task_thread(void *arg)
{
    task_env *te = NULL;
    blockfetch *bf;
    ember_error err = {0, ""};
    (void)arg;
    bf = blockfetch_new(&X.ctx, &err);
    if (bf)
        te = X.runner->env_new(&X.ctx, bf, &err);
    if (!te)
        LOG_ERROR("cannot create a task environment: %s", err.msg);
    pthread_mutex_lock(&X.mu);
    for (int i = 0; i < X.ncores; i++)
        if (!X.envs[i]) {
            X.envs[i] = te;
            break;
        }
    pthread_mutex_unlock(&X.mu);
    for (;;) {
        qtask *q;
        msg_status st;
        uint8_t *bin = NULL;
        size_t len = 0;
        buf b;
        pthread_mutex_lock(&X.mu);
        while (!X.stop && !X.qhead)
            pthread_cond_wait(&X.cv, &X.mu);
        if (X.stop) {
            pthread_mutex_unlock(&X.mu);
            break;
        }
        q = X.qhead;
        X.qhead = q->next;
        if (!X.qhead)
            X.qtail = NULL;
        X.running_tasks++;
        stage_lookup(q->m.stage_id, &bin, &len);
        pthread_mutex_unlock(&X.mu);

        memset(&st, 0, sizeof st);
        st.task_id = q->m.task_id;
        if (!te) {
            st.state = TASK_FAILED;
            st.fail_kind = FAIL_INTERNAL;
            st.message = strdup(err.msg);
        } else if (!bin && q->m.stage_bcast &&
                   fetch_stage(bf, &q->m, &bin, &len, &err) != 0) {
            st.state = TASK_FAILED;
            st.fail_kind = FAIL_INTERNAL;
            st.message = strdup(err.msg);
        } else if (!bin) {
            st.state = TASK_FAILED;
            st.fail_kind = FAIL_INTERNAL;
            st.message = strdup("executor has no binary for this stage");
        } else {
            X.runner->run(te, &q->m, bin, len, &st);
        }
        buf_init(&b);
        msg_status_encode(&b, &st);
        if (b.len > msg_control_max(X.ctx.max_direct_result)) {
            /* the driver would drop a message this big: fail the task
               instead, saying why */
            size_t big = b.len;
            uint64_t tid = st.task_id;
            msg_status_free(&st);
            memset(&st, 0, sizeof st);
            st.task_id = tid;
            st.state = TASK_FAILED;
            st.fail_kind = FAIL_USER;
            if (asprintf(&st.message,
                         "the task's status update is %zu bytes, over the "
                         "%llu the driver accepts (task.maxDirectResultSize "
                         "plus %u MiB for accumulators and errors): return "
                         "less through accumulators",
                         big,
                         (unsigned long long)msg_control_max(
                             X.ctx.max_direct_result),
                         MSG_CONTROL_SLACK >> 20) < 0)
                st.message = NULL;
            buf_free(&b);
            buf_init(&b);
            msg_status_encode(&b, &st);
        }
        msg_status_free(&st);
        msg_launch_free(&q->m);
        free(q);
        outbox_push(&b);
        pthread_mutex_lock(&X.mu);
        X.running_tasks--;
        pthread_mutex_unlock(&X.mu);
    }
    pthread_mutex_lock(&X.mu);
    for (int i = 0; i < X.ncores; i++)
        if (X.envs[i] == te)
            X.envs[i] = NULL;
    pthread_mutex_unlock(&X.mu);
    X.runner->env_destroy(&te);
    blockfetch_destroy(&bf);
    return NULL;
}

/* The driver asks to kill a task (a speculation loser): queued copies are
 * dropped, a running one stops at its next instruction check. */
static void on_kill(const void *data, size_t len)
{
    char *id = NULL;
    uint64_t tid = 0;
    ember_error err = {0, ""};
    if (msg_simple_decode(data, len, MSG_KILL, &id, &tid, &err)) {
        LOG_WARN("bad kill message: %s", err.msg);
        return;
    }
    free(id);
    pthread_mutex_lock(&X.mu);
    for (int i = 0; i < X.ncores; i++)
        if (X.envs[i])
            X.runner->kill(X.envs[i], tid);
    for (qtask **pp = &X.qhead, *prev = NULL; *pp;
         prev = *pp, pp = &(*pp)->next) {
        qtask *q = *pp;
        if (q->m.task_id != tid)
            continue;
        *pp = q->next;
        if (X.qtail == q)
            X.qtail = prev;
        pthread_mutex_unlock(&X.mu);
        {
            msg_status st;
            buf b;
            memset(&st, 0, sizeof st);
            st.task_id = tid;
            st.state = TASK_KILLED;
            buf_init(&b);
            msg_status_encode(&b, &st);
            outbox_push(&b);
        }
        msg_launch_free(&q->m);
        free(q);
        return;
    }
    pthread_mutex_unlock(&X.mu);
}

static void on_launch(const void *data, size_t len)
{
    qtask *q = calloc(1, sizeof *q);
    ember_error err = {0, ""};
    if (!q)
        return;
    if (msg_launch_decode(data, len, &q->m, &err) != 0) {
        LOG_WARN("bad launch message: %s", err.msg);
        free(q);
        return;
    }
    pthread_mutex_lock(&X.mu);
    if (q->m.stage_bin) {
        uint8_t *old;
        size_t ol;
        if (stage_lookup(q->m.stage_id, &old, &ol) != 0) {
            stage_bin *nb = realloc(X.bins, (size_t)(X.nbins + 1) * sizeof *nb);
            if (nb) {
                X.bins = nb;
                nb[X.nbins].stage_id = q->m.stage_id;
                nb[X.nbins].bin = q->m.stage_bin;
                nb[X.nbins].len = q->m.stage_len;
                X.nbins++;
                q->m.stage_bin = NULL;
            }
        }
    }
    if (X.qtail)
        X.qtail->next = q;
    else
        X.qhead = q;
    X.qtail = q;
    pthread_cond_signal(&X.cv);
    pthread_mutex_unlock(&X.mu);
}

/* ---------------------------------------------------------- block server */

/* One block server per socket: the control transport's (any host) and
 * transport.data's (this host). */
static void *block_server(void *arg)
{
    ember_tsock *sock = arg ? (ember_tsock *)arg : X.bsrv;
    const ember_transport_desc *tp = arg ? X.ctx.data_tp : X.ctx.tp;
    for (;;) {
        ember_peer peer;
        ember_tmsg msg;
        ember_error err = {0, ""};
        msg_fetch f;
        buf out, hdr;
        int rc, stop;
        pthread_mutex_lock(&X.mu);
        stop = X.stop;
        pthread_mutex_unlock(&X.mu);
        if (stop)
            break;
        rc = tp->recv(sock, 1000, &peer, &msg, &err);
        if (rc != 0)
            continue;
        rc = msg_fetch_decode(msg.data, msg.len, &f, &err);
        tp->msg_release(&msg);
        buf_init(&out);
        buf_init(&hdr);
        if (rc == 0 && f.shuffle_id == MSG_FETCH_RESULT) {
            /* a task result kept here: served once, then removed */
            char path[4096];
            char *data = NULL;
            size_t dlen = 0;
            task_result_path(path, sizeof path, X.local_dir, f.map_task_id);
            rc = read_file(path, &data, &dlen, &err);
            if (rc == 0) {
                if (buf_put(&out, data, dlen))
                    rc = ember_seterr(&err, EMBER_ENOMEM, "out of memory");
                free(data);
                unlink(path);
            }
        } else if (rc == 0) {
            rc = shuffle_read_block(X.local_dir, f.shuffle_id, f.map_task_id,
                                    f.reduce_id, &out, &err);
        }
        if (rc) {
            LOG_WARN("block request failed: %s", err.msg);
            buf_reset(&out);
        }
        msg_block_encode_header(&hdr, rc, rc ? err.msg : "", out.len);
        {
            const void *parts[2] = {hdr.data, out.data};
            size_t lens[2] = {hdr.len, out.len};
            if (!hdr.oom && tp->send(sock, &peer, parts, lens, 2, &err) != 0)
                LOG_WARN("cannot answer a block request: %s", err.msg);
        }
        buf_free(&out);
        buf_free(&hdr);
    }
    return NULL;
}

/* --------------------------------------------------------------- control */

/* Resident set size now and at its peak, from /proc/self/status. */
static void read_rss(int64_t *rss, int64_t *peak)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *peak = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            *rss = kb * 1024;
        else if (sscanf(line, "VmHWM: %lld", &kb) == 1)
            *peak = kb * 1024;
    }
    fclose(f);
}

/* Alive, plus the progress of running tasks and our memory. */
static void send_heartbeat(uint64_t seq)
{
    msg_heartbeat hb;
    msg_task_metrics *tm = calloc((size_t)X.ncores + 1, sizeof *tm);
    buf b;
    memset(&hb, 0, sizeof hb);
    hb.exec_id = X.exec_id;
    hb.seq = seq;
    read_rss(&hb.rss, &hb.peak_rss);
    hb.tasks = tm;
    pthread_mutex_lock(&X.mu);
    for (int i = 0; tm && i < X.ncores; i++)
        if (X.envs[i] && X.runner->progress(X.envs[i], &tm[hb.ntasks]))
            hb.ntasks++;
    pthread_mutex_unlock(&X.mu);
    buf_init(&b);
    msg_heartbeat_encode(&b, &hb);
    send_buf(&b);
    buf_free(&b);
    free(tm);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ember executor --driver ENDPOINT --executor-id ID "
            "--cores N --memory SIZE [--app-id ID] [--conf k=v]...\n"
            "Started by a cluster manager; not meant to be run by hand.\n");
}

enum {
    OPT_DRIVER = 256,
    OPT_EXEC_ID,
    OPT_CORES,
    OPT_MEMORY,
    OPT_APP_ID,
    OPT_CONF,
    OPT_CREDS_FD,
    OPT_CREDS_FILE
};

static const struct option exec_opts[] = {
    {"driver", required_argument, NULL, OPT_DRIVER},
    {"executor-id", required_argument, NULL, OPT_EXEC_ID},
    {"cores", required_argument, NULL, OPT_CORES},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"app-id", required_argument, NULL, OPT_APP_ID},
    {"conf", required_argument, NULL, OPT_CONF},
    {"credentials-fd", required_argument, NULL, OPT_CREDS_FD},
    {"credentials-file", required_argument, NULL, OPT_CREDS_FILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int registered(int64_t *hb_ms, int64_t *timeout_ms, ember_error *err)
{
    msg_register r;
    char plugins_sig[2048];
    char host[256] = "127.0.0.1";
    buf b;
    int64_t wait_ms = 0, deadline;

    /* no answer within network.timeout (at most 30 s): give up */
    if (conf_duration_ms(X.conf, "network.timeout", &wait_ms, err))
        return EMBER_EINVAL;
    if (wait_ms > 30000)
        wait_ms = 30000;
    deadline = now_ms() + wait_ms;
    plugins_signature(plugins_sig, sizeof plugins_sig);
    memset(&r, 0, sizeof r);
    r.exec_id = X.exec_id;
    r.host = host;
    r.pid = getpid();
    r.cores = X.ncores;
    r.memory_mb = 0;
    r.data_endpoint = X.block_ep;
    r.plugins = plugins_sig;
    buf_init(&b);
    msg_register_encode(&b, &r);
    send_buf(&b);
    buf_free(&b);
    while (now_ms() < deadline && !got_signal) {
        ember_tmsg msg;
        msg_registered rr;
        int rc = X.ctx.tp->recv(X.drv, 200, NULL, &msg, err);
        if (rc == EMBER_EAGAIN || rc == EMBER_EWOKEN)
            continue;
        if (rc == EMBER_EDENIED) {
            ember_error_prefix(err, "the driver did not admit this executor "
                                    "(a key that is not this application's: "
                                    "check authenticate.secret.file, or that "
                                    "it was started by the driver): ");
            return rc;
        }
        if (rc)
            return rc;
        rc = msg_registered_decode(msg.data, msg.len, &rr, err);
        X.ctx.tp->msg_release(&msg);
        if (rc)
            return rc;
        if (!rr.ok) {
            rc = ember_seterr(err, EMBER_EINVAL, "driver refused: %s",
                              rr.message);
            msg_registered_free(&rr);
            return rc;
        }
        *hb_ms = rr.heartbeat_ms;
        *timeout_ms = rr.timeout_ms;
        snprintf(X.driver_block_ep, sizeof X.driver_block_ep, "%s",
                 rr.block_endpoint ? rr.block_endpoint : "");
        X.ctx.driver_block_endpoint = X.driver_block_ep;
        msg_registered_free(&rr);
        return 0;
    }
    if (got_signal)
        return ember_seterr(err, EMBER_ESTOP, "stopped before registering");
    return ember_seterr(err, EMBER_ETIMEOUT,
                        "no answer from the driver within %lld ms",
                        (long long)wait_ms);
}

/* ------------------------------------------------------- credentials */

/* With authenticate on (the default), this executor's keys: from the
 * cluster manager's launch channel (--credentials-fd / -file), or derived
 * from authenticate.secret.file.  They must be for this application and
 * this executor id. */
static int load_credentials(int fd, const char *file, ember_error *err)
{
    int on = 1, io = 0, rc;
    const char *secret = NULL;
    if (conf_bool(X.conf, "authenticate", &on, err) ||
        conf_string(X.conf, "authenticate.secret.file", &secret, err) ||
        conf_bool(X.conf, "io.encryption.enabled", &io, err)) {
        if (fd >= 0)
            close(fd);
        return EMBER_EINVAL;
    }
    if (!on) {
        if (fd >= 0)
            close(fd);
        if (io)
            return ember_seterr(err, EMBER_EINVAL,
                                "io.encryption.enabled needs authenticate: "
                                "the io key comes only with the credentials");
        return 0;
    }
    if (fd >= 0)
        rc = sec_creds_read_fd(fd, &X.creds, err);
    else if (file)
        rc = sec_creds_read_file(file, &X.creds, err);
    else if (secret && *secret)
        rc = sec_creds_from_secret(secret, X.app_id, X.exec_id, &X.creds, err);
    else
        return ember_seterr(err, EMBER_EINVAL,
                            "authenticate is on, but this executor got no "
                            "credentials (--credentials-fd or "
                            "--credentials-file from its cluster manager, or "
                            "authenticate.secret.file)");
    if (rc == 0 && (strcmp(X.creds.app_id, X.app_id) != 0 ||
                    strcmp(X.creds.exec_id, X.exec_id) != 0))
        rc = ember_seterr(err, EMBER_EINVAL,
                          "the credentials are for executor %s of %s, not "
                          "executor %s of %s",
                          X.creds.exec_id, X.creds.app_id, X.exec_id, X.app_id);
    /* io.encryption.enabled: every frame and spill file of this process is
       sealed with the application's io key, set before any thread starts */
    if (rc == 0 && io && !X.creds.has_io_key)
        rc = ember_seterr(err, EMBER_EINVAL,
                          "io.encryption.enabled is on, but the credentials "
                          "carry no io key (the driver runs without io "
                          "encryption?)");
    if (rc == 0 && io)
        rc = blockcodec_set_key(X.creds.io_key, err);
    if (rc != 0) {
        sec_creds_wipe(&X.creds);
        return rc;
    }
    X.ctx.creds = &X.creds;
    return 0;
}

/* The control socket to the driver: with credentials, this executor
 * proves its key and checks the driver's. */
static int control_connect(const char *ep, ember_error *err)
{
    if (!X.ctx.creds)
        return X.ctx.tp->connect(X.ctx.tctx, ep, &X.drv, err);
    ember_tsec t;
    sec_tsec_client(&t, &X.creds.self, X.creds.driver_pub);
    int rc = X.ctx.tp->connect_secure(X.ctx.tctx, ep, &t, &X.drv, err);
    memset(&t, 0, sizeof t);
    return rc;
}

int executor_main(int argc, char **argv, const task_runner *runner)
{
    const char *driver_ep = NULL, *creds_file = NULL;
    int creds_fd = -1;
    ember_error err = {0, ""};
    pthread_t *threads = NULL, bthread, dthread;
    int bstarted = 0, dstarted = 0, nthreads = 0, rc = 1;
    int64_t hb_ms = 10000, timeout_ms = 120000, last_hb, last_ack;
    uint64_t hb_seq = 0;
    struct sigaction sa;
    const char *tname;
    char mod[128];

    X.runner = runner;
    X.conf = conf_new();
    pthread_mutex_init(&X.mu, NULL);
    pthread_cond_init(&X.cv, NULL);
    X.ncores = 1;
    snprintf(X.app_id, sizeof X.app_id, "app");
    opterr = 0; /* bad options are reported below, in our words */
    for (;;) {
        int at = optind, o;
        o = getopt_long(argc, argv, "+:h", exec_opts, NULL);
        if (o == -1)
            break;
        if (o == OPT_DRIVER) {
            driver_ep = optarg;
        } else if (o == OPT_EXEC_ID) {
            snprintf(X.exec_id, sizeof X.exec_id, "%s", optarg);
        } else if (o == OPT_CORES) {
            X.ncores = atoi(optarg);
        } else if (o == OPT_MEMORY) {
            conf_set(X.conf, "executor.memory", optarg, CONF_SRC_CMDLINE,
                     "--memory");
        } else if (o == OPT_APP_ID) {
            snprintf(X.app_id, sizeof X.app_id, "%s", optarg);
        } else if (o == OPT_CREDS_FD) {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            creds_fd = (end && !*end && v >= 3 && v < 65536) ? (int)v : -2;
        } else if (o == OPT_CREDS_FILE) {
            creds_file = optarg;
        } else if (o == OPT_CONF) {
            if (conf_parse_arg(X.conf, optarg, CONF_SRC_CMDLINE, &err)) {
                fprintf(stderr, "ember executor: %s\n", err.msg);
                goto out;
            }
        } else if (o == 'h') {
            usage();
            rc = 0;
            goto out;
        } else { /* unknown, or an option without its value */
            fprintf(stderr, "ember executor: unknown argument '%s'\n",
                    argv[at]);
            usage();
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ember executor: unknown argument '%s'\n",
                argv[optind]);
        usage();
        goto out;
    }
    if (!driver_ep || !X.exec_id[0] || X.ncores < 1 || creds_fd == -2) {
        usage();
        goto out;
    }
    if (!sec_id_valid(X.exec_id) || !sec_id_valid(X.app_id)) {
        fprintf(stderr, "ember executor: the executor and application ids "
                        "must be 1-63 characters of A-Z a-z 0-9 . _ -\n");
        goto out;
    }
    if (load_credentials(creds_fd, creds_file, &err)) {
        fprintf(stderr, "ember executor %s: %s\n", X.exec_id, err.msg);
        goto out;
    }
    {
        char who[96];
        int lvl = log_level();
        snprintf(who, sizeof who, "executor %s", X.exec_id);
        log_set_who(who);
        if (conf_enum(X.conf, "log.level", &lvl, &err)) {
            fprintf(stderr, "ember executor: %s\n", err.msg);
            goto out;
        }
        log_set_level(lvl); /* the values are in EMBER_LOG_* order */
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    host_set_conf(X.conf);

    /* local directory */
    {
        const char *base = NULL;
        if (conf_string(X.conf, "local.dir", &base, &err)) {
            LOG_ERROR("%s", err.msg);
            goto out;
        }
        snprintf(X.local_dir, sizeof X.local_dir, "%s/ember-%s-exec-%s", base,
                 X.app_id, X.exec_id);
        if (mkdir_private(X.local_dir, &err)) {
            LOG_ERROR("%s", err.msg);
            X.local_dir[0] = '\0';
            goto out;
        }
    }

    /* plugins: the same set as the driver */
    if (plugins_load_configured(X.conf, &err) ||
        conf_string(X.conf, "transport", &tname, &err)) {
        LOG_ERROR("%s", err.msg);
        goto out;
    }
    snprintf(mod, sizeof mod, "transport_%s", tname);
    if (plugins_load(mod, &err)) {
        LOG_ERROR("%s", err.msg);
        goto out;
    }
    X.ctx.tp = plugins_find_transport(tname);
    if (!X.ctx.tp) {
        LOG_ERROR("no transport named '%s'", tname);
        goto out;
    }
    if ((X.ctx.creds && sec_transport_check(X.ctx.tp, &err)) ||
        X.ctx.tp->open(host_table(), &X.ctx.tctx, &err) ||
        sec_data_listen(X.ctx.tp, X.ctx.tctx, X.ctx.creds, "tcp://127.0.0.1:*",
                        SEC_FETCH_MAX, &X.bsrv, X.block_ep, sizeof X.block_ep,
                        &err) ||
        control_connect(driver_ep, &err)) {
        LOG_ERROR("%s", err.msg);
        goto out;
    }
    wake_ok = 1;
    {
        /* bulk data between executors of this host over transport.data */
        const char *dname = NULL;
        if (conf_string(X.conf, "transport.data", &dname, &err)) {
            LOG_ERROR("%s", err.msg);
            goto out;
        }
        if (*dname && strcmp(dname, tname) != 0) {
            char dmod[128], ep[256], bound[256];
            snprintf(dmod, sizeof dmod, "transport_%s", dname);
            if (plugins_load(dmod, &err) ||
                !(X.ctx.data_tp = plugins_find_transport(dname)) ||
                (X.ctx.creds && sec_transport_check(X.ctx.data_tp, &err)) ||
                X.ctx.data_tp->open(host_table(), &X.ctx.data_tctx, &err)) {
                LOG_ERROR("transport.data %s: %s", dname,
                          err.msg[0] ? err.msg : "no such transport");
                X.ctx.data_tp = NULL;
                goto out;
            }
            /* a random part: nobody can take the name first */
            char rnd[17];
            if (sec_random_hex(rnd, sizeof rnd, &err))
                goto out;
            snprintf(ep, sizeof ep, "%s://ember-%d-%s-%s", dname, (int)getpid(),
                     X.exec_id, rnd);
            if (sec_data_listen(X.ctx.data_tp, X.ctx.data_tctx, X.ctx.creds, ep,
                                SEC_FETCH_MAX, &X.data_srv, bound, sizeof bound,
                                &err)) {
                LOG_ERROR("transport.data %s: %s", dname, err.msg);
                goto out;
            }
            {
                size_t n = strlen(X.block_ep);
                snprintf(X.block_ep + n, sizeof X.block_ep - n, ";%s", bound);
            }
        }
    }
    X.ctx.exec_id = X.exec_id;
    X.ctx.app_id = X.app_id;
    X.ctx.local_dir = X.local_dir;
    X.ctx.block_endpoint = X.block_ep;
    X.ctx.conf = X.conf;
    {
        int64_t max_direct = 0, mem = 0;
        double frac = 0, sfrac = 0;
        if (conf_bool(X.conf, "shuffle.compress", &X.ctx.compress, &err) ||
            conf_size(X.conf, "task.maxDirectResultSize", &max_direct, &err) ||
            conf_size(X.conf, "executor.memory", &mem, &err) ||
            conf_double(X.conf, "memory.fraction", &frac, &err) ||
            conf_double(X.conf, "memory.storageFraction", &sfrac, &err)) {
            LOG_ERROR("%s", err.msg);
            goto out;
        }
        X.ctx.max_direct_result = (uint64_t)max_direct;
        X.ctx.mm = memmgr_new((uint64_t)((double)mem * frac), sfrac, X.ncores);
        X.ctx.bm = X.ctx.mm ? blockmgr_new(X.local_dir, X.ctx.mm) : NULL;
        if (!X.ctx.bm) {
            LOG_ERROR("out of memory");
            goto out;
        }
    }
    X.envs = calloc((size_t)X.ncores + 1, sizeof *X.envs);
    if (!X.envs) {
        LOG_ERROR("out of memory");
        goto out;
    }
    if (registered(&hb_ms, &timeout_ms, &err)) {
        if (err.code == EMBER_ESTOP) {
            LOG_INFO("%s", err.msg);
            rc = 0;
        } else {
            LOG_ERROR("registration failed: %s", err.msg);
        }
        goto out;
    }
    mask_signals(1);
    if (pthread_create(&bthread, NULL, block_server, NULL) == 0)
        bstarted = 1;
    if (X.data_srv &&
        pthread_create(&dthread, NULL, block_server, X.data_srv) == 0)
        dstarted = 1;
    threads = calloc((size_t)X.ncores, sizeof *threads);
    for (int i = 0; threads && i < X.ncores; i++)
        if (pthread_create(&threads[i], NULL, task_thread, NULL) == 0)
            nthreads++;
    mask_signals(0);
    LOG_INFO("running with %d task threads, blocks at %s", nthreads,
             X.block_ep);

    last_hb = last_ack = now_ms();
    rc = 0;
    while (!got_signal) {
        ember_tmsg msg;
        int64_t now = now_ms();
        int wait = (int)(last_hb + hb_ms - now);
        int r;
        if (wait < 0)
            wait = 0;
        if (wait > 1000)
            wait = 1000;
        outbox_flush();
        r = X.ctx.tp->recv(X.drv, wait, NULL, &msg, &err);
        if (r == 0) {
            int type = msg_peek_type(msg.data, msg.len, &err);
            last_ack = now_ms();
            if (type == MSG_LAUNCH) {
                on_launch(msg.data, msg.len);
            } else if (type == MSG_KILL) {
                on_kill(msg.data, msg.len);
            } else if (type == MSG_REMOVE_BCAST) {
                char *id = NULL;
                uint64_t bid = 0;
                if (msg_simple_decode(msg.data, msg.len, MSG_REMOVE_BCAST, &id,
                                      &bid, &err) == 0) {
                    blockmgr_remove_node(X.ctx.bm, -(int)bid);
                    free(id);
                }
            } else if (type == MSG_REMOVE_RDD) {
                char *id = NULL;
                uint64_t node = 0;
                if (msg_simple_decode(msg.data, msg.len, MSG_REMOVE_RDD, &id,
                                      &node, &err) == 0) {
                    blockmgr_remove_node(X.ctx.bm, (int)node);
                    free(id);
                }
            } else if (type == MSG_STOP) {
                X.ctx.tp->msg_release(&msg);
                LOG_INFO("driver asked us to stop");
                break;
            } else if (type != MSG_HEARTBEAT_ACK) {
                LOG_WARN("unexpected message from the driver: %s",
                         type < 0 ? err.msg : msg_type_name(type));
            }
            X.ctx.tp->msg_release(&msg);
        } else if (r != EMBER_EAGAIN && r != EMBER_EWOKEN) {
            LOG_WARN("receive from driver failed: %s", err.msg);
        }
        now = now_ms();
        if (now - last_hb >= hb_ms) {
            send_heartbeat(++hb_seq);
            last_hb = now;
        }
        if (now - last_ack > timeout_ms) {
            LOG_ERROR("the driver has not answered for %lld ms "
                      "(network.timeout); exiting",
                      (long long)(now - last_ack));
            rc = 2;
            break;
        }
    }
    if (got_signal)
        LOG_INFO("signal %d: exiting", (int)got_signal);
    outbox_flush();
out:
    wake_ok = 0;
    pthread_mutex_lock(&X.mu);
    X.stop = 1;
    pthread_cond_broadcast(&X.cv);
    pthread_mutex_unlock(&X.mu);
    /* a task still running (driver gone) cannot be interrupted: do not wait
       for it, just clean up and leave */
    if (X.running_tasks == 0) {
        for (int i = 0; i < nthreads; i++)
            pthread_join(threads[i], NULL);
        if (bstarted) {
            X.ctx.tp->wake(X.bsrv);
            pthread_join(bthread, NULL);
        }
        if (dstarted) {
            X.ctx.data_tp->wake(X.data_srv);
            pthread_join(dthread, NULL);
        }
    } else {
        /* stop the block servers and close their sockets (a shared-memory
           server unlinks its object), then leave without waiting */
        if (bstarted) {
            X.ctx.tp->wake(X.bsrv);
            pthread_join(bthread, NULL);
        }
        if (dstarted) {
            X.ctx.data_tp->wake(X.data_srv);
            pthread_join(dthread, NULL);
        }
        if (X.data_srv)
            X.ctx.data_tp->sock_close(X.data_srv);
        if (X.local_dir[0])
            rm_rf(X.local_dir);
        _exit(rc);
    }
    free(threads);
    if (X.drv)
        X.ctx.tp->sock_close(X.drv);
    if (X.bsrv)
        X.ctx.tp->sock_close(X.bsrv);
    if (X.data_srv)
        X.ctx.data_tp->sock_close(X.data_srv);
    if (X.ctx.data_tctx)
        X.ctx.data_tp->close(X.ctx.data_tctx);
    if (X.ctx.tctx)
        X.ctx.tp->close(X.ctx.tctx);
    if (X.local_dir[0])
        rm_rf(X.local_dir);
    while (X.qhead) {
        qtask *q = X.qhead;
        X.qhead = q->next;
        msg_launch_free(&q->m);
        free(q);
    }
    while (X.ohead) {
        outmsg *o = X.ohead;
        X.ohead = o->next;
        buf_free(&o->b);
        free(o);
    }
    for (int i = 0; i < X.nbins; i++)
        free(X.bins[i].bin);
    free(X.bins);
    free(X.envs);
    blockmgr_destroy(&X.ctx.bm);
    memmgr_destroy(&X.ctx.mm);
    plugins_shutdown();
    conf_destroy(&X.conf);
    sec_creds_wipe(&X.creds);
    return rc;
}
