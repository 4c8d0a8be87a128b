/*
 * plan_kind.h -- the kinds of plan node, one definition for C and Lua.
 *
 * A job is a list of plan nodes (driver.h's plan_node); the kind says how
 * the DAG scheduler treats a node and how a task computes it:
 *   SOURCE   partitions read or made from nothing (files, parallelize)
 *   NARROW   each partition from the same partition of its parent(s)
 *   SHUFFLE  a stage boundary: map tasks write, reduce tasks read
 *   UNION    the partitions of its parents, one after the other
 * The X-macro yields the C enum (NODE_SOURCE, ...) here and the Lua table
 * {SOURCE = 1, ...} that the bindings export (lua/lmodules.c), so the
 * planner (lua/rdd.lua, lua/df/compile.lua), the executors (lua/exec.lua)
 * and the scheduler (core/sched/dag.c) read one list.  The numbers travel
 * in stage binaries: never renumber a kind.
 */
#ifndef EMBER_SCHED_PLAN_KIND_H
#define EMBER_SCHED_PLAN_KIND_H

#define PLAN_NODE_KINDS(X)                                                     \
    X(SOURCE, 1)                                                               \
    X(NARROW, 2)                                                               \
    X(SHUFFLE, 3)                                                              \
    X(UNION, 4)

enum {
#define PLAN_KIND_ENUM(name, value) NODE_##name = value,
    PLAN_NODE_KINDS(PLAN_KIND_ENUM)
#undef PLAN_KIND_ENUM
};

#endif
