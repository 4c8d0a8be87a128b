/*
 * driver_int.h -- the driver's private interface: its state, and the
 * functions its files call in one another.  Callable only by the driver's
 * own files:
 *
 *   driver.c     public API: start (settings, plugins, threads), stop,
 *                run a job, storage and broadcast requests
 *   loop.c       the event loop: waits, dispatches, nothing else
 *   jobs.c       jobs start and end; applies the DAG's outcomes (dag.h)
 *   offers.c     task scheduling: resource offers, launch, revive,
 *                speculation checks, tasks queued ahead
 *   status.c     task status updates and fetched results
 *   executors.c  registration, heartbeats, loss, messages to executors
 *   fetcher.c    the result-fetcher thread
 *
 * The DAG scheduler (dag.c), the task sets (taskset.c) and the event log
 * (eventlog.c) sit below and never include this header.
 *
 * Threads: everything here belongs to the loop thread unless a field says
 * otherwise.
 */
#ifndef EMBER_SCHED_DRIVER_INT_H
#define EMBER_SCHED_DRIVER_INT_H

#include "bcast.h"
#include "dag.h"
#include "driver.h"
#include "eventlog.h"
#include "rpc/msg.h"
#include "sec/sec.h"
#include "taskset.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdint.h>

struct conf;

typedef struct exec_rec {
    char *id;
    ember_peer peer;
    char *host;
    char *rack;
    int64_t pid;
    int cores;
    int free_cores; /* negative: tasks queued ahead */
    char *endpoint;
    int alive;
    int64_t last_seen;
    int64_t added_ms;
    int *stages_sent;
    int nsent;
} exec_rec;

/* A launched task attempt. */
typedef struct running {
    uint64_t tid;
    dag_stage *st; /* NULL once its job ended */
    int task;      /* index in the stage's task set */
    int attempt;
    int stage_attempt;
    int exec; /* executor index; -1 - index while its result is fetched */
    int level;
    int speculative;
    int64_t start_us;
    int64_t launch_ms;
} running;

/* A result kept in an executor's block store, being fetched. */
typedef struct fetch_req {
    uint64_t tid;
    char *endpoint;
    char *exec_id;
    uint64_t size;
    uint64_t raw_size; /* counted against driver.maxResultSize */
    /* filled by the fetcher thread */
    uint8_t *data;
    size_t len;
    int rc;
    char *error;
    struct fetch_req *next;
} fetch_req;

/* The block-manager master: which executor caches which partition. */
typedef struct cached_block {
    int node;
    int part;
    int exec;
    int level;
    uint64_t mem;
    uint64_t disk;
} cached_block;

typedef struct job {
    int id;
    const job_spec *spec;
    job_result *res;
    int done; /* 1: finished (loop thread), 2: handed back (main thread) */
    int rc;
    char *errmsg;
    int64_t start_us;
    uint64_t result_bytes;
    int ntasks;
    int pending_fetches;
} job;

struct driver {
    const struct conf *conf;
    char app_id[64];
    char app_name[128];
    char master[256];
    char host[128];
    const ember_transport_desc *tp;
    void *tctx;
    ember_tsock *sock;
    char endpoint[256];
    const ember_cm_desc *cm;
    void *cm_state;
    int expected_execs;
    pthread_t thread;
    int thread_started;
    eventlog *elog;
    bcast_server *bcast;
    /* authentication (docs/security.md): NULL when authenticate=false.
       The admission table inside is shared with the transport's
       authentication thread (it has its own lock). */
    sec_app *sec;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *submitted; /* guarded by mu */
    int stopping;   /* guarded by mu */

    /* result fetcher thread: requests in, completions out (guarded by mu) */
    pthread_t fetcher;
    int fetcher_started;
    pthread_cond_t fetch_cv;
    fetch_req *fetch_in;
    fetch_req *fetch_out;

    /* block-manager master (written by the loop thread, read by the main
       thread for storage_info: guarded by mu) */
    cached_block *cblocks;
    int ncblocks;
    int *unpersist_q; /* datasets (> 0) and broadcasts (< 0, negated) to
                         drop on every executor (mu) */
    int nunpersist;

