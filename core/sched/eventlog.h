/*
 * eventlog.h -- the application's event log: JSON lines, one event per
 * line, with Spark's event and field names where the meaning matches
 * (SparkListenerJobStart, "Job ID", ...).  Written while the application
 * runs to DIR/APP_ID.inprogress, renamed to DIR/APP_ID at the end.
 *
 * Threads: eventlog_write may be called from any thread (one mutex).
 */
#ifndef EMBER_SCHED_EVENTLOG_H
#define EMBER_SCHED_EVENTLOG_H

#include "util/buf.h"

#include <ember/plugin.h>
#include <stdint.h>

typedef struct eventlog eventlog;

eventlog *eventlog_open(const char *dir, const char *app_id, ember_error *err);
/* Rename to the final name and free; accepts NULL. */
void eventlog_close(eventlog **el);
const char *eventlog_path(const eventlog *el);

/* A JSON object under construction. */
typedef struct jw {
    buf b;
    int depth;
    int first[16];
    char closer[16];
} jw;

void jw_begin(jw *w, const char *event); /* {"Event":"..." */
void jw_int(jw *w, const char *key, int64_t v);
void jw_double(jw *w, const char *key, double v);
void jw_bool(jw *w, const char *key, int v);
void jw_str(jw *w, const char *key, const char *v); /* NULL -> null */
void jw_obj(jw *w, const char *key);                /* key may be NULL */
void jw_arr(jw *w, const char *key);
void jw_end(jw *w); /* closes the innermost object or array */
void jw_elem_int(jw *w, int64_t v);
/* Finish the event (closes every open object), write it as one line,
 * free the builder.  el may be NULL (logging disabled): just frees. */
void eventlog_write(eventlog *el, jw *w);

#endif
