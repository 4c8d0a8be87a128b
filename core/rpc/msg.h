/*
 * msg.h -- ember's wire messages.
 *
 * Every message starts with a 4-byte header: magic 'E' 'M', protocol
 * version (1), message type.  Fields follow as varints, length-prefixed
 * strings/bytes and fixed-width integers (little-endian), see msg.c.
 * Decoders are fully bounds-checked: a short, over-long or malformed message
 * gives EMBER_EPROTO with a message naming the type and what was wrong, and
 * decoded structs own their memory (free with the matching _free).
 *
 * Control messages (register, launch, status, heartbeat, stop, kill) travel
 * on the driver socket; bulk block transfer (fetch/block) on each
 * executor's separate block-server socket.
 */
#ifndef EMBER_RPC_MSG_H
#define EMBER_RPC_MSG_H

#include "util/buf.h"

#include <ember/plugin.h>
#include <stdint.h>

#define MSG_VERSION 1

enum msg_type {
    MSG_REGISTER = 1,
    MSG_REGISTERED = 2,
    MSG_LAUNCH = 3,
    MSG_STATUS = 4,
    MSG_HEARTBEAT = 5,
    MSG_HEARTBEAT_ACK = 6,
    MSG_STOP = 7,
    MSG_FETCH = 8,
    MSG_BLOCK = 9,
    MSG_KILL = 10,
    MSG_REMOVE_RDD = 11,
    MSG_REMOVE_BCAST = 12,
    MSG_TYPE_MAX = 12
};

const char *msg_type_name(int type);

/* Read the header; returns the type (> 0) or EMBER_EPROTO. */
int msg_peek_type(const void *data, size_t len, ember_error *err);
void msg_begin(buf *b, int type);

typedef struct msg_register {
    char *exec_id;
    char *host;
    int64_t pid;
    int cores;
    int64_t memory_mb;
    char *data_endpoint;
    char *plugins; /* "name version;name version;..." */
} msg_register;

typedef struct msg_registered {
    int ok;
    char *message;
    int64_t heartbeat_ms;
    int64_t timeout_ms;
    char *block_endpoint; /* the driver's block server (broadcasts) */
} msg_registered;

typedef struct msg_maploc {
    uint64_t map_task_id;
    char *exec_id;
    char *endpoint;
} msg_maploc;

typedef struct msg_shuffle_in {
    int shuffle_id;
    int nmaps;
    msg_maploc *maps;
} msg_shuffle_in;

enum { TASK_RESULT = 0, TASK_SHUFFLE_MAP = 1 };

typedef struct msg_launch {
    uint64_t task_id;
    int job_id;
    int stage_id;
    int stage_attempt;
    int partition;
    int attempt;
    int kind;           /* TASK_RESULT / TASK_SHUFFLE_MAP */
    int out_partitions; /* map tasks: reduce partitions */
    uint8_t *stage_bin; /* NULL if the executor has it already */
    size_t stage_len;
    int ninputs;
    msg_shuffle_in *inputs;
    uint64_t stage_bcast; /* large stage binaries: a broadcast id, else 0 */
} msg_launch;

enum { TASK_FINISHED = 1, TASK_FAILED = 2, TASK_KILLED = 3 };
enum { FAIL_USER = 0, FAIL_FETCH = 1, FAIL_INTERNAL = 2, FAIL_STAGE = 3 };

typedef struct msg_status {
    uint64_t task_id;
    int state;
    /* FINISHED: result block (result task) or reduce sizes (map task) */
    uint8_t *result;
    size_t result_len;
    int nsizes;
    uint64_t *sizes;
    /* FAILED */
    int fail_kind;
    char *message;
    char *traceback;
    int fetch_shuffle; /* FAIL_FETCH: which output was missing */
    uint64_t fetch_map_task;
    char *fetch_exec;
    /* metrics */
    int64_t run_us;
    int64_t records_in;
    int64_t records_out;
    int64_t shuffle_read_bytes;
    int64_t shuffle_write_bytes;
    /* appended in protocol version 1: */
    uint8_t *accum; /* encoded accumulator updates (successful tasks) */
    size_t accum_len;
    uint64_t indirect_size;   /* result kept in the executor's block store */
    int64_t peak_memory;      /* bytes of Lua heap at the task's peak */
    uint64_t result_raw_size; /* decoded size of the result (accounting) */
    uint8_t *blocks; /* cached-block changes (blockmgr_drain_updates) */
    size_t blocks_len;
    int64_t spill_bytes;          /* memory bytes spilled to disk */
    int64_t data_transport_bytes; /* shuffle bytes read over transport.data */
} msg_status;

