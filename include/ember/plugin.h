/*
 * ember/plugin.h -- the versioned C ABI between ember and its plugins.
 *
 * A plugin is a shared module that exports exactly one function,
 *
 *     const ember_plugin *ember_plugin_entry(void);
 *
 * returning a constant descriptor.  The host checks struct_size, abi_major
 * (must be equal) and abi_minor (plugin minor <= host minor) before it runs
 * any other code of the plugin, then calls init() with a constant table of
 * host functions (ember_host).  Plugins call the host only through that table
 * and link nothing of ember's.  init() registers any number of operators, a
 * transport or a cluster manager through the host table.
 *
 * Compatibility rules: every struct starts with struct_size; fields are only
 * ever appended; the host reads a field only if the plugin's struct_size
 * covers it.  Appending a field bumps EMBER_ABI_MINOR; any other change bumps
 * EMBER_ABI_MAJOR.
 *
 * Threads: plugins are loaded and initialised once, on the main thread,
 * before worker threads start, and never unloaded.  Operator instances
 * (open/run/push/finish/close) are used by one task thread at a time.
 * Transport sockets are used by one thread at a time, except wake().
 */
#ifndef EMBER_PLUGIN_H
#define EMBER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_ABI_MAJOR 1
#define EMBER_ABI_MINOR 3

#if defined(__GNUC__)
#define EMBER_EXPORT __attribute__((visibility("default")))
#define EMBER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EMBER_EXPORT
#define EMBER_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ errors */

/* One table yields the codes and ember_strerror(). */
#define EMBER_ERRNO_MAP(X)                                                     \
    X(OK, 0, "success")                                                        \
    X(NOMEM, -1, "out of memory")                                              \
    X(INVAL, -2, "invalid argument")                                           \
    X(IO, -3, "input/output error")                                            \
    X(CORRUPT, -4, "corrupt data")                                             \
    X(PROTO, -5, "protocol error")                                             \
    X(NOTFOUND, -6, "not found")                                               \
    X(ABI, -7, "incompatible plugin ABI")                                      \
    X(TIMEOUT, -8, "timed out")                                                \
    X(AGAIN, -9, "resource temporarily unavailable")                           \
    X(WOKEN, -10, "woken up")                                                  \
    X(STOP, -11, "stop requested")                                             \
    X(LUA, -12, "Lua error")                                                   \
    X(TASK, -13, "task failed")                                                \
    X(CLOSED, -14, "connection closed")                                        \
    X(EXISTS, -15, "already exists")                                           \
    X(TOOBIG, -16, "too big")                                                  \
    X(UNSUPPORTED, -17, "not supported")                                       \
    X(DENIED, -18, "permission denied")

enum {
#define EMBER_ERR_ENUM_(name, val, text) EMBER_E##name = (val),
    EMBER_ERRNO_MAP(EMBER_ERR_ENUM_)
#undef EMBER_ERR_ENUM_
};

/* A human-readable error: code plus message.  Functions taking an
 * `ember_error *err` accept NULL. */
typedef struct ember_error {
    int code;
    char msg[1024];
} ember_error;

/* ----------------------------------------------------------------- batches */

/* Column types.  Memory layout is Arrow's: a validity bitmap (bit i set =
 * row i valid, NULL = all valid), int32 offsets + bytes for variable-width
 * types, fixed width otherwise (BOOL is one byte per value here). */
typedef enum ember_type {
    EMBER_TYPE_NULL = 0,
    EMBER_TYPE_BOOL = 1,
    EMBER_TYPE_INT32 = 2,
    EMBER_TYPE_INT64 = 3,
    EMBER_TYPE_DOUBLE = 4,
    EMBER_TYPE_STRING = 5,    /* UTF-8 bytes */
    EMBER_TYPE_BINARY = 6,    /* opaque bytes */
    EMBER_TYPE_DATE32 = 7,    /* days since 1970-01-01 */
    EMBER_TYPE_TIMESTAMP = 8, /* microseconds since epoch, UTC */
    EMBER_TYPE_LUAVALUE = 9   /* BINARY holding one encoded Lua value each */
} ember_type;

/* A read-only view of one column, valid while the batch lives. */
typedef struct ember_column {
    ember_type type;
    int64_t length;
    int64_t null_count;
    const uint8_t *validity; /* NULL: all valid */
    const int32_t *offsets;  /* STRING/BINARY/LUAVALUE: length + 1 */
    const void *data;
} ember_column;

typedef struct ember_batch ember_batch; /* opaque, owned by the host */

/* ------------------------------------------------------------------ params */

