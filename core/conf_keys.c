/*
 * conf_keys.c -- the table of every setting the core knows: the one
 * definition of each key's type, default, bounds, bare-number unit,
 * documentation and readers.
 *
 * Owns: known[], in the order of the reference in docs/configuration.md.
 * From this table conf_new() sets the defaults, the typed accessors
 * (config.h) take defaults, bounds and units, conf_check_unknown() knows
 * which keys exist, and core/conf_doc.c writes the reference section of
 * docs/configuration.md (`make conf-doc`; tests/unit/test_conf_keys.c fails
 * when the doc and the table disagree, when a file named in readers does
 * not read its key, or when a call site reads a key that is not here).
 *
 * Editing: add a key here with the file that reads it (a key read only
 * as another's fallback, like locality.wait, names the readers of that
 * key), then `make conf-doc`.  Bounds are written in the key's own
 * syntax; doc is one line without a final period, notes are whole
 * sentences (markdown).  Keys of a plugin's subtree (transport.<name>.*,
 * clustermgr.<name>.*, op.<name>.*) are not here: the plugin parses and
 * documents them itself, since plugins link nothing of ember's and
 * third-party ones cannot be listed.
 *
 * Threads: constant data.
 */
#include "config.h"

#include <string.h>

#define MIB ((int64_t)1 << 20)

