# lib.sh -- helpers for shell integration tests (TAP).
# Every test gets a private temp dir $T, removed at exit together with any
# ember process it started (no orphans).
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/ember-test.XXXXXX")
EMBER=${EMBER:-$top_builddir/cli/ember}
n=0
failed=0
# every process a test starts names $T in its arguments (job files,
# local.dir, eventLog.dir): whatever is left of them at exit is killed,
# stopped ones included
cleanup() {
    pkill -9 -f -- "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
plan() { echo "1..$1"; }
ok() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
    return "$1"
}
diag() { echo "$*" | sed 's/^/# /'; }
# run_ember OUTFILE ARGS...: run ember with a 120 s bound, stdout+stderr to OUTFILE
run_ember() {
    out=$1
    shift
    timeout -k 5 120 "$EMBER" "$@" > "$out" 2>&1
}
# wait_for CMD... : poll until CMD succeeds, at most 60 s (a loaded CI
# machine running sanitizer builds can be slow; a passing run returns as
# soon as CMD succeeds)
wait_for() {
    i=0
    while ! "$@" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 1200 ] && return 1
        sleep 0.05
    done
    return 0
}
# ev_eval EXPR FILE...: print the value of the Python expression EXPR, in which
# `evs` is the list of events of the event logs FILE... (glob patterns,
# expanded at each call), every line parsed as strict JSON (an error
# otherwise); a last line still being written is left out.
ev_eval() {
    python3 -c '
import glob, json, sys
def strict(c):
    raise ValueError("not JSON: " + c)
evs = []
for pat in sys.argv[2:]:
    for path in sorted(glob.glob(pat)):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        evs += [json.loads(l, parse_constant=strict) for l in lines[:-1]]
print(eval(sys.argv[1], {"evs": evs}))
' "$@"
}
# ev_any EXPR FILE...: some event `e` of the logs makes EXPR true
ev_any() {
    expr=$1
    shift
    [ "$(ev_eval "any(($expr) for e in evs)" "$@")" = True ]
}
# ev_count EXPR FILE...: how many events `e` make EXPR true
ev_count() {
    expr=$1
    shift
    ev_eval "sum(1 for e in evs if ($expr))" "$@"
}
finish() { [ "$failed" -eq 0 ]; exit $?; }
# listen_eps PID: the TCP endpoints PID listens on, one tcp://ADDR:PORT a line
listen_eps() {
    ss -tlnpH 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { print "tcp://" $4 }'
}
# descendants PID: PID's children, their children, ... one pid a line
descendants() {
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}
