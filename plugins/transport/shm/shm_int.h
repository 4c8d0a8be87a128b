/*
 * shm_int.h -- private to the transport_shm plugin: the layouts of its
 * shared-memory objects, its local state, and the functions its files
 * share.  transport_shm.c owns the objects' contents, the rings and the
 * transport functions; shm_obj.c the objects' names and modes on disk;
 * shm_auth.c the handshake of secure sockets (listen_secure,
 * connect_secure, peer_name).  Nothing here is part of
 * ember's ABI; the layouts are described in docs/transport-shm.md.
 *
 * Everything in a shared object is written by another process and is
 * untrusted: read a field once into local memory, then check it.
 */
#ifndef EMBER_SHM_INT_H
#define EMBER_SHM_INT_H

#include <ember/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define PLUGIN_NAME "transport_shm"

#define SCHEME "shm://"
#define NAME_MAXLEN 100
/* "/ember-" NAME "+c" pid "." 32 hex, NUL included */
#define OBJ_NAME_MAX 160
#define OBJ_RANDOM_BYTES 16 /* random part of a connection object's name */
#define SLOTS 64            /* pending (not yet accepted) connections */
#define PEER_NAME_MAX 64    /* names given by admit(), NUL included */
#define LOGGED_MAX 32       /* refused pids logged once per socket */
#define NONCE_BYTES 32
#define PROOF_BYTES 32

#define CTL_MAGIC 0x454d4243u   /* "EMBC" */
#define CONN_MAGIC 0x454d4252u  /* "EMBR" */
#define FRAME_MAGIC 0x454d464du /* "EMFM" */
#define LAYOUT_VERSION 2u       /* 2: handshake fields, ctl.secure */

#define CHECK_MS 200 /* liveness checks and the longest futex sleep */

/* ----------------------------------------------------- shared layouts */

enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_READY = 2 };

typedef struct shm_slot {
    _Atomic uint32_t state;
    int32_t pid;
    char name[OBJ_NAME_MAX];
} shm_slot;

typedef struct shm_ctl {
    _Atomic uint32_t magic; /* set last, when initialised */
    uint32_t version;
    int32_t server_pid;
    _Atomic uint32_t closed;
    _Atomic uint32_t bell;       /* the server's futex */
    _Atomic uint32_t waiting;    /* the server sleeps on bell */
    uint32_t secure;             /* 1: clients must prove a key */
    _Atomic uint32_t hs_bell;    /* the handshake thread's futex */
    _Atomic uint32_t hs_waiting; /* it sleeps on hs_bell */
    pthread_mutex_t lock;        /* robust, process-shared: guards slots */
    shm_slot slots[SLOTS];
} shm_ctl;

/* One byte ring.  head/tail count bytes ever written/read. */
typedef struct shm_ring {
    _Atomic uint64_t head;
    char pad1[56];
    _Atomic uint64_t tail;
    char pad2[56];
    _Atomic uint32_t bell;     /* consumer's futex (client side only) */
    _Atomic uint32_t cwaiting; /* the consumer sleeps on bell */
    _Atomic uint32_t space;    /* producer's futex, bumped on reads */
    _Atomic uint32_t pwaiting; /* the producer sleeps on space */
    char pad3[48];
} shm_ring;

/* Handshake states (shm_hs.state).  Each side writes its fields, then the
 * state; each keeps its own view of the handshake and uses the shared word
 * only to learn what to read next. */
enum {
    HS_PLAIN = 0,      /* a client without authentication */
    HS_HELLO = 1,      /* client: client_key, client_nonce written */
    HS_CHALLENGE = 2,  /* server: server_nonce, server_proof written */
    HS_PROOF = 3,      /* client: checked the server, client_proof written */
    HS_ADMITTED = 4,   /* server: checked the client, admit() said yes */
    HS_REFUSED = 5,    /* server: refused (final) */
    HS_CLIENT_FAIL = 6 /* client: the server's proof was wrong (final) */
};

typedef struct shm_hs {
    _Atomic uint32_t state;
    char pad[28];
    uint8_t client_key[EMBER_KEY_BYTES];
    uint8_t client_nonce[NONCE_BYTES];
    uint8_t client_proof[PROOF_BYTES];
    uint8_t server_nonce[NONCE_BYTES];
    uint8_t server_proof[PROOF_BYTES];
    char pad2[64];
} shm_hs;