    /* ---- loop thread only ---- */
    exec_rec *execs;
    int nexecs;
    int ever_registered;
    char cpus_refused[512]; /* why an executor was refused: task.cpus */
    int ncpus_refused;      /* how many were */
    int64_t started_ms;
    dag *dag;
    dag_env env; /* job_env's view, and its buffers */
    dag_exec *env_execs;
    int env_execs_cap;
    dag_cached *env_cached;
    int env_cached_cap;
    running *run;
    int nrun;
    job *cur;
    int next_job;
    uint64_t next_tid;
    int64_t job_wait_since;
    int64_t last_spec_check;
    int revive;          /* offers are due: something changed */
    int64_t next_revive; /* the next periodic revive (now_ms clock) */
    /* settings */
    ts_config tscfg;
    int64_t heartbeat_ms;
    int64_t timeout_ms;
    int64_t max_stage_attempts;
    uint64_t max_result_size;
    int64_t max_wait_ms;
    double min_registered_ratio;
    int64_t launch_ahead; /* scheduler.launchAhead: queued tasks per core */
    uint64_t bin_bcast_threshold; /* task.binaryBroadcastThreshold */
    int64_t task_cpus;            /* task.cpus: cores each task occupies */
    int64_t spec_interval_ms;     /* speculation.interval */
    int64_t revive_interval_ms;   /* scheduler.revive.interval */
    int expected_cores;
    char *topology; /* "host=rack,host=rack" */
    char plugins_sig[2048];
};

/* jobs.c */
void job_start(driver *d, job *j);
/* Ends the current job when it is done and no fetch is pending. */
void job_finish_if_done(driver *d);
/* The job fails (first reason kept); no-op for NULL or a done job. */
void job_fail(driver *d, job *j, const char *fmt, ...) EMBER_PRINTF(3, 4);
/* The job that drives stage st, or NULL. */
job *job_of(driver *d, const dag_stage *st);
/* The cluster as the DAG sees it now, for one dag_* call (the driver's
 * buffers: valid until the next job_env). */
const dag_env *job_env(driver *d);
/* Write the outcome's events, act on it, free it. */
void job_apply(driver *d, dag_outcome *out);
/* The task-start/end event record of a running task. */
void job_ev_task(driver *d, const running *r, ev_task *t);
/* The live executors changed: tell every task set. */
void job_live_changed(driver *d);

/* offers.c */
void offers_schedule(driver *d); /* offer slots, if due */
void offers_check_speculation(driver *d);
void offers_recall_queued(driver *d);
void run_remove(driver *d, int i);

/* status.c */
void status_on_task(driver *d, int ei, const msg_status *m);
void status_on_fetched(driver *d, fetch_req *f);

/* executors.c */
/* name: who the transport authenticated the sender as ("" when the
 * driver runs without authentication) */
void exec_on_register(driver *d, const ember_peer *peer, const char *name,
                      const void *data, size_t len);
void exec_on_heartbeat(driver *d, int ei, const msg_heartbeat *hb);
int exec_find(driver *d, const ember_peer *p);
int exec_index(driver *d, const char *id);
void exec_lose(driver *d, int ei, const char *reason);
void exec_check_timeouts(driver *d);
void exec_remove_dir(driver *d, const exec_rec *e);
void exec_send(driver *d, const ember_peer *to, buf *b);
void exec_send_simple(driver *d, int ei, int type, uint64_t n);
void exec_drain_unpersist(driver *d);
void exec_check_cpus(driver *d);

/* fetcher.c */
int fetcher_start(driver *d, ember_error *err);
void fetcher_submit(driver *d, fetch_req *f);
/* Completed fetches, handed to status_on_fetched. */
void fetcher_drain(driver *d);
void fetch_req_free(fetch_req *f);
/* After the thread stopped: free whatever is queued. */
void fetcher_free_queues(driver *d);

/* loop.c */
void *loop_main(void *arg);

#endif
