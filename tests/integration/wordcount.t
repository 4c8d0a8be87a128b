#!/bin/sh
# Word count with real executor processes equals an independent count
# (tr | sort | uniq -c), on local[2] and local-cluster[3,1,512].
. "$top_srcdir/tests/integration/lib.sh"
plan 11
sh "$top_srcdir/examples/gen_corpus.sh" "$T/corpus.txt" 3000
# the independent oracle: same word rule (runs of letters, lower case)
tr -cs 'A-Za-z' '\n' < "$T/corpus.txt" | tr 'A-Z' 'a-z' | grep -v '^$' |
    sort | uniq -c | awk '{print $1, $2}' | sort -k1,1nr -k2,2 > "$T/oracle"
distinct=$(wc -l < "$T/oracle")
head -20 "$T/oracle" > "$T/oracle.top"
for master in 'local[2]' 'local-cluster[3,1,512]'; do
    run_ember "$T/out" submit --master "$master" \
        "$top_srcdir/examples/wordcount.lua" "$T/corpus.txt" 20
    ok $? "wordcount on $master exits 0"
    grep -q "^$distinct distinct words" "$T/out"
    ok $? "wordcount on $master: $distinct distinct words"
    tail -20 "$T/out" | awk '{print $1, $2}' > "$T/top"
    cmp -s "$T/top" "$T/oracle.top"
    ok $? "wordcount on $master: top 20 equal the oracle's" || diff "$T/top" "$T/oracle.top" | sed 's/^/# /'
done
# the same job with bulk data over shared memory between executors (all
# three registered before scheduling, so that map outputs are spread over
# executors and reduce tasks must fetch some from another one)
run_ember "$T/out" submit --master 'local-cluster[3,1,512]' --conf transport.data=shm \
    --conf scheduler.minRegisteredResourcesRatio=1 \
    --conf eventLog.enabled=true --conf eventLog.dir="$T/ev" \
    "$top_srcdir/examples/wordcount.lua" "$T/corpus.txt" 20
ok $? "wordcount with transport.data=shm exits 0"
grep -q "^$distinct distinct words" "$T/out"
ok $? "wordcount with transport.data=shm: $distinct distinct words"
tail -20 "$T/out" | awk '{print $1, $2}' > "$T/top"
cmp -s "$T/top" "$T/oracle.top"
ok $? "wordcount with transport.data=shm: top 20 equal the oracle's"
ev_any 'e["Event"] == "SparkListenerTaskEnd" and "Task Metrics" in e and e["Task Metrics"]["Shuffle Read Metrics"]["Data Transport Bytes Read"] >= 1' "$T/ev/app-*"
ok $? "shuffle blocks travelled over shared memory"
left=""
for pid in $(ev_eval '" ".join(str(e["Executor Info"]["Process ID"]) for e in evs if e["Event"] == "SparkListenerExecutorAdded")' "$T/ev/app-*"); do
    ls /dev/shm/ember-ember-"$pid"-* > /dev/null 2>&1 && left="$left $pid"
done
[ -z "$left" ]
ok $? "the executors left no shared-memory objects behind$left"
finish
