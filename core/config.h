/*
 * config.h -- ember's configuration: spark-defaults-style files, conf.d,
 * environment, --conf and script settings, merged by source precedence,
 * and the typed table of every key the core knows.
 *
 * A conf maps keys (Spark's names without "spark.", [A-Za-z0-9_.-]+) to
 * string values.  Every value remembers the source that set it and an
 * optional origin ("/etc/ember.conf:12") for --verbose and error messages.
 * A higher source always wins, whatever the order things are loaded in:
 *
 *     SCRIPT > CMDLINE (--conf) > ENV (EMBER_CONF_*) > CONFD > FILE > DEFAULT
 *
 * Values stay strings; the typed getters parse them on each call, so a bad
 * value is reported by whoever reads it, naming the key, value and origin.
 * An empty value counts as unset for the typed getters.
 *
 * One definition of each setting: core/conf_keys.c holds, for every core
 * key, its type, default, bounds, the unit of a bare number, a one-line doc
 * and the source files that read it.  The typed accessors (conf_int,
 * conf_size, ...) take all of that from the table, the reference section
 * of docs/configuration.md is generated from it (`make conf-doc`), and
 * tests/unit/test_conf_keys.c checks that the doc, the table and the
 * readers agree.  Keys below a plugin's subtree (transport.<name>.*, ...)
 * are the plugin's: it declares, parses and documents them itself.
 *
 * Threads: a conf has no lock.  Concurrent readers of a conf that nobody
 * modifies are safe; any writer needs exclusive access.  No global mutable
 * state.  The file format is described in docs/configuration.md.
 */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

typedef enum conf_source {
    CONF_SRC_DEFAULT = 0,
    CONF_SRC_FILE,
    CONF_SRC_CONFD,
    CONF_SRC_ENV,
    CONF_SRC_CMDLINE,
    CONF_SRC_SCRIPT
} conf_source;

/* "default", "file", "conf.d", "env", "--conf", "script"; "unknown" for a
 * value outside the enum.  Never NULL; static storage. */
const char *conf_source_name(conf_source s);

typedef struct conf conf;

/* A new conf holding the built-in default of every known key that has a
 * non-empty default (source DEFAULT, origin NULL); keys whose default is
 * empty ("auto") are left unset.  Returns NULL when out of memory; the
 * caller owns the result. */
conf *conf_new(void);

/* Free *c and set *c = NULL.  Accepts NULL and a NULL *c. */
void conf_destroy(conf **c);

/* A deep copy, owned by the caller; NULL when out of memory. */
conf *conf_dup(const conf *c);

/* Set key to value if src >= the source of the current value (a lower
 * source is silently ignored and still returns 0).  key, value and origin
 * (may be NULL; e.g. "/etc/ember.conf:12") are copied.
 * Returns 0, EMBER_EINVAL (NULL argument, empty key or a character outside
 * [A-Za-z0-9_.-] in key) or EMBER_ENOMEM (c unchanged). */
int conf_set(conf *c, const char *key, const char *value, conf_source src,
             const char *origin);

/* The current value of key, borrowed until the next change of that key;
 * NULL if unset. */
const char *conf_get(const conf *c, const char *key);

/* Source and origin (borrowed, may be NULL) of key's value; either output
 * may be NULL.  Returns 0 or EMBER_ENOTFOUND if key is unset. */
int conf_get_source(const conf *c, const char *key, conf_source *src,
                    const char **origin);

/* Load a spark-defaults-style file: `key value` or `key = value` per line,
 * `#` comments (at line start or after whitespace), blank lines ignored,
 * lines of at most 4096 bytes.  Each value's origin is "path:LINE".
 * All or nothing: on any error c is left unchanged.
 * Returns 0, EMBER_ENOTFOUND (no such file), EMBER_EIO (cannot read),
 * EMBER_EINVAL ("path:LINE: what is wrong") or EMBER_ENOMEM. */
int conf_load_file(conf *c, const char *path, conf_source src,
                   ember_error *err);

/* Load every regular file named *.conf (not starting with '.') in dir, in
 * byte-wise lexical order, so later files override earlier ones.  A missing
 * dir is not an error (returns 0).  All or nothing, as conf_load_file;
 * errors as conf_load_file, plus EMBER_EINVAL if dir is not a directory. */
int conf_load_dir(conf *c, const char *dir, conf_source src, ember_error *err);

/* Apply every EMBER_CONF_<name>=<value> in envp (NULL: the process
 * environment) at source ENV: the key is <name> with each '_' written as
 * '.', case preserved (EMBER_CONF_task_maxFailures -> task.maxFailures).
 * Names that do not map to a valid key are skipped, and so is
 * EMBER_CONF_DIR, which names the configuration directory (cli/ember.c
 * reads ember.conf and conf.d there), not a key.  Origin is the variable's
 * name.  Returns 0 or EMBER_ENOMEM (c unchanged). */
