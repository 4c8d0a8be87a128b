/*
 * task_runtime.h -- running one task in a task thread's own lua_State.
 *
 * A task_env is one task thread's Lua state (with the executor-side runtime
 * loaded) plus its client connections to other executors' block servers.
 * task_env_run() decodes the stage, evaluates the partition and fills the
 * status message (result block, map output sizes, or the error with the
 * user's traceback).
 */
#ifndef EMBER_LUA_TASK_RUNTIME_H
#define EMBER_LUA_TASK_RUNTIME_H

#include "exec/exec_ctx.h"
#include "rpc/msg.h"

typedef struct task_env task_env;

task_env *task_env_new(const exec_ctx *ctx, ember_error *err);
void task_env_destroy(task_env **te);
/* Run a task; always fills *st (FINISHED or FAILED). */
void task_env_run(task_env *te, const msg_launch *task, const uint8_t *stage,
                  size_t stage_len, msg_status *st);
/* Any thread: make the task running in te (if it is tid) stop at its next
 * Lua instruction check, reporting TASK_KILLED. */
void task_env_kill(task_env *te, uint64_t tid);

/* Any thread: the progress of the task running in te; 0 if none. */
int task_env_progress(task_env *te, msg_task_metrics *out);

/* The raw bytes of broadcast id (fetched from the driver at most once
 * per executor, then kept in its block manager), appended to raw. */
int task_env_broadcast(task_env *te, int64_t id, buf *raw, ember_error *err);

/* Path of a stored task result in the executor's local directory. */
void task_result_path(char *out, size_t n, const char *local_dir, uint64_t tid);

#endif
