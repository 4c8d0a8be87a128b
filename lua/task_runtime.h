/*
 * task_runtime.h -- the Lua task runner: running one task in a task
 * thread's own lua_State.
 *
 * A task_env is one task thread's Lua state, with the executor-side runtime
 * (exec.lua and the C primitives of its `rt` table) loaded.  Its run
 * decodes the stage, evaluates the partition and fills the status message
 * (result block, map output sizes, or the error with the user's
 * traceback).  The executor (core/exec) knows it only as a task_runner;
 * `ember executor` passes this one to executor_main().
 */
#ifndef EMBER_LUA_TASK_RUNTIME_H
#define EMBER_LUA_TASK_RUNTIME_H

#include "exec/task_runner.h"

/* The Lua runtime's task_runner (see core/exec/task_runner.h). */
extern const task_runner task_runtime_lua;

#endif