int conf_load_env(conf *c, char *const *envp);

/* Apply one "key=value" argument of --conf (split at the first '=',
 * whitespace around key and value trimmed; an empty value is allowed and
 * means "unset" to the typed getters).  Origin is "--conf".
 * Returns 0, EMBER_EINVAL with a message naming the argument, or
 * EMBER_ENOMEM. */
int conf_parse_arg(conf *c, const char *kv, conf_source src, ember_error *err);

/* Typed getters with the default given by the caller (the older form;
 * ember's own call sites all use the table-driven accessors below, so a
 * default is written once, in the table).  Parse key's
 * current value into *out, or store def if the key is unset or empty.  A
 * value that does not parse gives EMBER_EINVAL with a message naming the
 * key, the value and its origin (*out is then untouched).  A key of the
 * table read with its own type must also lie within the table's bounds
 * (EMBER_EINVAL, as conf_int).  err may be NULL. */

/* Decimal integer, full int64_t range. */
int conf_get_int(const conf *c, const char *key, int64_t def, int64_t *out,
                 ember_error *err);
/* true/false, yes/no, on/off, 1/0, case-insensitive; *out is 1 or 0. */
int conf_get_bool(const conf *c, const char *key, int def, int *out,
                  ember_error *err);
/* A finite decimal floating-point number. */
int conf_get_double(const conf *c, const char *key, double def, double *out,
                    ember_error *err);

/* A size as Spark writes it: a non-negative integer and an optional unit,
 * case-insensitive: b, k, m, g, t, p (powers of 1024), each also accepted
 * with a "b" or "ib" suffix ("512mb", "2GiB").  A bare number is in units
 * of default_unit bytes (1 for bytes, 1<<20 when a bare number means MiB;
 * 0 is taken as 1).  Returns 0 or EMBER_EINVAL (garbage, negative,
 * overflow of uint64_t); *out is set only on success. */
int conf_parse_size(const char *s, uint64_t default_unit, uint64_t *out);
int conf_get_size(const conf *c, const char *key, uint64_t default_unit,
                  uint64_t def, uint64_t *out, ember_error *err);

/* A duration as Spark writes it: a non-negative integer and an optional
 * unit, case-insensitive: us, ms, s, m or min, h, d.  A bare number is in
 * units of default_unit_ms milliseconds (1000 for keys documented in
 * seconds; must be >= 1).  The result is in milliseconds, truncated
 * ("500us" -> 0), like Spark's timeStringAsMs.  Returns 0 or EMBER_EINVAL
 * (garbage, negative, overflow of int64_t); *out is set only on success. */
int conf_parse_duration_ms(const char *s, int64_t default_unit_ms,
                           int64_t *out);
int conf_get_duration_ms(const conf *c, const char *key,
                         int64_t default_unit_ms, int64_t def, int64_t *out,
                         ember_error *err);

/* Call fn for every set key (defaults included) in strcmp order.  The
 * strings are borrowed for the duration of the call; fn must not modify
 * c. */
typedef void (*conf_visit_fn)(void *ud, const char *key, const char *value,
                              conf_source src, const char *origin);
void conf_foreach(const conf *c, conf_visit_fn fn, void *ud);

/* ----------------------------------------------------------- key table */

typedef enum conf_type {
    CONF_STRING = 1, /* any text */
    CONF_ENUM,       /* one of values, case-insensitive */
    CONF_BOOL,       /* true/false, yes/no, on/off, 1/0 */
    CONF_INT,        /* decimal int64_t */
    CONF_DOUBLE,     /* finite decimal number */
    CONF_SIZE,       /* bytes: 512m, 2g (conf_parse_size) */
    CONF_DURATION    /* milliseconds: 200ms, 3s (conf_parse_duration_ms) */
} conf_type;

/* "string", "enum", "boolean", "integer", "number", "size", "duration";
 * "unknown" outside the enum.  Static storage. */
const char *conf_type_name(conf_type t);

