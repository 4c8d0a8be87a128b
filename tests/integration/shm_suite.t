#!/bin/sh
# The RDD API and scheduler suites again, with shuffle blocks between
# executors over shared memory (transport.data=shm): same answers as zmq.
. "$top_srcdir/tests/integration/lib.sh"
plan 2
for t in rdd_api scheduler; do
    timeout -k 5 300 "$EMBER" submit --conf log.level=error --conf transport.data=shm \
        "$top_srcdir/tests/lua/$t.lua" > "$T/$t.out" 2>&1
    rc=$?
    n_ok=$(grep -c '^ok ' "$T/$t.out")
    n_not=$(grep -c '^not ok ' "$T/$t.out")
    [ $rc -eq 0 ] && [ "$n_not" -eq 0 ] && [ "$n_ok" -gt 10 ]
    ok $? "tests/lua/$t.lua over transport.data=shm: $n_ok passed, $n_not failed" ||
        grep -v '^ok ' "$T/$t.out" | head -20 | sed 's/^/# /'
done
finish
