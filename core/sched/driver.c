/*
 * driver.c -- the driver's public API (driver.h): start, run a job, stop;
 * storage and broadcast requests from the script.
 *
 * driver_new() reads the scheduler's settings, listens on the control
 * endpoint through the transport plugin, asks the cluster-manager plugin
 * for executors (which register with the loop: executors.c) and starts the
 * loop thread (loop.c) and the result fetcher (fetcher.c).
 * driver_run_job() (Lua main thread) puts a job in the submission slot,
 * wakes the loop and waits on a condition variable until the loop hands
 * the job back.
 *
 * Where the rest lives: driver_int.h lists the driver's files; the DAG
 * scheduler is dag.c, the task sets taskset.c, the event log eventlog.c.
 *
 * Threads: the functions here run on the script's (main) thread; they
 * touch loop state only through the fields guarded by d->mu.
 */
#include "driver_int.h"

#include "config.h"
#include "plugin/plugins.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ----------------------------------------------------------------- API */

typedef struct argv_b {
    char **v;
    int n;
    int cap;
} argv_b;

static void argv_push(argv_b *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        int nc = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = strdup(s);
    a->v[a->n] = NULL;
}

static void collect_conf(void *ud, const char *key, const char *value,
                         conf_source src, const char *origin)
{
    argv_b *a = ud;
    char kv[4096];
    (void)origin;
    if (src == CONF_SRC_DEFAULT)
        return;
    snprintf(kv, sizeof kv, "%s=%s", key, value);
    argv_push(a, "--conf");
    argv_push(a, kv);
}

/* ----------------------------------------------------------- security */

/* authenticate / authenticate.secret.file: the application's keys. */
static int security_start(driver *d, ember_error *err)
{
    int on = 1, io = 0;
    const char *secret = NULL;
    if (conf_bool(d->conf, "authenticate", &on, err) ||
        conf_string(d->conf, "authenticate.secret.file", &secret, err) ||
        conf_bool(d->conf, "io.encryption.enabled", &io, err))
        return EMBER_EINVAL;
    if (io && !on) /* the io key travels only in the credentials */
        return ember_seterr(err, EMBER_EINVAL,
                            "io.encryption.enabled needs authenticate: the "
                            "io key reaches executors only with their "
                            "credentials (set authenticate=true, or "
                            "io.encryption.enabled=false)");
    if (!on) {
        LOG_INFO("authenticate=false: sockets admit any peer");
        return 0;
    }
    return sec_app_new(d->app_id, secret, io, &d->sec, err);
}

/* The control socket: executors prove the keys minted for them. */
static int control_listen(driver *d, const char *ep, ember_error *err)
{
    if (!d->sec)
        return d->tp->listen(d->tctx, ep, &d->sock, d->endpoint,
                             sizeof d->endpoint, err);
    int64_t direct = 0;
    if (conf_size(d->conf, "task.maxDirectResultSize", &direct, err))
        return EMBER_EINVAL;
    ember_tsec t;
    sec_tsec_server(&t, &sec_app_creds(d->sec)->self, sec_app_admit_control,
                    d->sec, msg_control_max((uint64_t)direct));
    int rc = d->tp->listen_secure(d->tctx, ep, &t, &d->sock, d->endpoint,
                                  sizeof d->endpoint, err);
    memset(&t, 0, sizeof t);
    return rc;
}

/* ember_cm_request.credentials: mint executor_id's keys (the cluster
 * manager calls it on the driver's thread that started it). */
static int mint_credentials(void *ud, const char *executor_id, char *out,
                            size_t outlen, ember_error *err)
{
    driver *d = ud;
    return sec_app_mint(d->sec, executor_id, out, outlen, err);
}

