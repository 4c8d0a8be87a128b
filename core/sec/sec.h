/*
 * sec.h -- an application's key material: minting it on the driver, the
 * credentials each executor is launched with, and who may talk to which
 * socket.
 *
 * The model (docs/security.md):
 *   - control plane: the driver's control socket is a CURVE server with the
 *     driver's keypair; each executor proves a keypair of its own, minted
 *     by the driver for that executor id and handed over through the
 *     cluster manager's launch channel.  The driver admits a key only while
 *     its executor is not retired (lost, removed), and names the connection
 *     by the executor id, so a message cannot claim another executor's id.
 *   - data plane: block servers (executors' shuffle/result blocks, the
 *     driver's broadcasts) are CURVE servers with the application's data
 *     keypair and admit exactly that key; every process of the application
 *     holds it, no process outside does.
 *   - at rest: io_key (32 random bytes) when io.encryption.enabled.
 * With authenticate.secret.file, every key is derived from the secret
 * (BLAKE2b, with the purpose as salt), so processes started with the same
 * secret recognise each other; executors then share one control key.
 *
 * Secrets live in sec_creds (wiped by sec_creds_wipe) and in the
 * credentials text, never in argv or the environment.
 *
 * Threads: sec_app_admit_control and sec_admit_data may be called from any
 * thread (the transport's authentication thread); the rest of sec_app from
 * the thread that owns it.
 */
#ifndef EMBER_SEC_SEC_H
#define EMBER_SEC_SEC_H

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define SEC_ID_MAX 64 /* app and executor ids, NUL included */

typedef struct sec_keypair {
    uint8_t pub[EMBER_KEY_BYTES];
    uint8_t sec[EMBER_KEY_BYTES];
} sec_keypair;

/* What one process holds. */
typedef struct sec_creds {
    char app_id[SEC_ID_MAX];
    char exec_id[SEC_ID_MAX]; /* "" on the driver */
    sec_keypair self;         /* control plane: this process's keypair */
    uint8_t driver_pub[EMBER_KEY_BYTES];
    sec_keypair data; /* data plane, shared by the application */
    uint8_t io_key[EMBER_KEY_BYTES];
    int has_io_key;
} sec_creds;

/* Initialise libsodium once (any thread).  Returns 0 or EMBER_EIO. */
int sec_init(ember_error *err);

/* ------------------------------------------------------------- driver */

typedef struct sec_app sec_app;

/* Mint (or, with secret_file, derive) the application's keys.
 * io_encryption: also make io_key.  Returns 0 or an error (an unreadable,
 * empty or too-open secret file names the file and what is wrong). */
int sec_app_new(const char *app_id, const char *secret_file, int io_encryption,
                sec_app **out, ember_error *err);
void sec_app_destroy(sec_app **app);

/* The driver's own credentials (borrowed for the app's life). */
const sec_creds *sec_app_creds(const sec_app *app);

/* The credentials text for executor exec_id (at most n bytes with the NUL)
 * and remember its public key as admitted.  Minting for an id again gives
 * that id a fresh key and retires the old one.  Returns 0, EMBER_EINVAL
 * (an id outside [A-Za-z0-9._-]{1,63}, or "." / "..") or EMBER_ETOOBIG. */
int sec_app_mint(sec_app *app, const char *exec_id, char *text, size_t n,
                 ember_error *err);

/* Stop admitting exec_id's key (a lost or removed executor). */
void sec_app_retire(sec_app *app, const char *exec_id);

/* ember_tsec.admit for the driver's control socket: ud is the sec_app.
 * Admits the keys of executors minted and not retired, naming the peer by
 * its executor id. */
int sec_app_admit_control(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                          const char *address, char *name, size_t namelen);

/* ------------------------------------------------------ every process */

/* ember_tsec.admit for block servers: ud is a sec_creds; admits only the
 * application's data key, named "data". */
int sec_admit_data(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                   const char *address, char *name, size_t namelen);

/* Parse credentials text (the format is in sec.c).  Strict: every field
 * once, nothing unknown, every key the right length.  Returns 0 or
 * EMBER_EINVAL naming the line. */
int sec_creds_parse(const char *text, size_t len, sec_creds *out,
                    ember_error *err);

/* Read credentials from a pipe (to EOF; the fd is closed) or from a file
 * that must be a regular file of ours with mode 0600, opened without
 * following symlinks, and is deleted once read. */
int sec_creds_read_fd(int fd, sec_creds *out, ember_error *err);
int sec_creds_read_file(const char *path, sec_creds *out, ember_error *err);

/* An executor's credentials derived from authenticate.secret.file. */
int sec_creds_from_secret(const char *secret_file, const char *app_id,
                          const char *exec_id, sec_creds *out,
                          ember_error *err);

void sec_creds_wipe(sec_creds *c);

/* n - 1 random lowercase hex digits and a NUL (n >= 1). */
int sec_random_hex(char *out, size_t n, ember_error *err);

/* Socket settings: a CURVE server with kp admitting through admit/ud and
 * limiting messages to max_message bytes; a CURVE client with kp
 * expecting server_pub. */
void sec_tsec_server(ember_tsec *t, const sec_keypair *kp,
                     int (*admit)(void *, const uint8_t *, const char *, char *,
                                  size_t),
                     void *ud, int64_t max_message);
void sec_tsec_client(ember_tsec *t, const sec_keypair *kp,
                     const uint8_t server_pub[EMBER_KEY_BYTES]);

/* 0 if transport tp offers authenticated sockets (plugin ABI 1.3), else
 * EMBER_EUNSUPPORTED with a message saying what to do. */
int sec_transport_check(const ember_transport_desc *tp, ember_error *err);

/* The data plane (block servers: shuffle blocks, task results,
 * broadcasts).  With c, the socket is a CURVE server/client with the
 * application's data keypair admitting only that key; with c NULL, a
 * plain socket (authenticate=false).  max_message bounds what a client may
 * send a server (fetch requests are small). */
int sec_data_listen(const ember_transport_desc *tp, void *tctx,
                    const sec_creds *c, const char *endpoint,
                    int64_t max_message, ember_tsock **out, char *bound,
                    size_t boundlen, ember_error *err);
int sec_data_connect(const ember_transport_desc *tp, void *tctx,
                     const sec_creds *c, const char *endpoint,
                     ember_tsock **out, ember_error *err);

/* The largest fetch request a block server takes. */
#define SEC_FETCH_MAX 4096

/* 1 if id is a safe identifier: 1..63 bytes of [A-Za-z0-9._-], not "." or
 * "..".  Everything that arrives from the network as an id is checked with
 * this before it is used (and it never becomes a path by itself). */
int sec_id_valid(const char *id);

#endif
