/*
 * blockfetch.h -- one task thread's client for blocks held elsewhere:
 * shuffle blocks on other executors' block servers (or in our own local
 * directory) and broadcast values on the driver's block server.
 *
 * A blockfetch keeps one client socket per block server it has talked to,
 * opened on first use and kept for the next task; a socket that fails or
 * times out is closed and reopened by the next request.  Endpoints come as
 * the executors advertise them: "tcp://h:p", or "tcp://h:p;shm://name" when
 * the executor also serves transport.data; the second part is used only
 * when the peer is on this host (same address as our own block endpoint).
 *
 * Threads: a blockfetch belongs to one task thread (the executor makes one
 * per thread and lends it to that thread's task_env).
 */
#ifndef EMBER_EXEC_BLOCKFETCH_H
#define EMBER_EXEC_BLOCKFETCH_H

#include "exec_ctx.h"
#include "rpc/msg.h"
#include "util/buf.h"

#include <ember/plugin.h>
#include <stdint.h>

typedef struct blockfetch blockfetch;

/* A client for the task thread; ctx is borrowed and must outlive it.
 * Reads network.timeout (how long one request may wait for its answer).
 * NULL only when out of memory. */
blockfetch *blockfetch_new(const exec_ctx *ctx, ember_error *err);
/* Close every socket and free.  Accepts NULL; clears the pointer. */
void blockfetch_destroy(blockfetch **bf);

/* Append block (shuffle_id, loc->map_task_id, reduce_id) to out as stored
 * (blockcodec frames): read from the local directory when loc is this
 * executor, else asked of loc's block server.  shuffle_id may be
 * MSG_FETCH_BCAST or MSG_FETCH_RESULT (then loc names the driver or the
 * executor keeping the value).  Bytes that came over transport.data are
 * added to *data_bytes (may be NULL).  Returns 0; EMBER_ETIMEOUT when the
 * server does not answer within network.timeout; the server's error code
 * and message; or a transport error. */
int blockfetch_get(blockfetch *bf, const msg_maploc *loc, int shuffle_id,
                   int reduce_id, buf *out, int64_t *data_bytes,
                   ember_error *err);

/* Append the raw bytes of broadcast id to raw: from this executor's block
 * manager (block -id), else fetched from the driver and kept there
 * (MEMORY_AND_DISK_SER), so a value is fetched at most once per executor
 * (one fetch at a time per process).  Returns 0 or the fetch's error. */
int blockfetch_broadcast(blockfetch *bf, int64_t id, buf *raw,
                         ember_error *err);

#endif
