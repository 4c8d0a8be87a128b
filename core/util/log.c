/*
 * log.c -- leveled logging to stderr.
 *
 * One line per call, written with a single fprintf so lines from different
 * threads do not interleave.  The level is process-wide (set once at start).
 */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int cur_level = EMBER_LOG_WARN;
static char proc_who[64] = "ember";

void log_set_level(int level)
{
    cur_level = level;
}

int log_level(void)
{
    return cur_level;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, names[i]) == 0)
            return i;
    if (s && strcasecmp(s, "warning") == 0)
        return EMBER_LOG_WARN;
    return -1;
}

void log_set_who(const char *who)
{
    snprintf(proc_who, sizeof proc_who, "%s", who);
}

void log_vmsg(int level, const char *who, const char *fmt, va_list ap)
{
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    if (level > cur_level)
        return;
    if (level < 0 || level > 3)
        level = EMBER_LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s%s%s: %s\n", tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, tags[level], proc_who,
            who ? " " : "", who ? who : "", line);
}

void log_msg(int level, const char *who, const char *fmt, ...)
{
    va_list ap;
    if (level > cur_level)
        return;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}