driver *driver_new(const conf *c, const char *app_name, ember_error *err)
{
    driver *d = calloc(1, sizeof *d);
    const char *tname = NULL, *master = NULL, *host = NULL, *topo = NULL;
    const char *cmname = NULL;
    const plugin_info *cmp = NULL;
    char ep[300];
    argv_b av = {0};
    ember_cm_request req;
    int64_t mem = 0, cores = 0, max_failures = 0, max_result = 0;
    int64_t bin_bcast = 0;
    int rc, evlog = 0;

    if (!d) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    d->conf = c;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    pthread_cond_init(&d->fetch_cv, NULL);
    ts_config_default(&d->tscfg);
    /* the settings: types, defaults and bounds are the key table's
     * (core/conf_keys.c) */
    if (conf_string(c, "master", &master, err) ||
        conf_string(c, "transport", &tname, err) ||
        conf_string(c, "driver.bindAddress", &host, err) ||
        conf_string(c, "clustermgr", &cmname, err) ||
        conf_string(c, "scheduler.topology", &topo, err) ||
        conf_duration_ms(c, "executor.heartbeatInterval", &d->heartbeat_ms,
                         err) ||
        conf_duration_ms(c, "network.timeout", &d->timeout_ms, err) ||
        conf_int(c, "task.maxFailures", &max_failures, err) ||
        conf_int(c, "stage.maxConsecutiveAttempts", &d->max_stage_attempts,
                 err) ||
        conf_size(c, "driver.maxResultSize", &max_result, err) ||
        conf_duration_ms(c, "scheduler.maxRegisteredResourcesWaitingTime",
                         &d->max_wait_ms, err) ||
        conf_size(c, "executor.memory", &mem, err) ||
        conf_int(c, "executor.cores", &cores, err) ||
        conf_double(c, "scheduler.minRegisteredResourcesRatio",
                    &d->min_registered_ratio, err) ||
        conf_bool(c, "speculation", &d->tscfg.speculation, err) ||
        conf_double(c, "speculation.multiplier", &d->tscfg.spec_multiplier,
                    err) ||
        conf_double(c, "speculation.quantile", &d->tscfg.spec_quantile, err) ||
        conf_duration_ms(c, "speculation.minTaskRuntime", &d->tscfg.spec_min_ms,
                         err) ||
        conf_duration_ms(c, "locality.wait.process",
                         &d->tscfg.wait_ms[LOC_PROCESS_LOCAL], err) ||
        conf_duration_ms(c, "locality.wait.node",
                         &d->tscfg.wait_ms[LOC_NODE_LOCAL], err) ||
        conf_duration_ms(c, "locality.wait.rack",
                         &d->tscfg.wait_ms[LOC_RACK_LOCAL], err) ||
        conf_bool(c, "eventLog.enabled", &evlog, err) ||
        conf_size(c, "task.binaryBroadcastThreshold", &bin_bcast, err) ||
        conf_int(c, "scheduler.launchAhead", &d->launch_ahead, err) ||
        conf_int(c, "task.cpus", &d->task_cpus, err) ||
        conf_duration_ms(c, "speculation.interval", &d->spec_interval_ms,
                         err) ||
        conf_duration_ms(c, "scheduler.revive.interval", &d->revive_interval_ms,
                         err))
        goto fail;
    snprintf(d->master, sizeof d->master, "%s", master);
    {
        /* a process may run several sessions, one after another or at
         * once: each gets its own id (and so its own local directories) */
        static _Atomic int seq;
        int n = atomic_fetch_add(&seq, 1);
        /* and a random part: nobody can guess the names of its local
           directories and plant something there first */
        char rnd[9];
        if (sec_random_hex(rnd, sizeof rnd, err))
            goto fail;
        if (n == 0)
            snprintf(d->app_id, sizeof d->app_id, "app-%lld-%d-%s",
                     (long long)(wall_ms() / 1000), (int)getpid(), rnd);
        else
            snprintf(d->app_id, sizeof d->app_id, "app-%lld-%d-%d-%s",
                     (long long)(wall_ms() / 1000), (int)getpid(), n, rnd);
    }
    snprintf(d->app_name, sizeof d->app_name, "%s",
             app_name && *app_name ? app_name : "ember");
    snprintf(d->host, sizeof d->host, "%s", host);
    d->started_ms = now_ms();
    if (d->task_cpus > INT32_MAX) {
        ember_seterr(err, EMBER_EINVAL,
                     "task.cpus is %lld: more cores than any executor has",
                     (long long)d->task_cpus);
        goto fail;
    }
    d->max_result_size = (uint64_t)max_result;
    d->bin_bcast_threshold = (uint64_t)bin_bcast;
    d->next_revive = d->started_ms + d->revive_interval_ms;
    d->tscfg.max_failures = (int)max_failures;
    if (!(d->dag = dag_new(&d->tscfg, d->max_stage_attempts))) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        goto fail;
    }
    d->topology = *topo ? strdup(topo) : NULL;
    if (evlog) {
        const char *dir = NULL;
        if (conf_string(c, "eventLog.dir", &dir, err) ||
            !(d->elog = eventlog_open(dir, d->app_id, err)))
            goto fail;
        eventlog_app_start(d->elog, d->app_name, d->app_id,
                           getenv("USER") ? getenv("USER") : "", d->master);
    }
    plugins_signature(d->plugins_sig, sizeof d->plugins_sig);
    if (security_start(d, err))
        goto fail;

    /* transport */
    {
        char mod[128];
        snprintf(mod, sizeof mod, "transport_%s", tname);
        if ((rc = plugins_load(mod, err)) != 0)
            goto fail;
    }
    d->tp = plugins_find_transport(tname);
    if (!d->tp) {
        ember_seterr(err, EMBER_ENOTFOUND, "no transport named '%s'", tname);
        goto fail;
    }
    if (d->sec && sec_transport_check(d->tp, err))
        goto fail;
    if (d->tp->open(host_table(), &d->tctx, err))
        goto fail;
    snprintf(ep, sizeof ep, "tcp://%s:*", host);
    if (control_listen(d, ep, err))
        goto fail;
    if (!(d->bcast =
              bcast_server_new(d->tp, d->tctx, d->host,
                               d->sec ? sec_app_creds(d->sec) : NULL, err)))
        goto fail;

    /* cluster manager */
    {
        if (*cmname) {
            char mod[128];
            snprintf(mod, sizeof mod, "clustermgr_%s", cmname);
            if (plugins_load(mod, err))
                goto fail;
        } else if (plugins_load("clustermgr_local", NULL) != 0) {
            plugins_load_all(NULL, NULL);
        }
        d->cm = plugins_find_cm(d->master, &cmp);
        if (!d->cm) {
            plugins_load_all(NULL, NULL);
            d->cm = plugins_find_cm(d->master, &cmp);
        }
        if (!d->cm) {
            ember_seterr(err, EMBER_ENOTFOUND,
                         "no cluster manager accepts master URL '%s' (valid "
                         "with the local manager: local, local[N], local[*], "
                         "local-cluster[E,C,M])",
                         d->master);
            goto fail;
        }
    }
    argv_push(&av, self_exe());
    argv_push(&av, "executor");
    argv_push(&av, "--driver");
    argv_push(&av, d->endpoint);
    argv_push(&av, "--app-id");
    argv_push(&av, d->app_id);
    conf_foreach(c, collect_conf, &av);
    if (!av.v) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        goto fail;
    }
    memset(&req, 0, sizeof req);
    req.struct_size = sizeof req;
    req.master_url = d->master;
    req.app_id = d->app_id;
    req.exec_argv = (const char *const *)av.v;
    req.default_cores = (int)cores;
    req.default_memory_mb = (int64_t)(mem >> 20);
    if (d->sec) {
        /* the executors' keys travel through the manager's launch
           channel, never argv or the environment (docs/security.md) */
        if (cmp && cmp->abi_minor < 3) {
            ember_seterr(err, EMBER_EUNSUPPORTED,
                         "cluster manager %s (plugin %s, ABI %d.%d) cannot "
                         "hand executors their credentials (ABI 1.3): set "
                         "authenticate=false to run without authentication",
                         d->cm->name, cmp->name, cmp->abi_major,
                         cmp->abi_minor);
            goto fail;
        }
        req.credentials = mint_credentials;
        req.credentials_ud = d;
    }
    rc =
        d->cm->start(host_table(), &req, &d->cm_state, &d->expected_execs, err);
    for (int i = 0; i < av.n; i++)
        free(av.v[i]);
    free(av.v);
    if (rc) {
        ember_error_prefix(err, "cluster manager %s: ", d->cm->name);
        goto fail;
    }
    d->expected_cores = driver_total_cores(d);
    if (fetcher_start(d, err))
        goto fail;
    if (pthread_create(&d->thread, NULL, loop_main, d) != 0) {
        ember_seterr(err, EMBER_EIO, "cannot start the driver thread");
        goto fail;
    }
    d->thread_started = 1;
    LOG_INFO("driver %s listening on %s, master %s (%s)", d->app_id,
             d->endpoint, d->master, d->cm->name);
    return d;
