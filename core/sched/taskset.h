/*
 * taskset.h -- the tasks of one stage attempt: which task goes to which
 * slot (locality levels with delay scheduling), retries and speculation.
 * Spark's TaskSetManager; pure logic with an explicit clock, so it is
 * tested deterministically (tests/unit/test_taskset.c).
 *
 * Threads: owned by the driver's loop thread.
 */
#ifndef EMBER_SCHED_TASKSET_H
#define EMBER_SCHED_TASKSET_H

#include <stdint.h>

/* Locality levels, best first (Spark's TaskLocality). */
enum {
    LOC_PROCESS_LOCAL = 0,
    LOC_NODE_LOCAL = 1,
    LOC_NO_PREF = 2,
    LOC_RACK_LOCAL = 3,
    LOC_ANY = 4,
    LOC_NLEVELS = 5
};

const char *locality_name(int level);

typedef struct ts_config {
    int64_t wait_ms[LOC_NLEVELS]; /* per level; NO_PREF and ANY are 0 */
    int max_failures;             /* task.maxFailures */
    int speculation;              /* speculation */
    double spec_multiplier;       /* speculation.multiplier */
    double spec_quantile;         /* speculation.quantile */
    int64_t spec_min_ms;          /* speculation.minTaskRuntime */
} ts_config;

void ts_config_default(ts_config *c);

/* A live executor as the task set sees it. */
typedef struct ts_exec {
    const char *id;
    const char *host;
    const char *rack; /* NULL: unknown */
} ts_exec;

typedef struct taskset taskset;

taskset *taskset_new(int ntasks, const ts_config *cfg, int64_t now);
void taskset_destroy(taskset **ts);

/* Preferences of task i (copied).  Call before the first offer. */
int taskset_prefer_exec(taskset *ts, int task, const char *exec_id);
int taskset_prefer_host(taskset *ts, int task, const char *host);
int taskset_prefer_rack(taskset *ts, int task, const char *rack);

/* The live executors changed: recompute the valid locality levels. */
void taskset_set_executors(taskset *ts, const ts_exec *execs, int n);

/* Tasks already done elsewhere (map outputs that still exist). */
void taskset_mark_done(taskset *ts, int task);

/* Offer one slot on exec with at most max_level locality (the scheduler
 * makes one pass per valid level, best first, as Spark does).  Returns the
 * task index to launch, or -1; *level receives the task's locality and
 * *speculative whether it is a speculative copy. */
int taskset_offer(taskset *ts, const ts_exec *exec, int max_level, int64_t now,
                  int *level, int *speculative);

/* The valid locality levels, best first; returns how many. */
int taskset_levels(const taskset *ts, int *levels);
/* The level delay scheduling currently allows. */
int taskset_allowed_level(taskset *ts, int64_t now);

/* Outcomes.  attempt is what the task set returned at launch (the
 * attempt number of that index). */
/* Returns 1 if this success is the first for the task (use its result),
 * 0 if another attempt already succeeded (drop it). */
int taskset_succeeded(taskset *ts, int task, int64_t now, int64_t run_ms);
/* A failed attempt: counted failures reach max_failures → returns 1 (abort
 * the stage); otherwise the task is pending again and 0 is returned.
 * counted=0 for failures that are not the task's fault (lost executor). */
int taskset_failed(taskset *ts, int task, int counted);
/* The task's running copy on exec ended without a status (lost). */
void taskset_attempt_lost(taskset *ts, int task);
/* A finished task's output was lost (map output on a lost executor). */
void taskset_resubmit(taskset *ts, int task);

/* Speculation: mark stragglers; returns how many became speculatable. */
int taskset_check_speculation(taskset *ts, int64_t now);

int taskset_ntasks(const taskset *ts);
int taskset_pending(const taskset *ts);   /* not yet launched */
int taskset_running(const taskset *ts);   /* running copies */
int taskset_remaining(const taskset *ts); /* not yet succeeded */
int taskset_failures(const taskset *ts, int task);
int taskset_attempts(const taskset *ts, int task);
int taskset_is_done(const taskset *ts, int task);
/* Copies running right now of task (for killing losers). */
int taskset_running_copies(const taskset *ts, int task);

#endif
