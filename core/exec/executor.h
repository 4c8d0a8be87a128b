/*
 * executor.h -- the executor process: `ember executor --driver EP ...`.
 */
#ifndef EMBER_EXEC_EXECUTOR_H
#define EMBER_EXEC_EXECUTOR_H

#include "task_runner.h"

/* Run an executor until the driver stops it, stops answering, or a signal
 * arrives.  argv[0] is the command's name ("executor"), the options follow
 * (see the usage text in executor.c); the caller's cluster manager passes
 * them.  Tasks run through runner (borrowed; must outlive the call).
 * Returns the process exit status: 0 after a normal stop or --help, 1 for
 * bad arguments or a failed start, 2 when the driver went away. */
int executor_main(int argc, char **argv, const task_runner *runner);

#endif
