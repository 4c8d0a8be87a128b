/*
 * dag_plans.h -- job plans the scheduler tests share (test_dag.c through
 * the driver, test_dag_outcomes.c against dag.c alone).
 */
#ifndef EMBER_TESTS_DAG_PLANS_H
#define EMBER_TESTS_DAG_PLANS_H

#include "sched/jobspec.h"

#include <string.h>

static __attribute__((unused)) int par0[] = {0}, par1[] = {1}, par2[] = {2};

/* source(M) -> narrow -> shuffle(R) -> narrow: a map stage and a result
 * stage; the shuffle id is the shuffle node's id (2). */
static __attribute__((unused)) void two_stage(job_spec *spec, plan_node *nodes,
                                              int nmaps, int nreduce)
{
    memset(nodes, 0, 4 * sizeof *nodes);
    nodes[0] = (plan_node){.id = 0,
                           .kind = NODE_SOURCE,
                           .nparts = nmaps,
                           .payload = (uint8_t *)"src",
                           .payload_len = 3};
    nodes[1] = (plan_node){.id = 1,
                           .kind = NODE_NARROW,
                           .nparts = nmaps,
                           .nparents = 1,
                           .parents = par0,
                           .payload = (uint8_t *)"map",
                           .payload_len = 3};
    nodes[2] = (plan_node){.id = 2,
                           .kind = NODE_SHUFFLE,
                           .nparts = nreduce,
                           .nparents = 1,
                           .parents = par1,
                           .payload = (uint8_t *)"shuffle",
                           .payload_len = 7};
    nodes[3] = (plan_node){.id = 3,
                           .kind = NODE_NARROW,
                           .nparts = nreduce,
                           .nparents = 1,
                           .parents = par2,
                           .payload = (uint8_t *)"reduce",
                           .payload_len = 6};
    memset(spec, 0, sizeof *spec);
    spec->nnodes = 4;
    spec->nodes = nodes;
    spec->root = 3;
    spec->action = (const uint8_t *)"collect";
    spec->action_len = 7;
    spec->description = "collect at test_dag.c";
}

/* source(N) -> narrow: one result stage. */
static __attribute__((unused)) void one_stage(job_spec *spec, plan_node *nodes,
                                              int nparts, const char **prefs)
{
    memset(nodes, 0, 2 * sizeof *nodes);
    nodes[0] = (plan_node){.id = 0,
                           .kind = NODE_SOURCE,
                           .nparts = nparts,
                           .payload = (uint8_t *)"src",
                           .payload_len = 3,
                           .prefs = prefs};
    nodes[1] = (plan_node){.id = 1,
                           .kind = NODE_NARROW,
                           .nparts = nparts,
                           .nparents = 1,
                           .parents = par0,
                           .payload = (uint8_t *)"map",
                           .payload_len = 3};
    memset(spec, 0, sizeof *spec);
    spec->nnodes = 2;
    spec->nodes = nodes;
    spec->root = 1;
    spec->action = (const uint8_t *)"count";
    spec->action_len = 5;
    spec->description = "count at test_dag.c";
}

#endif
