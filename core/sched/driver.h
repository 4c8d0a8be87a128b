/*
 * driver.h -- the driver: executor registry, DAG scheduler, task
 * scheduler and map-output tracker, run by one event-loop thread.
 *
 * The Lua script (main thread) describes a job as a list of plan nodes and
 * calls driver_run_job(), which hands the job to the loop thread and waits.
 * The loop thread owns all scheduling state (no locks in scheduling logic);
 * the only shared structure is the submission slot guarded by d->mu.
 */
#ifndef EMBER_SCHED_DRIVER_H
#define EMBER_SCHED_DRIVER_H

#include "jobspec.h"

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

struct conf;

typedef struct job_result {
    int job_id;
    int nparts;
    uint8_t **blocks; /* per requested partition: encoded result block */
    size_t *lens;
    int64_t elapsed_us;
    int nstages;
    int ntasks;
    /* accumulator updates of the tasks that counted (encoded Lua values),
       also filled when the job fails */
    int naccum;
    uint8_t **accum;
    size_t *accum_lens;
} job_result;

typedef struct driver driver;

/* Start: load the transport, listen, start executors through the cluster
 * manager chosen by the master URL, start the loop thread. */
driver *driver_new(const struct conf *c, const char *app_name,
                   ember_error *err);
/* Run one job to completion.  On failure returns EMBER_ETASK (or another
 * code) with err->msg holding the full report; res then holds only the
 * accumulator updates (free it with job_result_free either way). */
int driver_run_job(driver *d, const job_spec *spec, job_result *res,
                   ember_error *err);
void job_result_free(job_result *r);
/* Stop executors, join the loop thread, free. Accepts NULL. */
void driver_destroy(driver **d);

int driver_total_cores(driver *d); /* cores registered or expected */
const char *driver_app_id(const driver *d);
const char *driver_master(const driver *d);
/* The application's io key (io.encryption.enabled; BLOCKCODEC_KEY_BYTES
 * bytes, borrowed for the driver's life), or NULL.  The driver seals and
 * opens the frames it handles (broadcasts, results) with it: a process may
 * run several applications, so this key is not the process's. */
const uint8_t *driver_io_key(const driver *d);
/* Cached partitions known to the block-manager master: calls fn for each
 * (node, partition, executor id, level, memory bytes, disk bytes). */
void driver_storage_info(driver *d,
                         void (*fn)(void *ud, int node, int part,
                                    const char *exec, int level, uint64_t mem,
                                    uint64_t disk),
                         void *ud);
/* Drop a dataset's cached blocks everywhere (asynchronous). */
void driver_unpersist(driver *d, int node);

/* Broadcast variables: keep an encoded value (id in *id), drop executors'
 * copies (unpersist), forget it (destroy), count executor fetches. */
int driver_broadcast_put(driver *d, const void *raw, size_t len, int64_t *id,
                         ember_error *err);
void driver_broadcast_unpersist(driver *d, int64_t id);
void driver_broadcast_destroy(driver *d, int64_t id);
int64_t driver_broadcast_fetches(driver *d, int64_t id);

/* The event log file (final name), or NULL when eventLog.enabled is off. */
const char *driver_eventlog_path(const driver *d);

#endif
