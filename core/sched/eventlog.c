/*
 * eventlog.c -- JSON-lines event log (see eventlog.h).
 *
 * The builder escapes strings per RFC 8259; numbers are written as JSON
 * numbers.  Each event is written with one fwrite and flushed, so a
 * reader (or a test) sees whole lines while the application runs.
 */
#include "eventlog.h"

#include "util/err.h"
#include "util/fsutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eventlog {
    FILE *f;
    char tmp[4096];
    char final[4096];
    pthread_mutex_t mu;
};

eventlog *eventlog_open(const char *dir, const char *app_id, ember_error *err)
{
    eventlog *el;
    if (mkdir_p(dir, err))
        return NULL;
    el = calloc(1, sizeof *el);
    if (!el) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(el->final, sizeof el->final, "%s/%s", dir, app_id);
    snprintf(el->tmp, sizeof el->tmp, "%s/%s.inprogress", dir, app_id);
    el->f = fopen(el->tmp, "w");
    if (!el->f) {
        ember_seterr(err, EMBER_EIO, "cannot create event log %s: %s", el->tmp,
                     strerror(errno));
        free(el);
        return NULL;
    }
    pthread_mutex_init(&el->mu, NULL);
    return el;
}

void eventlog_close(eventlog **elp)
{
    eventlog *el = elp ? *elp : NULL;
    if (!el)
        return;
    fclose(el->f);
    rename(el->tmp, el->final);
    pthread_mutex_destroy(&el->mu);
    free(el);
    *elp = NULL;
}

const char *eventlog_path(const eventlog *el)
{
    return el ? el->final : NULL;
}

static void put_escaped(buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_put_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            buf_put_u8(b, '\\');
            buf_put_u8(b, *p);
        } else if (*p == '\n') {
            buf_put(b, "\\n", 2);
        } else if (*p == '\t') {
            buf_put(b, "\\t", 2);
        } else if (*p < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            buf_put(b, e, 6);
        } else {
            buf_put_u8(b, *p);
        }
    }
    buf_put_u8(b, '"');
}

static void key(jw *w, const char *k)
{
    if (!w->first[w->depth])
        buf_put_u8(&w->b, ',');
    w->first[w->depth] = 0;
    if (k) {
        put_escaped(&w->b, k);
        buf_put_u8(&w->b, ':');
    }
}

void jw_begin(jw *w, const char *event)
{
    buf_init(&w->b);
    w->depth = 0;
    w->first[0] = 1;
    buf_put_u8(&w->b, '{');
    jw_str(w, "Event", event);
}

void jw_int(jw *w, const char *k, int64_t v)
{
    char n[32];
    key(w, k);
    snprintf(n, sizeof n, "%lld", (long long)v);
    buf_put(&w->b, n, strlen(n));
}

void jw_double(jw *w, const char *k, double v)
{
    char n[64];
    key(w, k);
    snprintf(n, sizeof n, "%.17g", v);
    buf_put(&w->b, n, strlen(n));
}

void jw_bool(jw *w, const char *k, int v)
{
    key(w, k);
    buf_put(&w->b, v ? "true" : "false", v ? 4 : 5);
}

void jw_str(jw *w, const char *k, const char *v)
{
    key(w, k);
    if (v)
        put_escaped(&w->b, v);
    else
        buf_put(&w->b, "null", 4);
}

static void open_nested(jw *w, const char *k, char c)
{
    key(w, k);
    buf_put_u8(&w->b, (uint8_t)c);
    if (w->depth < 15)
        w->depth++;
    w->first[w->depth] = 1;
    w->closer[w->depth] = c == '{' ? '}' : ']';
}

void jw_obj(jw *w, const char *k)
{
    open_nested(w, k, '{');
}

void jw_arr(jw *w, const char *k)
{
    open_nested(w, k, '[');
}

void jw_end(jw *w)
{
    if (w->depth > 0) {
        buf_put_u8(&w->b, (uint8_t)w->closer[w->depth]);
        w->depth--;
    }
}

void jw_elem_int(jw *w, int64_t v)
{
    jw_int(w, NULL, v);
}

void eventlog_write(eventlog *el, jw *w)
{
    while (w->depth > 0)
        jw_end(w);
    buf_put(&w->b, "}\n", 2);
    if (el && !w->b.oom) {
        pthread_mutex_lock(&el->mu);
        fwrite(w->b.data, 1, w->b.len, el->f);
        fflush(el->f);
        pthread_mutex_unlock(&el->mu);
    }
    buf_free(&w->b);
}
