/*
 * task_runner.h -- how the executor runs a task without knowing in what.
 *
 * The executor (executor.c) owns its threads, the task queue, the driver
 * connection, the block servers and the per-thread block clients.  What a
 * task is -- decoding the stage binary, running its pipeline over one
 * partition, filling the status -- belongs to a task runner: a table of
 * functions handed to executor_main() by the program that starts the
 * executor.  `ember` passes the Lua runtime's (lua/task_runtime.h), the
 * way it hands the driver to the Lua binding; core/ itself links no Lua.
 *
 * task_env is the runner's type (this header only names it): one per task
 * thread, kept for every task the thread runs.
 *
 * Contract with the runner:
 *   - env_new, run and env_destroy are called on the owning task thread
 *     only.  kill and progress are called on the control thread, under the
 *     executor's lock, while run may be under way on the owner: they must
 *     be safe against it (atomics, or a lock of the env's own).
 *   - run always fills st: TASK_FINISHED (result block or map output
 *     sizes), TASK_FAILED (fail_kind, message, traceback) or TASK_KILLED.
 *     A result block larger than ctx->max_direct_result is written to
 *     task_result_path() instead of st->result, with st->indirect_size set;
 *     the executor's block server serves it once, then removes it.
 *   - bf (env_new) is the thread's block client, borrowed for the env's
 *     life: shuffle reads and broadcasts go through it.
 */
#ifndef EMBER_EXEC_TASK_RUNNER_H
#define EMBER_EXEC_TASK_RUNNER_H

#include "blockfetch.h"
#include "exec_ctx.h"
#include "rpc/msg.h"

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

typedef struct task_env task_env; /* defined by the runner */

typedef struct task_runner {
    /* A task thread's environment; NULL with err set when it cannot be
     * made (the thread then fails every task it takes with err's message). */
    task_env *(*env_new)(const exec_ctx *ctx, blockfetch *bf, ember_error *err);
    /* Free; accepts NULL and clears the pointer. */
    void (*env_destroy)(task_env **te);
    /* Run one task of the stage whose binary is stage/stage_len (borrowed);
     * always fills *st (zeroed by the caller, task_id set). */
    void (*run)(task_env *te, const msg_launch *task, const uint8_t *stage,
                size_t stage_len, msg_status *st);
    /* Any thread: if te is running task tid, make it stop soon and report
     * TASK_KILLED. */
    void (*kill)(task_env *te, uint64_t tid);
    /* Any thread: the progress of the task te is running (for heartbeats);
     * returns 1 with *out filled, 0 when te is idle. */
    int (*progress)(task_env *te, msg_task_metrics *out);
} task_runner;

/* Path of a stored (indirect) task result in the executor's local
 * directory. */
void task_result_path(char *out, size_t n, const char *local_dir, uint64_t tid);

#endif