typedef enum ember_param_type {
    EMBER_PARAM_STRING = 1,
    EMBER_PARAM_INT = 2,
    EMBER_PARAM_DOUBLE = 3,
    EMBER_PARAM_BOOL = 4
} ember_param_type;

/* Parameters are declared as data so the host validates Lua arguments and
 * configuration values and prints help.  default_value NULL = required. */
typedef struct ember_param_desc {
    const char *name;
    ember_param_type type;
    const char *default_value;
    const char *doc;
} ember_param_desc;

typedef struct ember_params ember_params; /* opaque, validated by the host */

/* --------------------------------------------------------------- operators */

enum { EMBER_OP_SOURCE = 1, EMBER_OP_TRANSFORM = 2, EMBER_OP_SINK = 3 };

/* One input split of a source: a byte range of a file. */
typedef struct ember_split {
    const char *path;
    int64_t offset;
    int64_t length;
} ember_split;

typedef struct ember_split_list ember_split_list; /* opaque, host-owned */

typedef struct ember_spill ember_spill; /* a spill file, host-owned (1.3) */

/* What a running operator may know about its task.  The host keeps it
 * valid from open() until close() returns, so an operator may keep the
 * pointer. */
typedef struct ember_task_info {
    size_t struct_size;
    int job_id;
    int stage_id;
    int partition;
    int attempt;
    const char *executor_id;
    const char *local_dir; /* the executor's scratch directory */
    ember_split split;     /* sources: the split this task reads */
    /* --- ABI 1.2 --- */
    /* Add delta to the task's counter `name` ("malformed_rows"); counters
     * travel back with the task's result and are summed on the driver.
     * "spill_bytes" is special: bytes an operator wrote to local disk
     * because memory was refused, reported in the task's metrics (the
     * event log's "Memory Bytes Spilled").  May be NULL (then counting is
     * skipped). */
    void (*add_counter)(void *ctx, const char *name, int64_t delta);
    /* Execution memory from the executor's unified pool: acquire returns 0
     * when `bytes` were granted, EMBER_EAGAIN when refused (the operator
     * spills what it holds to local_dir and retries, or goes on with what
     * it has); release gives bytes back.  Everything acquired is released
     * by the host when the task ends.  May be NULL (no accounting). */
    int (*mem_acquire)(void *ctx, int64_t bytes);
    void (*mem_release)(void *ctx, int64_t bytes);
    void *ctx; /* first argument of the three functions above and of
                  spill_create */
    /* --- ABI 1.3 --- */
    /* Spill files: scratch files of this task in local_dir that the host
     * creates private to the user (mode 0600, a fresh random name, never
     * through a symlink) and, when the application encrypts data at rest
     * (io.encryption.enabled), encrypts and authenticates (libsodium
     * secretstream, in chunks).  Write a file front to back, finish it,
     * then read it back front to back (spill_rewind, again to start
     * over); spill_close removes it.  The host buffers 64 KiB, so a write
     * of a whole column buffer costs one call, but do not call per value.
     * A handle belongs to one thread at a time and is the operator's to
     * close (before its close() returns).  Functions return 0 or a
     * negative code with err filled (err may be NULL): EMBER_EIO (disk
     * full, ...), EMBER_ENOMEM, EMBER_EINVAL (out of order), and from
     * spill_read EMBER_ECORRUPT when the file ends before n bytes or fails
     * authentication.  NULL when the host offers no spill files (the
     * operator then writes its own files in local_dir). */
    int (*spill_create)(void *ctx, ember_spill **out, ember_error *err);
    int (*spill_write)(ember_spill *f, const void *p, size_t n,
                       ember_error *err);
    int (*spill_finish)(ember_spill *f, ember_error *err);
    int (*spill_rewind)(ember_spill *f, ember_error *err);
    int (*spill_read)(ember_spill *f, void *p, size_t n, ember_error *err);
    void (*spill_close)(ember_spill **f); /* *f = NULL; NULL is fine */
} ember_task_info;

/* Output callback: the batch is borrowed for the duration of the call.
 * Returns 0, or EMBER_ESTOP when downstream wants no more rows (take(n)),
 * or another negative code on failure. */
typedef int (*ember_emit_fn)(void *ud, const ember_batch *batch);

typedef struct ember_host ember_host;

