/*
 * eventlog.h -- the application's event log: JSON lines, one event per
 * line, with Spark's event and field names where the meaning matches
 * (SparkListenerJobStart, "Job ID", ...).  Written while the application
 * runs to DIR/APP_ID.inprogress, renamed to DIR/APP_ID at the end.
 *
 * This is the one place that knows an event's fields: callers hand over
 * plain values (the scheduler's own structs, borrowed for the call) and every
 * eventlog_* function builds and writes one event.  An eventlog that is
 * NULL (eventLog.enabled off) makes every call a no-op.
 *
 * Threads: any thread (one mutex around the file).
 */
#ifndef EMBER_SCHED_EVENTLOG_H
#define EMBER_SCHED_EVENTLOG_H

#include "dag.h"
#include "rpc/msg.h"

#include <ember/plugin.h>
#include <stdint.h>

typedef struct eventlog eventlog;

eventlog *eventlog_open(const char *dir, const char *app_id, ember_error *err);
/* Rename to the final name and free; accepts NULL. */
void eventlog_close(eventlog **el);
const char *eventlog_path(const eventlog *el);

/* A task attempt, for TaskStart / TaskEnd. */
typedef struct ev_task {
    int stage_id;
    int stage_attempt;
    int is_map;
    uint64_t tid;
    int index;
    int attempt;
    int partition;
    int64_t launch_ms; /* wall clock */
    const char *exec_id;
    const char *host;
    int locality; /* LOC_* of taskset.h */
    int speculative;
} ev_task;

void eventlog_app_start(eventlog *el, const char *app_name, const char *app_id,
                        const char *user, const char *master);
void eventlog_app_end(eventlog *el);
/* description may be NULL. */
void eventlog_job_start(eventlog *el, int job_id, const char *description,
                        const dag_job_stage *stages, int nstages);
/* error: NULL if the job succeeded. */
void eventlog_job_end(eventlog *el, int job_id, const char *error);
/* bin_broadcast: the stage's binary travels as a broadcast. */
void eventlog_stage_submitted(eventlog *el, const dag_stage_info *st,
                              int bin_broadcast);
void eventlog_stage_completed(eventlog *el, const dag_stage_info *st,
                              int bin_broadcast);
void eventlog_executor_added(eventlog *el, const char *exec_id,
                             const char *host, int cores, int64_t pid,
                             const char *block_endpoint);
void eventlog_executor_removed(eventlog *el, const char *exec_id,
                               const char *reason);
/* What a heartbeat said: memory and the running tasks' progress. */
void eventlog_metrics(eventlog *el, const char *exec_id,
                      const msg_heartbeat *hb);
void eventlog_task_start(eventlog *el, const ev_task *t);
/* reason: Spark's TaskEndReason ("Success", "TaskKilled", ...); desc and m
 * may be NULL (no status message: a lost or taken-back task). */
void eventlog_task_end(eventlog *el, const ev_task *t, const char *reason,
                       const char *desc, const msg_status *m);

/* Tests: the JSON text of a string or a double as the log writes it
 * (malloc'd, NULL on OOM). */
char *eventlog_json_string(const char *s);
char *eventlog_json_double(double v);

#endif