typedef struct shm_conn {
    _Atomic uint32_t magic;
    uint32_t version;
    uint64_t ring_size;
    int32_t client_pid;
    _Atomic int32_t server_pid;
    _Atomic uint32_t client_closed;
    _Atomic uint32_t server_closed;
    char pad[96];
    shm_hs hs;
    shm_ring c2s;
    shm_ring s2c;
    /* then ring_size bytes of c2s data, ring_size bytes of s2c data */
} shm_conn;

_Static_assert(sizeof(shm_ring) == 192, "ring header layout");
_Static_assert(sizeof(shm_hs) == 256, "handshake layout");
_Static_assert(sizeof(shm_conn) == 128 + 256 + 2 * 192, "connection layout");

typedef struct frame_hdr {
    uint32_t magic;
    uint32_t reserved;
    uint64_t len;
} frame_hdr;

/* -------------------------------------------------------- local state */

typedef struct tctx {
    const ember_host *host;
    uint64_t ring_size;
    uint64_t max_message;
    int send_timeout_ms;
} tctx;

/* A received, complete message: msg->handle. */
typedef struct qmsg {
    struct qmsg *next;
    uint64_t len;
    ember_peer from;
    char peer[PEER_NAME_MAX]; /* admit()'s name of the sender, or "" */
    _Alignas(16) unsigned char data[];
} qmsg;

/* One side of one ring as this process sees it. */
typedef struct ring {
    shm_ring *h;
    unsigned char *data;
    uint64_t size;
    uint64_t pos;              /* our head (tx) or our tail (rx) */
    _Atomic uint32_t *bell;    /* tx: the consumer's futex */
    _Atomic uint32_t *waiting; /* tx: the consumer's waiting flag */
} ring;

typedef struct conn {
    shm_conn *shm;
    size_t maplen;
    ring tx, rx;
    pid_t peer_pid;
    uint32_t id; /* server: index + serial make the peer identity */
    uint32_t serial;
    int broken;               /* protocol error or cut message: no more sends */
    char name[PEER_NAME_MAX]; /* server, secure: admit()'s name */
    struct conn *next;        /* server, secure: the admitted list */
    /* receive state: a partial frame header or a partial message */
    unsigned char hdr[sizeof(frame_hdr)];
    size_t hdr_got;
    qmsg *cur;
    uint64_t got;
} conn;

/* Server, secure: a connection whose handshake is under way (owned by the
 * handshake thread). */
typedef struct pend {
    struct pend *next;
    conn *c;
    char obj[OBJ_NAME_MAX]; /* the connection object's name */
    int step;               /* 0: hello not answered, 1: challenge sent */
    int64_t since;
    uint8_t client_key[EMBER_KEY_BYTES];
    uint8_t client_nonce[NONCE_BYTES];
    uint8_t server_nonce[NONCE_BYTES];
    uint8_t key[32]; /* the proofs' key */
} pend;

/* Client, secure: where its handshake stands. */
enum { CS_WAIT_CHALLENGE = 0, CS_WAIT_VERDICT = 1, CS_OPEN = 2, CS_DENIED = 3 };

struct ember_tsock {
    const ember_host *host;
    tctx *ctx;
    int is_server;
    char name[NAME_MAXLEN + 1];
    char endpoint[sizeof SCHEME + NAME_MAXLEN];
    shm_ctl *ctl;
    _Atomic uint32_t *bell; /* what recv() sleeps on */
    _Atomic uint32_t *bell_waiting;
    _Atomic int woken;
    uint64_t max_message; /* the longest message a peer may send us */
    /* server: dynamic array of accepted connections (NULL = empty) */
    conn **conns;
    size_t nconns;
    uint32_t next_serial;
    size_t rr; /* round-robin start */
    int64_t last_check;
    /* server: refused pids already logged (the accepting thread's) */
    pid_t logged[LOGGED_MAX];
    int nlogged;
    /* client: its connection and the name it is announced under */
    conn *cli;
    int slot; /* client: its slot until accepted, else -1 */
    char objname[OBJ_NAME_MAX];
    /* received, complete messages not handed out yet */
    qmsg *qhead, *qtail;

    /* --- secure sockets (shm_auth.c) --- */
    int secure;
    ember_tsec sec; /* a copy; wiped at close */
    /* server: the handshake thread, its connections under way, and the
       admitted connections it hands to the socket's thread */
    pthread_t hs_thread;
    int hs_running;
    _Atomic int hs_stop;
    pend *pending;
    int npending;
    pthread_mutex_t mu; /* guards admitted, admitted_tail */
    int mu_ready;
    conn *admitted, **admitted_tail;
    _Atomic int nadmitted;
    /* client */
    int cstate; /* CS_* */
    uint8_t nonce[NONCE_BYTES];
    uint8_t key[32];
    int64_t hs_since;
    char denied_msg[512];
};