static const conf_keydef known[] = {
    {.key = "master",
     .type = CONF_STRING,
     .default_value = "local[*]",
     .readers = "core/sched/driver.c",
     .doc = "where to run: `local`, `local[N]`, `local[*]` or a cluster "
            "manager URL",
     .notes = "Spark: no default outside the shells."},
    {.key = "app.name",
     .type = CONF_STRING,
     .default_value = "ember",
     .readers = "lua/lua_ember.c",
     .doc = "application name, shown in logs and the event log",
     .notes = "Spark: required, no default."},
    {.key = "transport",
     .type = CONF_STRING,
     .default_value = "zmq",
     .readers = "core/sched/driver.c core/exec/executor.c",
     .doc = "transport plugin used between driver and executors",
     .notes = "ember only."},
    {.key = "clustermgr",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/sched/driver.c",
     .doc = "cluster manager plugin, e.g. `local`; empty = chosen from the "
            "master URL",
     .notes = "ember only (Spark picks it from the master URL alone)."},
    {.key = "plugins.path",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/plugin/plugins.c",
     .doc = "where to look for plugins, e.g. `/opt/ember/plugins`",
     .notes = "ember only."},
    {.key = "plugins.load",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/plugin/plugins.c",
     .doc = "comma-separated plugins to load at startup, e.g. `op_geo`",
     .notes = "ember only."},
    {.key = "executor.memory",
     .type = CONF_SIZE,
     .default_value = "1g",
     .min = "1m",
     .unit = MIB,
     .readers = "core/sched/driver.c core/exec/executor.c",
     .doc = "memory per executor process"},
    {.key = "executor.cores",
     .type = CONF_INT,
     .default_value = "1",
     .min = "1",
     .readers = "core/sched/driver.c",
     .doc = "cores (task slots) per executor",
     .notes = "Spark: 1 on YARN and Kubernetes, all the worker's cores on "
              "standalone."},
    {.key = "driver.bindAddress",
     .type = CONF_STRING,
     .default_value = "127.0.0.1",
     .readers = "core/sched/driver.c",
     .doc = "address the driver's sockets bind to",
     .notes = "Spark: defaults to `spark.driver.host`."},
    {.key = "driver.maxResultSize",
     .type = CONF_SIZE,
     .default_value = "1g",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "limit on the total size of the results of one action's tasks "
            "in a stage; `0` = unlimited"},
    {.key = "task.maxFailures",
     .type = CONF_INT,
     .default_value = "4",
     .min = "1",
     .readers = "core/sched/driver.c",
     .doc = "failures of one task (per partition, not per stage) before the "
            "job is aborted"},
    {.key = "task.maxDirectResultSize",
     .type = CONF_SIZE,
     .default_value = "1m",
     .unit = 1,
     .readers = "core/exec/executor.c",
     .doc = "larger task results are sent through the block manager instead "
            "of in the status reply"},
    {.key = "transport.data",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/exec/executor.c",
     .doc = "a second transport for bulk data (shuffle blocks) between "
            "executors **on the same host**, e.g. `shm` (plugin "
            "`transport_shm`, POSIX shared memory; see docs/transport-shm.md)",
     .notes = "Executors then serve blocks on both transports; a reducer uses "
              "the data transport when the map output's executor is on its "
              "host, and falls back to `transport` otherwise. Control "
              "messages always use `transport`."},
    {.key = "task.binaryBroadcastThreshold",
     .type = CONF_SIZE,
     .default_value = "1m",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "a stage binary (the plan of a stage: closures, parallelized "
            "data) larger than this reaches executors as a broadcast, fetched "
            "from the driver's block server once per executor, instead of "
            "inside the launch message on the control channel",
     .notes = "Spark always broadcasts task binaries; ember sends small ones "
              "inline, which is cheaper."},
    {.key = "task.cpus",
     .type = CONF_INT,
     .default_value = "1",
     .min = "1",
     .readers = "core/sched/driver.c",
     .doc = "cores reserved for each task",
     .notes = "An executor with fewer cores is refused."},
    {.key = "stage.maxConsecutiveAttempts",
     .type = CONF_INT,
     .default_value = "4",
     .min = "1",
     .readers = "core/sched/driver.c",
     .doc = "consecutive failed attempts of a stage (fetch failures) before "
            "it is aborted"},
    {.key = "locality.wait",
     .type = CONF_DURATION,
     .default_value = "3s",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "how long to wait for a slot at a more local level before "
            "relaxing locality"},
    {.key = "locality.wait.process",
     .type = CONF_DURATION,
     .default_value = "",
     .fallback = "locality.wait",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "locality wait for process-local slots; empty = `locality.wait`"},
    {.key = "locality.wait.node",
     .type = CONF_DURATION,
     .default_value = "",
     .fallback = "locality.wait",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "locality wait for node-local slots; empty = `locality.wait`"},
    {.key = "locality.wait.rack",
     .type = CONF_DURATION,
     .default_value = "",
     .fallback = "locality.wait",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "locality wait for rack-local slots; empty = `locality.wait`"},
    {.key = "executor.heartbeatInterval",
     .type = CONF_DURATION,
     .default_value = "10s",
     .min = "1ms",
     .unit = 1000,
     .readers = "core/sched/driver.c",
     .doc = "interval of executor heartbeats to the driver; must be well "
            "below `network.timeout`"},
    {.key = "network.timeout",
     .type = CONF_DURATION,
     .default_value = "120s",
     .min = "1ms",
     .unit = 1000,
     .readers =
         "core/sched/driver.c core/exec/executor.c core/exec/blockfetch.c",
     .doc = "default timeout for network interactions; an executor silent "
            "for this long is lost, and executors exit when the driver is "
            "gone this long"},
    {.key = "scheduler.minRegisteredResourcesRatio",
     .type = CONF_DOUBLE,
     .default_value = "0.0",
     .min = "0.0",
     .max = "1.0",
     .readers = "core/sched/driver.c",
     .doc = "fraction of expected resources that must register before "
            "scheduling starts",
     .notes = "Spark: 0.8 on YARN and Kubernetes, 0.0 on standalone."},
    {.key = "scheduler.maxRegisteredResourcesWaitingTime",
     .type = CONF_DURATION,
     .default_value = "30s",
     .unit = 1000,
     .readers = "core/sched/driver.c",
     .doc = "longest wait for resources to register before scheduling "
            "starts anyway"},
    {.key = "scheduler.launchAhead",
     .type = CONF_INT,
     .default_value = "2",
     .min = "0",
     .readers = "core/sched/driver.c",
     .doc = "not in Spark: tasks per core that may wait in an executor's "
            "queue beyond its free cores, so its task threads go from one "
            "task to the next without a round trip to the driver",
     .notes = "Only while every task the executor runs started less than "
              "20 ms ago, so no task waits behind a long one while another "
              "executor is idle. `0` schedules exactly like Spark. Only with "
              "`task.cpus` 1."},
    {.key = "scheduler.revive.interval",
     .type = CONF_DURATION,
     .default_value = "1s",
     .min = "1ms",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "interval of periodic resource offers to the task scheduler "
            "(drives delay scheduling)",
     .notes = "Offers are also made whenever a stage is submitted, a task "
              "ends or an executor comes or goes."},
    {.key = "scheduler.topology",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/sched/driver.c",
     .doc = "racks of hosts for `RACK_LOCAL` scheduling, as "
            "`host=rack,host=rack`",
     .notes = "Spark gets racks from YARN; ember takes them from this "
              "setting."},
    {.key = "default.parallelism",
     .type = CONF_INT,
     .default_value = "",
     .min = "0",
     .readers = "lua/lua_ember.c",
     .doc = "default number of partitions of distributed operations; empty "
            "or `0` = total executor cores",
     .notes = "Spark: cores of the machine in local mode, else max(total "
              "cores, 2)."},
    {.key = "local.dir",
     .type = CONF_STRING,
     .default_value = "/tmp",
     .readers = "core/sched/executors.c core/exec/executor.c",
     .doc = "directory for shuffle files and spilled data"},
    {.key = "eventLog.enabled",
     .type = CONF_BOOL,
     .default_value = "false",
     .readers = "core/sched/driver.c",
     .doc = "write an event log of the application"},
    {.key = "eventLog.dir",
     .type = CONF_STRING,
     .default_value = "/tmp/ember-events",
     .readers = "core/sched/driver.c",
     .doc = "directory of event logs",
     .notes = "Spark: `/tmp/spark-events`."},
    {.key = "authenticate",
     .type = CONF_BOOL,
     .default_value = "true",
     .readers = "core/sched/driver.c core/exec/executor.c",
     .doc = "only this application's processes may talk to its sockets: "
            "every socket proves its key (CurveZMQ over TCP, which also "
            "encrypts; a proof of keys over shared memory); see "
            "docs/security.md",
     .notes = "Spark: `spark.authenticate`, default false. `false` runs "
              "without authentication or encryption: only where every "
              "local user and the network are trusted."},
    {.key = "authenticate.secret.file",
     .type = CONF_STRING,
     .default_value = "",
     .readers = "core/sched/driver.c core/exec/executor.c",
     .doc = "a file (mode 0600, at least 16 bytes) from which every key of "
            "the application is derived, instead of fresh keys per "
            "application; executors read the same file",
     .notes = "Spark: `spark.authenticate.secret.file`."},
    {.key = "io.encryption.enabled",
     .type = CONF_BOOL,
     .default_value = "false",
     .readers = "core/sched/driver.c core/exec/executor.c",
     .doc = "encrypt and authenticate what executors keep on local disk "
            "(shuffle files, spills, cached blocks, task results) with a "
            "key of the application's; needs `authenticate`",
     .notes = "Spark: `spark.io.encryption.enabled`, default false (AES-CTR "
              "without integrity before Spark 3.5.2/4.0). ember seals every "
              "block frame with XChaCha20-Poly1305 and operator spill files "
              "with libsodium's secretstream, so altered data is refused "
              "(docs/security.md)."},
    {.key = "speculation",
     .type = CONF_BOOL,
     .default_value = "false",
     .readers = "core/sched/driver.c",
     .doc = "re-launch slow tasks speculatively"},
    {.key = "speculation.interval",
     .type = CONF_DURATION,
     .default_value = "100ms",
     .min = "1ms",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "how often to look for slow tasks"},
    {.key = "speculation.minTaskRuntime",
     .type = CONF_DURATION,
     .default_value = "100ms",
     .unit = 1,
     .readers = "core/sched/driver.c",
     .doc = "a task runs at least this long before it may be speculated",
     .notes = "Speculative copies never run on an executor already running "
              "the task; ember checks the executor, not the host as Spark "
              "does, so that speculation works on one machine."},
    {.key = "speculation.multiplier",
     .type = CONF_DOUBLE,
     .default_value = "3",
     .min = "1",
     .readers = "core/sched/driver.c",
     .doc = "how many times slower than the median a task must be to be "
            "speculated (Spark 4 default; 1.5 before)"},
    {.key = "speculation.quantile",
     .type = CONF_DOUBLE,
     .default_value = "0.9",
     .min = "0.0",
     .max = "1.0",
     .readers = "core/sched/driver.c",
     .doc = "fraction of a stage's tasks that must finish before speculation "
            "starts (Spark 4 default; 0.75 before)"},
    {.key = "memory.fraction",
     .type = CONF_DOUBLE,
     .default_value = "0.6",
     .min = "0.0",
     .max = "1.0",
     .readers = "core/exec/executor.c",
     .doc = "fraction of executor memory shared by execution and storage",
     .notes = "Spark takes it of (JVM heap − 300 MiB); ember has no JVM "
              "heap."},
    {.key = "memory.storageFraction",
     .type = CONF_DOUBLE,
     .default_value = "0.5",
     .min = "0.0",
     .max = "1.0",
     .readers = "core/exec/executor.c",
     .doc = "part of `memory.fraction` where cached blocks are immune to "
            "eviction"},
    {.key = "shuffle.compress",
     .type = CONF_BOOL,
     .default_value = "true",
     .readers = "core/exec/executor.c",
     .doc = "compress shuffle output"},
    {.key = "sql.shuffle.partitions",
     .type = CONF_INT,
     .default_value = "8",
     .min = "1",
     .readers = "lua/df/physical.lua",
     .doc = "partitions after a DataFrame shuffle (aggregations, joins, "
            "sorts)",
     .notes = "Spark: 200, which makes thousands of tiny tasks on a small "
              "machine; 8 keeps two cores busy. Raise it for data much "
              "larger than memory."},
    {.key = "sql.autoBroadcastJoinThreshold",
     .type = CONF_SIZE,
     .default_value = "10m",
     .min = "-1",
     .unit = 1,
     .readers = "lua/df/physical.lua",
     .doc = "a join whose right side is estimated (from file sizes and the "
            "columns read) below this size is a broadcast hash join; `-1` "
            "disables broadcasting"},
    /* values in EMBER_LOG_* order: readers pass conf_enum's index to
     * log_set_level (tests/unit/test_conf_keys.c checks) */
    {.key = "log.level",
     .type = CONF_ENUM,
     .default_value = "warn",
     .values = "error,warn|warning,info,debug",
     .readers = "cli/ember.c lua/lua_ember.c core/exec/executor.c",
     .doc = "logging threshold",
     .notes = "ember only (Spark uses log4j settings or `setLogLevel`)."},
    {.key = "files.maxPartitionBytes",
     .type = CONF_SIZE,
     .default_value = "128m",
     .min = "1",
     .unit = 1,
     .readers = "lua/df/read.lua",
     .doc = "largest number of bytes packed into one partition when reading "
            "files",
     .notes = "Spark: `spark.sql.files.maxPartitionBytes`."},
};

#define N_KNOWN (sizeof known / sizeof known[0])

const conf_keydef *conf_known_keys(size_t *n)
{
    if (n)
        *n = N_KNOWN;
    return known;
}

const conf_keydef *conf_keydef_find(const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(key, known[i].key) == 0)
            return &known[i];
    return NULL;
}