fail:
    driver_destroy(&d);
    return NULL;
}

int driver_run_job(driver *d, const job_spec *spec, job_result *res,
                   ember_error *err)
{
    job j;
    memset(&j, 0, sizeof j);
    memset(res, 0, sizeof *res);
    j.spec = spec;
    j.res = res;
    pthread_mutex_lock(&d->mu);
    d->submitted = &j;
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
    pthread_mutex_lock(&d->mu);
    while (j.done != 2)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    if (j.rc) {
        ember_seterr(err, j.rc, "%s", j.errmsg ? j.errmsg : "job failed");
        free(j.errmsg);
        /* keep the accumulator updates of the tasks that succeeded */
        for (int i = 0; i < res->nparts && res->blocks; i++)
            free(res->blocks[i]);
        free(res->blocks);
        free(res->lens);
        res->blocks = NULL;
        res->lens = NULL;
        res->nparts = 0;
        return j.rc;
    }
    free(j.errmsg);
    return 0;
}

void job_result_free(job_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nparts && r->blocks; i++)
        free(r->blocks[i]);
    free(r->blocks);
    free(r->lens);
    for (int i = 0; i < r->naccum; i++)
        free(r->accum[i]);
    free(r->accum);
    free(r->accum_lens);
    memset(r, 0, sizeof *r);
}