/* --------------------------------------- transport_shm.c, for shm_auth.c */

int64_t shm_now_ms(void);
void shm_futex_wait(_Atomic uint32_t *w, uint32_t val, int ms);
/* Bump a doorbell; wake the sleeper if there may be one (waiting NULL:
 * always). */
void shm_ring_bell(_Atomic uint32_t *bell, _Atomic uint32_t *waiting);
int shm_pid_dead(pid_t pid);
void shm_conn_free(conn *c);
/* Server: take READY slots (secure: into s->pending, at most SLOTS), and
 * with reap, reclaim slots of dead clients.  On a secure socket only the
 * handshake thread calls it. */
void shm_accept_pending(ember_tsock *s, int reap);
/* Server: log a refused peer, once per pid and socket. */
void shm_refused(ember_tsock *s, pid_t pid, const char *why);
/* The common part of listen/connect; sec NULL for plain sockets. */
int shm_listen(tctx *c, const char *endpoint, const ember_tsec *sec,
               ember_tsock **out, char *bound, size_t boundlen,
               ember_error *err);
int shm_connect(tctx *c, const char *endpoint, const ember_tsec *sec,
                ember_tsock **out, ember_error *err);

/* ------------------------------------------------------------ shm_obj.c */

/* A regular file of our effective uid with mode 0600? */
int shm_obj_private(const struct stat *st);
/* Describe an object that is not private, for messages. */
void shm_obj_describe(const struct stat *st, char *buf, size_t n);
/* Create the object `name` private: the fd, or -1 with errno (EEXIST: the
 * name is taken; EPERM: not private after creation, removed). */
int shm_obj_create(const char *name);
/* Open the existing object `name` if it is ours: the fd with *st from
 * fstat (the caller checks shm_obj_private(st) again), or -1 with errno
 * (EPERM: not ours, not opened, *st from lstat describes it). */
int shm_obj_open(const char *name, struct stat *st);
/* Is `name` exactly a connection object name of the server `srv`? */
int shm_conn_name_ok(const char *name, const char *srv);
/* A fresh connection object name for the server `srv`. */
void shm_conn_obj_name(char *out, size_t n, const char *srv);

/* ------------------------------------------ shm_auth.c, for the transport */

/* Check an ember_tsec (EMBER_EINVAL with a message). */
int shm_sec_check(const ember_host *h, const ember_tsec *sec, int listener,
                  ember_error *err);
/* Server: start / stop the handshake thread of a secure listener. */
int shm_hs_start(ember_tsock *s, ember_error *err);
void shm_hs_stop(ember_tsock *s);
/* Server: queue an accepted connection for its handshake (0, or -1 when
 * out of memory). */
int shm_hs_add(ember_tsock *s, conn *c, const char *obj);
/* Client: derive the proofs' key and pick a nonce (before announcing). */
int shm_client_begin(ember_tsock *s, const ember_tsec *sec, ember_error *err);
/* Client: write the hello into its initialised connection object. */
void shm_client_hello(ember_tsock *s);
/* Client: advance the handshake without waiting: 0 once the connection is
 * open, 1 while it goes on, EMBER_EDENIED (err set) when it failed. */
int shm_client_step(ember_tsock *s, ember_error *err);
/* Client: wait until the handshake reached `until` (CS_WAIT_VERDICT: our
 * proof is written; CS_OPEN: admitted), at most send_timeout_ms after
 * connecting.  0, EMBER_EDENIED, or EMBER_ECLOSED (closed, died, no
 * answer; what: "send on", "connect to", for the message). */
int shm_client_wait(ember_tsock *s, int until, const char *what,
                    ember_error *err);
void shm_sec_wipe(ember_tsock *s);

int shm_listen_secure(void *ctx, const char *endpoint, const ember_tsec *sec,
                      ember_tsock **out, char *bound, size_t boundlen,
                      ember_error *err);
int shm_connect_secure(void *ctx, const char *endpoint, const ember_tsec *sec,
                       ember_tsock **out, ember_error *err);
int shm_peer_name(const ember_tmsg *msg, char *out, size_t outlen);

#endif /* EMBER_SHM_INT_H */