typedef struct ember_op_desc {
    size_t struct_size;
    const char *name; /* unique, e.g. "text.scan" */
    const char *doc;  /* one line */
    int kind;         /* EMBER_OP_SOURCE / _TRANSFORM / _SINK */
    const ember_param_desc *params;
    size_t nparams;
    /* Sources, on the driver: list the splits; a missing input is an error
     * here, before any task runs. */
    int (*plan)(const ember_host *host, const ember_params *p,
                int min_partitions, ember_split_list *out, ember_error *err);
    int (*open)(const ember_host *host, const ember_params *p,
                const ember_task_info *ti, void **state, ember_error *err);
    /* Sources: produce all batches through emit. */
    int (*run)(void *state, ember_emit_fn emit, void *ud, ember_error *err);
    /* Transforms and sinks: consume one batch (borrowed). */
    int (*push)(void *state, const ember_batch *in, ember_emit_fn emit,
                void *ud, ember_error *err);
    /* End of input: flush what is buffered; sinks commit here. */
    int (*finish)(void *state, ember_emit_fn emit, void *ud, ember_error *err);
    void (*close)(void *state); /* always called after a successful open */
    /* --- ABI 1.2 --- */
    /* Operators with more than one input (joins): consume one batch of
     * input `input` (1, 2, ...); input 0 is the one push() receives.  The
     * host pushes every batch of input 1 before the first push().  NULL
     * for single-input operators. */
    int (*push_input)(void *state, int input, const ember_batch *in,
                      ember_emit_fn emit, void *ud, ember_error *err);
} ember_op_desc;

/* ------------------------------------------------ transport security (1.3) */

/* How the sockets of one application recognise each other.  Every process
 * of an application holds Curve25519 keypairs (32-byte raw keys); a server
 * socket admits a peer only after the peer proved it holds the secret half
 * of a public key and admit() accepted that key; a client socket talks to a
 * server only after the server proved it holds the secret half of
 * server_key.  Over TCP the zmq transport uses CurveZMQ (authenticated and
 * encrypted); on one host the shm transport runs the same proof over shared
 * memory (authenticated, not encrypted: its segments are private to the
 * user).  A transport that cannot do this leaves listen_secure NULL. */
enum { EMBER_SEC_NONE = 0, EMBER_SEC_CURVE = 1 };

#define EMBER_KEY_BYTES 32

typedef struct ember_tsec {
    size_t struct_size;
    int mechanism;                       /* EMBER_SEC_* */
    uint8_t public_key[EMBER_KEY_BYTES]; /* this side's keypair */
    uint8_t secret_key[EMBER_KEY_BYTES];
    uint8_t server_key[EMBER_KEY_BYTES]; /* connect: the server's public key */
    /* listen: decides whether a peer that proved peer_key may talk to this
     * socket.  Called on a thread of the transport's own, concurrently with
     * anything else (it must be thread-safe and must not call the
     * transport), once per connection attempt, before any message of that
     * peer is delivered.  address: the peer's network address as text
     * ("10.0.0.7"), "" when there is none.  Returns 1 to admit, 0 to
     * refuse (the peer learns only that it was refused).  On admit it may
     * write a NUL-terminated name for the peer (at most namelen bytes
     * including the NUL); peer_name() returns it for the peer's messages.
     * The transport logs each refused address once per socket. */
    int (*admit)(void *ud, const uint8_t peer_key[EMBER_KEY_BYTES],
                 const char *address, char *name, size_t namelen);
    void *admit_ud;
    /* listen: the largest message a peer may send, in bytes (0: the
     * transport's own limit).  A peer sending more is disconnected. */
    int64_t max_message;
} ember_tsec;

/* -------------------------------------------------------------- transports */

/* A peer's identity on a listening socket (opaque bytes). */
typedef struct ember_peer {
    uint8_t len;
    uint8_t id[31];
} ember_peer;

/* A received message; data stays valid until msg_release(). */
typedef struct ember_tmsg {
    const void *data;
    size_t len;
    void *handle; /* the transport's own */
} ember_tmsg;

typedef struct ember_tsock ember_tsock; /* defined by the transport */

