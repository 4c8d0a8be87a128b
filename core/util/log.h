/*
 * log.h -- leveled logging to stderr, safe from any thread.
 */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

#include <ember/plugin.h>

void log_set_level(int level); /* EMBER_LOG_* */
int log_level(void);
int log_level_parse(const char *s); /* "error".."debug" or -1 */
void log_set_who(
    const char *who); /* process tag, e.g. "driver", "executor 2" */
void log_msg(int level, const char *who, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
void log_vmsg(int level, const char *who, const char *fmt, va_list ap);

#define LOG_ERROR(...) log_msg(EMBER_LOG_ERROR, NULL, __VA_ARGS__)
#define LOG_WARN(...) log_msg(EMBER_LOG_WARN, NULL, __VA_ARGS__)
#define LOG_INFO(...) log_msg(EMBER_LOG_INFO, NULL, __VA_ARGS__)
#define LOG_DEBUG(...) log_msg(EMBER_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
