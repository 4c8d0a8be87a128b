/*
 * dag.h -- the DAG scheduler: shuffles, stages, stage attempts and the
 * map-output tracker (Spark's DAGScheduler and MapOutputTracker), as the
 * driver sees them.
 *
 * A job's plan is cut at shuffle nodes into a result stage and map stages
 * (kept across jobs, so a later job whose shuffle output still exists skips
 * them).  The driver tells the DAG what happened (a job arrived, a stage's
 * tasks all succeeded, a fetch failed, an executor was lost) and the dag_*
 * call returns what follows as a dag_outcome: the stage attempts submitted
 * and completed, in order; whether the job's result stage is complete; or
 * that the job must fail, and why.  The DAG never calls back into the
 * driver; what it needs of the cluster (executors, cached partitions, the
 * clocks) comes in a dag_env the driver fills for the call.
 *
 * Each submitted stage attempt gets a task set (taskset.h) with one task
 * per missing partition and its locality preferences; the driver offers
 * slots to it and reports task outcomes to it directly.
 *
 * Threads: one thread (the driver's loop) owns a dag.
 */
#ifndef EMBER_SCHED_DAG_H
#define EMBER_SCHED_DAG_H

#include "jobspec.h"
#include "taskset.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dag dag;

/* ------------------------------------------------------ the cluster view */

/* An executor, at its index in the driver's executor table. */
typedef struct dag_exec {
    const char *id;
    const char *host;
    const char *rack; /* NULL: unknown */
    int alive;
} dag_exec;

/* A cached partition (the block-manager master's table). */
typedef struct dag_cached {
    int node;
    int part;
    int exec; /* executor index */
} dag_cached;

/* What a dag_* call may need of the world; borrowed for the call. */
typedef struct dag_env {
    const dag_exec *execs;
    int nexecs;
    const dag_cached *cached;
    int ncached;
    const char *driver_host; /* a "localhost" preference means this host */
    int64_t now_ms;          /* monotonic: the task sets' clock */
    int64_t wall_ms;         /* wall clock: submission times */
} dag_env;

/* ------------------------------------------------- shuffles and stages */

typedef struct dag_output {
    int valid;
    int exec;             /* executor index */
    uint64_t map_task_id; /* = the TID that wrote it */
    uint64_t *sizes;      /* stored bytes per reduce partition */
} dag_output;

typedef struct dag_shuffle {
    int shuffle_id; /* = the shuffle node's id */
    int nmaps;
    int nreduce;
    dag_output *outs; /* per map partition */
} dag_shuffle;

enum { DAG_IDLE = 0, DAG_WAITING = 1, DAG_RUNNING = 2, DAG_DONE = 3 };

/* A stage.  dag.c writes every field except the two marked "driver's";
 * the driver reads them and drives the task set. */
typedef struct dag_stage {
    int id;
    int attempt; /* the current (or last) attempt */
    int is_map;
    int shuffle_id; /* map stage: the shuffle it writes; -1 otherwise */
    int root;       /* plan node computed by the stage */
    int nparts;     /* partitions of the root */
    int out_parts;  /* map stage: reduce partitions */
    uint8_t *bin;   /* the stage as executors decode it */
    size_t bin_len;
    int ninputs;
    int *inputs; /* shuffle ids read */
    int nparents;
    int *parents; /* the map stages writing them: stage ids */
    int state;    /* DAG_* */
    int ntasks;
    int *part_of; /* task index -> partition */
    taskset *ts;  /* the current attempt's tasks, while submitted */
    int active;   /* driven by the current job */
    int64_t submitted_ms;
    /* driver's: per task, accumulator updates counted */
    uint8_t *acc_applied;
    /* driver's: the binary as a broadcast, or 0 */
    int64_t bin_bcast;
    /* dag.c only */
    uint8_t *finished; /* result stage: partitions the driver holds */
    int consecutive_failures;
    int ever_started;
} dag_stage;

/* ------------------------------------------------------------ outcomes */