typedef struct ember_transport_desc {
    size_t struct_size;
    const char *name;
    /* Process-wide context, created once. */
    int (*open)(const ember_host *host, void **ctx, ember_error *err);
    void (*close)(void *ctx);
    /* Server socket with many peers.  endpoint may use a wildcard port
     * ("tcp://127.0.0.1:*"); the concrete endpoint is written to bound. */
    int (*listen)(void *ctx, const char *endpoint, ember_tsock **out,
                  char *bound, size_t boundlen, ember_error *err);
    /* Client socket with one peer. */
    int (*connect)(void *ctx, const char *endpoint, ember_tsock **out,
                   ember_error *err);
    /* Send one message made of nparts parts (concatenated on receipt).
     * to: the peer on a listening socket, NULL on a client socket. */
    int (*send)(ember_tsock *s, const ember_peer *to, const void *const *parts,
                const size_t *lens, int nparts, ember_error *err);
    /* Wait up to timeout_ms (-1 forever) for one message.  Returns 0,
     * EMBER_EAGAIN on timeout, EMBER_EWOKEN after wake(). */
    int (*recv)(ember_tsock *s, int timeout_ms, ember_peer *from,
                ember_tmsg *msg, ember_error *err);
    void (*msg_release)(ember_tmsg *msg);
    /* Thread-safe: make the current or next recv() return EMBER_EWOKEN. */
    int (*wake)(ember_tsock *s);
    void (*sock_close)(ember_tsock *s);
    /* --- ABI 1.3 --- */
    /* listen() and connect() with authentication (ember_tsec above; sec is
     * copied, admit_ud is borrowed until sock_close).  On a client socket
     * recv() returns EMBER_EDENIED, with a message saying which side could
     * not prove itself, as soon as the handshake with the server failed
     * (the server refused our key, or it could not prove server_key); the
     * socket is then unusable.  NULL when the transport cannot
     * authenticate. */
    int (*listen_secure)(void *ctx, const char *endpoint, const ember_tsec *sec,
                         ember_tsock **out, char *bound, size_t boundlen,
                         ember_error *err);
    int (*connect_secure)(void *ctx, const char *endpoint,
                          const ember_tsec *sec, ember_tsock **out,
                          ember_error *err);
    /* The name admit() gave the sender of msg, received on a socket made
     * by listen_secure; copied into out (outlen bytes including the NUL).
     * Returns 0, or EMBER_ENOTFOUND when admit() named nobody. */
    int (*peer_name)(const ember_tmsg *msg, char *out, size_t outlen);
} ember_transport_desc;

/* --------------------------------------------------------- cluster managers */

typedef struct ember_cm_request {
    size_t struct_size;
    const char *master_url; /* "local[2]", "local-cluster[3,1,512]" */
    const char *app_id;
    const char *const *exec_argv; /* NULL-terminated: exe, "executor", ...;
                                     the manager appends --executor-id,
                                     --cores and --memory */
    int default_cores;            /* executor.cores */
    int64_t default_memory_mb;    /* executor.memory */
    /* --- ABI 1.3 --- */
    /* The secret material of one executor (its keys), as text of at most
     * outlen bytes including the NUL.  A manager that sees credentials !=
     * NULL calls it for every executor it starts, with the id it gives that
     * executor, before starting it, and hands the text to that executor
     * only through its launch channel -- a pipe whose read end the executor
     * gets as --credentials-fd N, or a file of mode 0600 that only the
     * executor's user can read, passed as --credentials-file PATH (the
     * executor deletes it after reading) -- never on a command line or in
     * the environment.  NULL when the application runs without
     * authentication.  Returns 0 or a negative code with err filled. */
    int (*credentials)(void *ud, const char *executor_id, char *out,
                       size_t outlen, ember_error *err);
    void *credentials_ud;
} ember_cm_request;

typedef struct ember_cm_desc {
    size_t struct_size;
    const char *name;
    /* 1 if this manager serves the master URL, else 0. */
    int (*accepts)(const char *master_url);
    /* Start executors; *expected receives how many will register. */
    int (*start)(const ember_host *host, const ember_cm_request *req,
                 void **state, int *expected, ember_error *err);
    /* Ask for one more executor (replacement after a loss). */
    int (*request_executor)(void *state, ember_error *err);
    /* Kill one executor by id. */
    int (*kill_executor)(void *state, const char *executor_id);
    /* Stop every executor and wait for them; frees state. */
    void (*stop)(void *state);
    /* --- ABI 1.1 --- */
    /* Report executors whose process ended since the last call: calls
     * exited(ud, executor_id, description) for each ("killed by signal 9",
     * "exited with status 1"); the driver then treats them as lost at once
     * instead of waiting for network.timeout.  May be NULL. */
    int (*poll_exited)(void *state,
                       void (*exited)(void *ud, const char *executor_id,
                                      const char *how),
                       void *ud);
} ember_cm_desc;

/* ---------------------------------------------------------- the host table */

typedef struct ember_registry ember_registry; /* opaque */