/* One key of the table (core/conf_keys.c).  Every string is static. */
typedef struct conf_keydef {
    const char *key;
    conf_type type;
    /* Text parsed like a value; "" = no default: the reader computes one
     * (default.parallelism) or uses fallback's value (locality.wait.node);
     * conf_new() leaves such keys unset. */
    const char *default_value;
    /* Bounds in the key's own syntax ("1ms", "0.0", "1m"), inclusive; NULL
     * = unbounded.  A SIZE key with min "-1" also accepts the value -1
     * ("off", as sql.autoBroadcastJoinThreshold), other sizes are >= 0. */
    const char *min, *max;
    /* ENUM: the valid values, ',' between values, '|' between spellings
     * of one value ("error,warn|warning,info,debug").  NULL otherwise. */
    const char *values;
    /* A key of the same type whose value is used when this one is unset
     * or empty, or NULL. */
    const char *fallback;
    /* SIZE: bytes in a bare number (1, or 1 << 20 for MiB); DURATION:
     * milliseconds in a bare number (1, or 1000 for seconds); else 0. */
    int64_t unit;
    /* The source files that read the key, ' ' between them, relative to
     * the top of the tree (tests/unit/test_conf_keys.c checks each reads
     * it, by name or through a key that falls back on it). */
    const char *readers;
    /* One line (markdown) for the reference, without a final period. */
    const char *doc;
    /* More for the reference (markdown, whole sentences), or NULL. */
    const char *notes;
} conf_keydef;

/* The table, in the order of the reference (static storage). */
const conf_keydef *conf_known_keys(size_t *n);

/* The table's entry for key, or NULL if key is not in the table. */
const conf_keydef *conf_keydef_find(const char *key);

/* ------------------------------------------- typed accessors (the table) */

/* Read a key of the table as its type.  Type, default, bounds and the unit
 * of a bare number come from the table, never from the call site.
 *
 * Unset or empty, the key takes its fallback key's value if it has one,
 * else its table default.  When that default is empty too (the reader
 * computes it: default.parallelism), *out keeps the value the caller put
 * there and the call returns 0; a STRING key gives "" instead.
 *
 * A value that does not parse, or lies outside the table's bounds, gives
 * EMBER_EINVAL with a message naming the key, the value, its origin and
 * what is valid:
 *
 *     invalid value "0" for network.timeout (from --conf): expected a
 *     duration of at least 1ms
 *
 * A key that is not in the table, or read with the wrong accessor, is a
 * programming error: EMBER_EINVAL with a message saying so
 * (tests/unit/test_conf_keys.c scans the tree for such calls).  On any
 * error *out is untouched.  err may be NULL. */
int conf_int(const conf *c, const char *key, int64_t *out, ember_error *err);
int conf_bool(const conf *c, const char *key, int *out, ember_error *err);
int conf_double(const conf *c, const char *key, double *out, ember_error *err);
/* Bytes; -1 only for keys whose min is "-1". */
int conf_size(const conf *c, const char *key, int64_t *out, ember_error *err);
int conf_duration_ms(const conf *c, const char *key, int64_t *out,
                     ember_error *err);
/* STRING or ENUM keys.  *out is borrowed until the key next changes; an
 * ENUM value is checked against the table's values and returned as
 * written. */
int conf_string(const conf *c, const char *key, const char **out,
                ember_error *err);
/* ENUM keys: *out is the index of the value in the table's values list
 * (spellings after '|' give the index of their value). */
int conf_enum(const conf *c, const char *key, int *out, ember_error *err);

/* 1 if key is a non-STRING key of the table with no value to read: it
 * and its fallback keys are unset or empty and its default is empty, so
 * the accessor leaves *out alone and the reader computes a value
 * (default.parallelism); 0 otherwise: a STRING key's empty default is "",
 * and a key not in the table or a bad value is the accessor's to report. */
int conf_computed(const conf *c, const char *key);

/* Check every key of the table that c sets: its value parses as the key's
 * type and lies within its bounds.  Returns 0 or EMBER_EINVAL for the
 * first bad one (in key order), with the accessors' message.  Keys not in
 * the table are left to conf_check_unknown. */
int conf_validate(const conf *c, ember_error *err);

/* Call warn(ud, key, origin, suggestion) for each set key, in sorted
 * order, that is not a known key, unless it lies in an open subtree:
 * "transport.<name>.<sub>", "clustermgr.<name>.<sub>", "op.<name>.<sub>"
 * and "plugins.<sub>" are accepted.  suggestion is the known key closest
 * by edit distance (letters compared case-insensitively; at most 3), or
 * NULL.  All strings are borrowed for the duration of the call. */
typedef void (*conf_warn_fn)(void *ud, const char *key, const char *origin,
                             const char *suggestion);
void conf_check_unknown(const conf *c, conf_warn_fn warn, void *ud);

/* The value of prefix+key, e.g. conf_get_sub(c, "transport.zmq.",
 * "linger") is the value of "transport.zmq.linger"; NULL if unset. */
const char *conf_get_sub(const conf *c, const char *prefix, const char *key);

#endif