/* A stage attempt at one moment (a copy: later changes do not show). */
typedef struct dag_stage_info {
    int id;
    int attempt;
    int is_map;
    int ntasks;
    const char *description; /* result stage: the job's, or NULL */
    const int *parents;      /* parent stage ids (borrowed from the stage) */
    int nparents;
    int64_t submitted_ms; /* wall clock */
    uint64_t bin_len;
    char *fail_reason; /* completed: why it failed, or NULL (owned) */
} dag_stage_info;

enum { DAG_SUBMITTED = 1, DAG_COMPLETED = 2 };

typedef struct dag_note {
    int kind; /* DAG_SUBMITTED or DAG_COMPLETED */
    dag_stage_info info;
} dag_note;

/* What a call changed.  Zero it before the first call (several calls may
 * add to one outcome), free it with dag_outcome_free. */
typedef struct dag_outcome {
    dag_note *notes; /* stage attempts submitted / completed, in order */
    int nnotes;
    int result_done; /* the job's result stage has every partition */
    char *fail;      /* the job must fail: why (first reason kept) */
    int lost;        /* map outputs forgotten */
} dag_outcome;

void dag_outcome_free(dag_outcome *o);

/* One stage of a job, for the job-start event. */
typedef struct dag_job_stage {
    int id;
    int is_map;
    int ntasks;
    int skipped; /* a map stage whose output exists */
} dag_job_stage;

/* ------------------------------------------------------------------ API */

/* cfg is copied; max_stage_attempts is stage.maxConsecutiveAttempts. */
dag *dag_new(const ts_config *cfg, int64_t max_stage_attempts);
/* Frees every stage and shuffle; accepts NULL. */
void dag_destroy(dag **g);

/* Plan a job (spec borrowed until dag_job_end): build its result stage
 * and any map stage it lacks.  0, or -1 with out->fail set. */
int dag_job_start(dag *g, const job_spec *spec, int job_id, dag_outcome *out);
/* The stages the job uses, result stage last (malloc'd; *n entries). */
dag_job_stage *dag_job_stages(const dag *g, int *n);
/* Submit the job's result stage (and, first, the parents it misses).  A
 * job with no result partition is complete at once (out->result_done). */
void dag_job_submit(dag *g, const dag_env *env, dag_outcome *out);
/* The job ended: its stages stop, the result stage is freed. */
void dag_job_end(dag *g);
dag_stage *dag_result(const dag *g);

/* Stages that may run: map stages, then the current result stage. */
int dag_nstages(const dag *g);
dag_stage *dag_stage_at(const dag *g, int i);
const dag_shuffle *dag_shuffle_get(const dag *g, int shuffle_id);
/* How many shuffles the stage reads are incomplete. */
int dag_parents_missing(const dag *g, const dag_stage *st);
/* A running stage lost an input: wait for it to be recomputed. */
void dag_resubmit(dag *g, dag_stage *st, const dag_env *env, dag_outcome *out);
/* The live executors changed: tell every task set. */
void dag_set_executors(dag *g, const dag_env *env);
/* A snapshot of a stage (info->fail_reason NULL). */
void dag_stage_describe(const dag *g, const dag_stage *st,
                        dag_stage_info *info);

/* Task outcomes.  A map task's output (sizes: out_parts entries, copied);
 * an existing output of that partition is replaced. */
void dag_map_output(dag *g, dag_stage *st, int task, int exec,
                    uint64_t map_task_id, const uint64_t *sizes);
/* The driver holds result partition `task` of the result stage. */
void dag_result_held(dag_stage *st, int task);
/* Every task of the stage's attempt succeeded. */
void dag_stage_completed(dag *g, dag_stage *st, const dag_env *env,
                         dag_outcome *out);
/* A task of st could not fetch map output map_task_id of shuffle_id,
 * written on executor lost_exec (-1: unknown): forget that output and every
 * output of that executor, fail this attempt of st (reason: the task's
 * failure), then resubmit it, or fail the job after
 * stage.maxConsecutiveAttempts. */
void dag_fetch_failed(dag *g, dag_stage *st, int shuffle_id,
                      uint64_t map_task_id, int lost_exec, const char *reason,
                      const dag_env *env, dag_outcome *out);
/* Executor exec is gone: forget its map outputs (counted in out->lost). */
void dag_lose_outputs(dag *g, int exec, const dag_env *env, dag_outcome *out);

#endif
