/*
 * jobspec.h -- a job as the Lua planner hands it to the driver: the plan
 * nodes of its lineage (ids, kinds, parents, opaque payloads, locality
 * preferences) and the action.  Plain data, borrowed by the scheduler for
 * the duration of the job; shared by the driver (driver.h) and the DAG
 * scheduler (dag.h), which depends on nothing else of the driver's.
 */
#ifndef EMBER_SCHED_JOBSPEC_H
#define EMBER_SCHED_JOBSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "plan_kind.h" /* NODE_SOURCE, NODE_NARROW, NODE_SHUFFLE, NODE_UNION */

typedef struct plan_node {
    int id;
    int kind;
    int nparts;
    int nparents;
    int *parents;     /* node ids */
    uint8_t *payload; /* encoded Lua description, opaque to the driver */
    size_t payload_len;
    const char **prefs; /* sources: preferred host per partition, or NULL;
                           "localhost" means the driver's host */
    int cache_level;    /* persisted: a LEVEL_* of blockmgr.h, 0 = none */
} plan_node;

typedef struct job_spec {
    int nnodes;
    plan_node *nodes; /* borrowed */
    int root;         /* node id */
    const uint8_t *action;
    size_t action_len;
    int npartitions; /* result partitions to compute; 0 = all */
    const int *partitions;
    const char *description; /* e.g. "collect at job.lua:12" */
} job_spec;

#endif