/* Functions the host offers to plugins.  Append-only. */
struct ember_host {
    size_t struct_size;
    int abi_major;
    int abi_minor;
    /* errors and logging */
    void (*seterr)(ember_error *err, int code, const char *fmt, ...)
        EMBER_PRINTF(3, 4);
    const char *(*strerror)(int code);
    void (*log)(int level, const char *who, const char *fmt, ...)
        EMBER_PRINTF(3, 4);
    /* registration, only during init() */
    int (*register_op)(ember_registry *reg, const ember_op_desc *op);
    int (*register_transport)(ember_registry *reg,
                              const ember_transport_desc *t);
    int (*register_clustermgr)(ember_registry *reg, const ember_cm_desc *cm);
    /* parameters */
    const char *(*param_str)(const ember_params *p, const char *name);
    int64_t (*param_int)(const ember_params *p, const char *name);
    double (*param_double)(const ember_params *p, const char *name);
    int (*param_bool)(const ember_params *p, const char *name);
    /* splits */
    int (*split_add)(ember_split_list *l, const char *path, int64_t offset,
                     int64_t length);
    /* batches: reading */
    int64_t (*batch_num_rows)(const ember_batch *b);
    int (*batch_num_columns)(const ember_batch *b);
    int (*batch_column)(const ember_batch *b, int i, ember_column *out);
    const char *(*batch_column_name)(const ember_batch *b, int i);
    /* batches: building (the batch is the caller's until emitted/freed) */
    ember_batch *(*batch_new)(void);
    void (*batch_free)(ember_batch **b);
    int (*batch_add_column)(ember_batch *b, const char *name, ember_type t);
    int (*batch_append_str)(ember_batch *b, int col, const char *s, size_t len);
    int (*batch_append_null)(ember_batch *b, int col);
    int (*batch_append_i64)(ember_batch *b, int col, int64_t v);
    int (*batch_append_f64)(ember_batch *b, int col, double v);
    void (*batch_clear)(ember_batch *b); /* keep columns, drop rows */
    /* configuration as seen by this plugin: its own subtree */
    const char *(*conf_get)(const char *key);
    /* the running ember executable (for cluster managers) */
    const char *(*self_exe)(void);
    /* --- ABI 1.2 --- */
    /* Add a whole column from Arrow-layout buffers (copied): length rows;
     * validity NULL = all valid; offsets (length + 1 entries) for
     * STRING/BINARY/LUAVALUE, NULL otherwise; data: the values (BOOL: one
     * byte per value).  The batch's other columns must have `length` rows
     * or none. */
    int (*batch_add_column_data)(ember_batch *b, const char *name, ember_type t,
                                 int64_t length, const uint8_t *validity,
                                 const int32_t *offsets, const void *data);
};

enum {
    EMBER_LOG_ERROR = 0,
    EMBER_LOG_WARN = 1,
    EMBER_LOG_INFO = 2,
    EMBER_LOG_DEBUG = 3
};

/* ---------------------------------------------------------- the descriptor */

/* ABI signature: sizes of the structs both sides must agree on. */
#define EMBER_ABI_SIG                                                          \
    ((uint32_t)(sizeof(ember_error) * 31u + sizeof(ember_column) * 17u +       \
                sizeof(ember_split) * 7u + sizeof(ember_peer) * 3u +           \
                sizeof(ember_tmsg)))

typedef struct ember_plugin {
    size_t struct_size;
    int abi_major;
    int abi_minor;
    uint32_t abi_sig;
    const char *name;
    const char *version;
    int (*init)(const ember_host *host, ember_registry *reg, ember_error *err);
    void (*fini)(void);
} ember_plugin;

#define EMBER_PLUGIN_ENTRY_SYMBOL "ember_plugin_entry"
typedef const ember_plugin *(*ember_plugin_entry_fn)(void);

/* Convenience for plugin authors:
 *   EMBER_PLUGIN_DEFINE("op_text", "0.1.0", my_init, NULL) */
#define EMBER_PLUGIN_DEFINE(name_, version_, init_, fini_)                     \
    EMBER_EXPORT const ember_plugin *ember_plugin_entry(void);                 \
    EMBER_EXPORT const ember_plugin *ember_plugin_entry(void)                  \
    {                                                                          \
        static const ember_plugin desc = {sizeof(ember_plugin),                \
                                          EMBER_ABI_MAJOR,                     \
                                          EMBER_ABI_MINOR,                     \
                                          EMBER_ABI_SIG,                       \
                                          (name_),                             \
                                          (version_),                          \
                                          (init_),                             \
                                          (fini_)};                            \
        return &desc;                                                          \
    }

#ifdef __cplusplus
}
#endif
#endif /* EMBER_PLUGIN_H */
