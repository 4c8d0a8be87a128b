/*
 * fsutil.h -- small file-system and time helpers.
 */
#ifndef EMBER_UTIL_FSUTIL_H
#define EMBER_UTIL_FSUTIL_H

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int64_t now_ms(void);  /* monotonic milliseconds */
int64_t now_us(void);  /* monotonic microseconds */
int64_t wall_ms(void); /* wall-clock milliseconds since the epoch */
/* Tests only: make now_ms() return now_ms_fn() and now_us() return
 * now_ms_fn() * 1000 (a fake monotonic clock the test advances by hand);
 * NULL restores the real clock.  wall_ms() is never overridden.  The
 * function is called from any thread that reads the clock, so it must be
 * thread-safe.  Swap it only while no code relies on the clock being
 * continuous (before starting or after stopping a driver). */
void clock_override(int64_t (*now_ms_fn)(void));
int mkdir_p(const char *path, ember_error *err);
/* A directory only this user may enter: missing parents are made (mode
 * 0700 where this call creates them), then path itself is created with
 * mode 0700 and must not exist before (EMBER_EEXISTS: a directory that
 * something else made is never used, so nothing planted in a shared /tmp
 * can receive our files). */
int mkdir_private(const char *path, ember_error *err);
/* Create or open a file of mode 0600, never through a symlink: mode "w"
 * (truncate), "a" (append) or "w+" (read and write, truncate), as fopen's.
 * Returns the fd / FILE, or -1 / NULL with errno set. */
int open_private(const char *path, const char *mode);
FILE *fopen_private(const char *path, const char *mode);
int rm_rf(const char *path); /* 0, or -1 if something could not go */
const char *self_exe(void);  /* /proc/self/exe resolved once */
int path_exists(const char *path);
int path_is_dir(const char *path);
/* Expand a path or glob into sorted regular files (directories expand to
 * their files, hidden files and _-prefixed files skipped like Hadoop).
 * Returns the count (>= 0) or a negative error; *out is a NULL-terminated
 * array the caller frees with strv_free. */
int expand_input(const char *pattern, char ***out, ember_error *err);
void strv_free(char **v);
/* Read a whole file into a fresh buffer (NUL-terminated). */
int read_file(const char *path, char **data, size_t *len, ember_error *err);

#endif