/* shuffle_id MSG_FETCH_RESULT: fetch the task result map_task_id;
 * MSG_FETCH_BCAST: fetch broadcast value map_task_id (from the driver). */
#define MSG_FETCH_RESULT (-1)
#define MSG_FETCH_BCAST (-2)

typedef struct msg_fetch {
    int shuffle_id;
    uint64_t map_task_id;
    int reduce_id;
} msg_fetch;

typedef struct msg_block {
    int status; /* 0 or EMBER_E* */
    char *message;
    uint8_t *data; /* borrowed from the message buffer when decoded */
    size_t len;
} msg_block;

int msg_register_encode(buf *b, const msg_register *m);
int msg_register_decode(const void *p, size_t n, msg_register *m,
                        ember_error *err);
void msg_register_free(msg_register *m);

int msg_registered_encode(buf *b, const msg_registered *m);
int msg_registered_decode(const void *p, size_t n, msg_registered *m,
                          ember_error *err);
void msg_registered_free(msg_registered *m);

int msg_launch_encode(buf *b, const msg_launch *m);
int msg_launch_decode(const void *p, size_t n, msg_launch *m, ember_error *err);
void msg_launch_free(msg_launch *m);

/* The largest control message (register, status, heartbeat) a driver
 * accepts when task results of up to max_direct bytes travel inside status
 * updates: the result plus room for accumulators, errors and block
 * reports.  Executors turn a status that would not fit into a task
 * failure that says so. */
#define MSG_CONTROL_SLACK (16u << 20)
static inline uint64_t msg_control_max(uint64_t max_direct)
{
    return max_direct + MSG_CONTROL_SLACK;
}

int msg_status_encode(buf *b, const msg_status *m);
int msg_status_decode(const void *p, size_t n, msg_status *m, ember_error *err);
void msg_status_free(msg_status *m);

int msg_fetch_encode(buf *b, const msg_fetch *m);
int msg_fetch_decode(const void *p, size_t n, msg_fetch *m, ember_error *err);

/* The block header is encoded separately so the data can be sent as a
 * second part without a copy. */
int msg_block_encode_header(buf *b, int status, const char *message,
                            size_t len);
/* Decode: data points into p (borrowed). */
int msg_block_decode(const void *p, size_t n, msg_block *m, ember_error *err);
void msg_block_free(msg_block *m);

/* Heartbeat: liveness plus the progress of running tasks. */
#define MSG_MAX_ACC 8

typedef struct msg_task_metrics {
    uint64_t task_id;
    int64_t run_ms;
    int64_t records_in;
    int64_t memory; /* Lua heap bytes now */
    /* partial values of numeric accumulators this task has added to (for
       progress; the counted values arrive with the task's status) */
    int nacc;
    int64_t acc_id[MSG_MAX_ACC];
    double acc_value[MSG_MAX_ACC];
} msg_task_metrics;

typedef struct msg_heartbeat {
    char *exec_id;
    uint64_t seq;
    int64_t rss;      /* executor resident set size, bytes */
    int64_t peak_rss; /* its peak so far */
    int ntasks;
    msg_task_metrics *tasks;
} msg_heartbeat;

int msg_heartbeat_encode(buf *b, const msg_heartbeat *m);
int msg_heartbeat_decode(const void *p, size_t n, msg_heartbeat *m,
                         ember_error *err);
void msg_heartbeat_free(msg_heartbeat *m);

/* Simple messages carrying one id string (ack, stop, kill). */
int msg_simple_encode(buf *b, int type, const char *id, uint64_t n);
int msg_simple_decode(const void *p, size_t len, int type, char **id,
                      uint64_t *n, ember_error *err);

#endif
