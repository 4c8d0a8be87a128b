/*
 * driver_int.h -- the driver's internal state, shared by driver.c (event
 * loop, executors, messages, task launch and status) and dag.c (jobs,
 * stages, map-output tracker).  Everything here belongs to the loop thread
 * unless a field says otherwise.
 */
#ifndef EMBER_SCHED_DRIVER_INT_H
#define EMBER_SCHED_DRIVER_INT_H

#include "bcast.h"
#include "driver.h"
#include "eventlog.h"
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
    int free_cores;
    char *endpoint;
    int alive;
    int64_t last_seen;
    int64_t added_ms;
    int *stages_sent;
    int nsent;
} exec_rec;

typedef struct map_output {
    int valid;
    int exec;             /* index into d->execs */
    uint64_t map_task_id; /* = the TID that wrote it */
    uint64_t *sizes;      /* stored bytes per reduce partition */
} map_output;

typedef struct shuffle_rec {
    int shuffle_id;
    int nmaps;
    int nreduce;
    map_output *outs;
} shuffle_rec;

enum { ST_IDLE = 0, ST_WAITING = 1, ST_RUNNING = 2, ST_DONE = 3 };

typedef struct stage {
    int id;
    int attempt;
    int is_map;
    int shuffle_id; /* map stage: the shuffle it writes */
    int root;       /* plan node computed by the stage */
    int nparts;     /* partitions of the root */
    int out_parts;  /* map stage: reduce partitions */
    uint8_t *bin;
    size_t bin_len;
    int ninputs;
    int *inputs; /* shuffle ids read */
    int state;
    int ntasks;
    int *part_of;         /* task index -> partition */
    uint8_t *acc_applied; /* per task index: accumulators counted */
    taskset *ts;          /* the current attempt's tasks */
    int consecutive_failures;
    int ever_started;
    int64_t bin_bcast; /* the stage binary as a broadcast, or 0 */
    int64_t submitted_ms;
    char *fail_reason;
    struct job *job; /* job that currently drives it */
} stage;

typedef struct running {
    uint64_t tid;
    stage *st; /* NULL once its job ended */
    int task;  /* index in the stage's task set */
    int attempt;
    int stage_attempt;
    int exec;
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
    stage *result;
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
    int64_t started_ms;
    shuffle_rec *shuffles;
    int nshuffles;
    stage **stages; /* map stages, kept across jobs */
    int nstages;
    running *run;
    int nrun;
    job *cur;
    int next_job;
    int next_stage;
    uint64_t next_tid;
    int64_t job_wait_since;
    int64_t last_spec_check;
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
    int expected_cores;
    char *topology; /* "host=rack,host=rack" */
    char plugins_sig[2048];
};

/* driver.c */
void job_fail(driver *d, struct job *j, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
void driver_live_changed(driver *d);
int exec_index(driver *d, const char *id);

/* dag.c */
shuffle_rec *shuffle_get(driver *d, int id);
int shuffle_available(const shuffle_rec *s);
stage *map_stage_for(driver *d, int shuffle_id);
const plan_node *node_get(const job_spec *spec, int id);
void stage_free(stage *st);
void submit_stage(driver *d, stage *st, struct job *j);
void wake_waiting(driver *d, struct job *j);
int stage_missing_parents(driver *d, stage *st);
void job_start(driver *d, struct job *j);
void job_finish(driver *d, struct job *j);
void lose_outputs(driver *d, int exec);
void unregister_output(driver *d, int shuffle_id, uint64_t map_task_id);
void stage_completed(driver *d, stage *st);
/* event log helpers */
void ev_stage_submitted(driver *d, const stage *st);
void ev_stage_completed(driver *d, const stage *st);

#endif
