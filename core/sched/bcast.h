/*
 * bcast.h -- broadcast variables on the driver (see bcast.c).
 */
#ifndef EMBER_SCHED_BCAST_H
#define EMBER_SCHED_BCAST_H

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

struct sec_creds;

typedef struct bcast_server bcast_server;

/* Listen on tcp://host:* through the transport and start serving; with
 * creds (borrowed for the server's life) only the application's own
 * processes may fetch (sec_data_listen). */
bcast_server *bcast_server_new(const ember_transport_desc *tp, void *tctx,
                               const char *host, const struct sec_creds *creds,
                               ember_error *err);
const char *bcast_server_endpoint(const bcast_server *bs);
/* Keep an encoded value; *id receives its id (1, 2, ...). */
int bcast_put(bcast_server *bs, const void *raw, size_t len, int64_t *id,
              ember_error *err);
/* Forget a value (destroy): later fetches fail with a clear message. */
void bcast_remove(bcast_server *bs, int64_t id);
/* How many times executors fetched it (-1 if unknown). */
int64_t bcast_fetches(bcast_server *bs, int64_t id);
void bcast_server_destroy(bcast_server **bs);

#endif