void driver_destroy(driver **dp)
{
    driver *d = dp ? *dp : NULL;
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->fetch_cv);
    pthread_mutex_unlock(&d->mu);
    if (d->thread_started) {
        d->tp->wake(d->sock);
        pthread_join(d->thread, NULL);
    }
    if (d->fetcher_started)
        pthread_join(d->fetcher, NULL);
    if (d->cm && d->cm_state)
        d->cm->stop(d->cm_state);
    for (int i = 0; i < d->nexecs; i++)
        exec_remove_dir(d, &d->execs[i]); /* whatever a killed one left */
    bcast_server_destroy(&d->bcast);
    if (d->sock)
        d->tp->sock_close(d->sock);
    if (d->tctx)
        d->tp->close(d->tctx);
    eventlog_app_end(d->elog);
    eventlog_close(&d->elog);
    fetcher_free_queues(d);
    sec_app_destroy(&d->sec);
    for (int i = 0; i < d->nexecs; i++) {
        free(d->execs[i].id);
        free(d->execs[i].host);
        free(d->execs[i].rack);
        free(d->execs[i].endpoint);
        free(d->execs[i].stages_sent);
    }
    free(d->execs);
    dag_destroy(&d->dag);
    free(d->env_execs);
    free(d->env_cached);
    free(d->run);
    free(d->topology);
    free(d->cblocks);
    free(d->unpersist_q);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_cond_destroy(&d->fetch_cv);
    free(d);
    *dp = NULL;
}

int driver_total_cores(driver *d)
{
    const char *m = d->master;
    int e, c, mem, n;
    if (sscanf(m, "local-cluster[%d,%d,%d]", &e, &c, &mem) == 3)
        return e * c;
    if (sscanf(m, "local[%d]", &n) == 1)
        return n;
    if (strcmp(m, "local") == 0)
        return 1;
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

const char *driver_app_id(const driver *d)
{
    return d->app_id;
}

const uint8_t *driver_io_key(const driver *d)
{
    const sec_creds *c = d->sec ? sec_app_creds(d->sec) : NULL;
    return c && c->has_io_key ? c->io_key : NULL;
}

const char *driver_master(const driver *d)
{
    return d->master;
}

void driver_storage_info(driver *d,
                         void (*fn)(void *ud, int node, int part,
                                    const char *exec, int level, uint64_t mem,
                                    uint64_t disk),
                         void *ud)
{
    /* execs[] only grows on the loop thread; ids never change once set */
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks; i++) {
        const cached_block *b = &d->cblocks[i];
        fn(ud, b->node, b->part, d->execs[b->exec].id, b->level, b->mem,
           b->disk);
    }
    pthread_mutex_unlock(&d->mu);
}

void driver_unpersist(driver *d, int node)
{
    int *nq;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks;)
        if (d->cblocks[i].node == node)
            d->cblocks[i] = d->cblocks[--d->ncblocks];
        else
            i++;
    nq = realloc(d->unpersist_q, (size_t)(d->nunpersist + 1) * sizeof *nq);
    if (nq) {
        d->unpersist_q = nq;
        nq[d->nunpersist++] = node;
    }
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
}

int driver_broadcast_put(driver *d, const void *raw, size_t len, int64_t *id,
                         ember_error *err)
{
    return bcast_put(d->bcast, raw, len, id, err);
}

static void queue_removal(driver *d, int v)
{
    int *nq;
    pthread_mutex_lock(&d->mu);
    nq = realloc(d->unpersist_q, (size_t)(d->nunpersist + 1) * sizeof *nq);
    if (nq) {
        d->unpersist_q = nq;
        nq[d->nunpersist++] = v;
    }
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
}

void driver_broadcast_unpersist(driver *d, int64_t id)
{
    queue_removal(d, -(int)id);
}

void driver_broadcast_destroy(driver *d, int64_t id)
{
    bcast_remove(d->bcast, id);
    queue_removal(d, -(int)id);
}

int64_t driver_broadcast_fetches(driver *d, int64_t id)
{
    return bcast_fetches(d->bcast, id);
}

const char *driver_eventlog_path(const driver *d)
{
    return eventlog_path(d->elog);
}
