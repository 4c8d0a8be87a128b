#!/bin/sh
# Configuration seen from the command line: values outside a key's range
# stop the session with a message naming key, value, origin and range;
# EMBER_CONF_DIR is the configuration directory (ember.conf and conf.d are
# read there), never a key.
. "$top_srcdir/tests/integration/lib.sh"
plan 6
printf 'local ember = require("ember")\nlocal sc = ember.session{master = "local[1]"}\nprint("count", sc:parallelize({1, 2, 3}):count())\nsc:stop()\n' > "$T/job.lua"

run_ember "$T/o" submit --conf local.dir="$T" --conf network.timeout=0 "$T/job.lua"
[ $? -ne 0 ] && grep -q 'invalid value "0" for network.timeout (from --conf): expected a duration of at least 1ms' "$T/o"
ok $? "network.timeout=0 is rejected, naming key, value, origin and range" || sed 's/^/# /' "$T/o"

mkdir -p "$T/etc/conf.d"
printf 'memory.fraction 1.5\n' > "$T/etc/ember.conf"
EMBER_CONF_DIR="$T/etc" run_ember "$T/o" submit --conf local.dir="$T" "$T/job.lua"
[ $? -ne 0 ] && grep -q "invalid value \"1.5\" for memory.fraction (from $T/etc/ember.conf:1): expected a number from 0.0 to 1.0" "$T/o"
ok $? "a value only the executors read is checked when the session starts" || sed 's/^/# /' "$T/o"

printf 'task.maxFailures 3\n' > "$T/etc/ember.conf"
printf 'app.name from-confd\n' > "$T/etc/conf.d/10-app.conf"
EMBER_CONF_DIR="$T/etc" run_ember "$T/o" submit --verbose --conf local.dir="$T" "$T/job.lua"
st=$?
grep -q "task.maxFailures.*3.*$T/etc/ember.conf:1" "$T/o" && grep -q "app.name.*from-confd.*10-app.conf:1" "$T/o"
ok $? "ember.conf and conf.d are read from EMBER_CONF_DIR" || sed 's/^/# /' "$T/o"
! grep -q "^  DIR \|key 'DIR'" "$T/o"
ok $? "EMBER_CONF_DIR is not taken for a key DIR (no value, no warning)" || sed 's/^/# /' "$T/o"
[ $st -eq 0 ] && grep -q "^count	3$" "$T/o"
ok $? "and the job runs" || sed 's/^/# /' "$T/o"

run_ember "$T/o" submit --conf local.dir="$T" --conf sql.autoBroadcastJoinThreshold=-1 --conf log.level=WARNING "$T/job.lua" && grep -q "^count	3$" "$T/o"
ok $? "-1 where a key allows it, and another spelling of an enum value, are valid" || sed 's/^/# /' "$T/o"
finish
