/*
 * rt_int.h -- the task runtime's private interface: callable only by
 * task_runtime.c and the lua/rt_*.c files.
 *
 * The runtime is the C side of exec.lua's `rt` table, split by concern:
 *
 *   task_runtime.c      a task thread's lua_State (task_env), the error
 *                       model, the rt table, running one task
 *   rt_alloc.c          the lua_State's small-block allocator
 *   rt_values.c         rt.encode/decode/key/partition: the value codec
 *   rt_ops.c            plugin operators: sources, sinks, transforms, and
 *                       what a task lends them (ember_task_info)
 *   rt_shuffle_read.c   rt.read_shuffle: map outputs into Lua
 *   rt_shuffle_write.c  rt.writer: this task's map output
 *   rt_storage.c        cached partitions, broadcasts, checkpoints
 *   rt_agg.c            RDD aggregations' memory account and spill files
 *
 * Every Lua C function here runs on the task thread that owns the
 * lua_State; rt_env() finds its task_env.
 */
#ifndef EMBER_LUA_RT_INT_H
#define EMBER_LUA_RT_INT_H

#include "task_runtime.h"

#include "util/buf.h"

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Registry keys: exec.lua's STOP sentinel (a task that stops early, not an
 * error) and the error handler that rt_pcall() puts under its calls.  (Named
 * as before the split: task_env_new's chunk-loading code uses them.) */
#define STOP_KEY "ember.STOP"
#define HANDLER_KEY "ember.handler"

/* ------------------------------------------------------------- rt_alloc.c */

/* A lua_State's allocator state: small blocks recycled through per-size
 * free lists carved from 64 KiB chunks (one thread, no locks). */
#define RT_POOL_CLASSES 16 /* 16-byte classes up to 256 bytes */

typedef struct rt_pool {
    void *free[RT_POOL_CLASSES];
    void **chunks;
    size_t nchunks;
    char *bump;
    size_t bump_left;
} rt_pool;

/* The lua_Alloc of a task's lua_State; ud is its rt_pool. */
void *rt_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Free every chunk (after lua_close) and zero the pool. */
void rt_pool_free_all(rt_pool *p);

/* ------------------------------------------------------- the task's state */

struct aggmem;   /* rt_agg.c */
struct aggspill; /* rt_agg.c */

struct task_env {
    const exec_ctx *ctx;
    lua_State *L;
    int run_ref;    /* exec.lua's run_task */
    int stages_ref; /* stage id -> decoded stage */
    blockfetch *bf; /* the thread's block client (borrowed) */
    const msg_launch *task;
    int64_t shuffle_read_bytes;
    int64_t shuffle_write_bytes;
    int64_t records_in;
    int64_t spilled;    /* bytes this task spilled to disk */
    int64_t data_bytes; /* shuffle bytes fetched over transport.data */
    buf scratch;
    rt_pool alloc;             /* the lua_State's small-object pool */
    _Atomic uint64_t current;  /* task id running now, 0 = none */
    _Atomic uint64_t kill_tid; /* task id asked to stop */
    /* progress, published for heartbeats */
    _Atomic int64_t prog_records;
    _Atomic int64_t prog_memory;
    _Atomic int64_t prog_start_ms;
    /* numeric accumulator partials, snapshotted by the hook */
    pthread_mutex_t snap_mu;
    int snap_n;
    int64_t snap_id[MSG_MAX_ACC];
    double snap_val[MSG_MAX_ACC];
    int64_t snap_ms;
    /* operator counters of this task (ember_task_info.add_counter) */
    int ncounters;
    char counter_name[8][32];
    int64_t counter_val[8];
    /* RDD aggregations' memory accounts and spill files still open */
    struct aggmem *aggmems;
    struct aggspill *aggspills;
    unsigned long long agg_seq;
};

/* The task_env of the lua_State L (kept in its extra space). */
static inline task_env *rt_env(lua_State *L)
{
    return *(task_env **)lua_getextraspace(L);
}

/* ------------------------------------------------------- task_runtime.c */

/* Call the function at the top with nargs args under the handler.
 * Returns 0 or the pcall status with the processed error (an ember error
 * table, or the STOP sentinel) at the top. */
int rt_pcall(lua_State *L, int nargs);
/* Raise an ember error table {__ember_err, msg, tb} with a formatted
 * message and the user's traceback.  Does not return. */
int rt_raise(lua_State *L, const char *fmt, ...);

/* ---------------------------------------------- the rt table's functions */

/* rt_values.c */
int rt_encode(lua_State *L);
int rt_decode(lua_State *L);
int rt_key(lua_State *L);
int rt_partition(lua_State *L);

/* rt_ops.c */
int rt_run_source(lua_State *L);
int rt_sink_open(lua_State *L);
int rt_transform_open(lua_State *L);
int rt_keep(lua_State *L);
int rt_take_counter(lua_State *L);
/* The "ember.Operator" metatable (once per lua_State). */
void rt_op_register(lua_State *L);

/* rt_shuffle_read.c */
int rt_read_shuffle(lua_State *L);

/* rt_shuffle_write.c */
int rt_writer(lua_State *L);
/* The "ember.ShuffleWriter" metatable (once per lua_State). */
void rt_writer_register(lua_State *L);

/* rt_storage.c */
int rt_cache_get(lua_State *L);
int rt_cache_put(lua_State *L);
int rt_bcast_get(lua_State *L);
int rt_checkpoint_write(lua_State *L);
int rt_checkpoint_read(lua_State *L);

/* rt_agg.c */
int rt_agg_memory(lua_State *L);
int rt_agg_spill(lua_State *L);
/* The "ember.AggMemory" and "ember.AggSpill" metatables. */
void rt_agg_register(lua_State *L);
/* Task epilogue: give back what the task's aggregations still hold
 * (memory, spill files), without waiting for the collector. */
void rt_agg_task_end(task_env *te);

#endif
