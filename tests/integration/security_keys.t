#!/bin/sh
# security_keys.t -- keys from outside the launch channel (issue 12):
# authenticate.secret.file on both sides, an executor with the wrong key
# (refused fast with a clear message; the job completes on the others),
# a secret file others can read (the driver refuses to start), and the
# local directory / file modes against a symlink planted where a file of
# the executor would go.
. "$top_srcdir/tests/integration/lib.sh"
plan 12

# A job that waits for $T/go before its tasks end, so a test can act while
# it runs; its answer is checked against an independent sum.
cat > "$T/job.lua" <<'EOF'
local ember = require("ember")
local sc = ember.session{app = "keys"}
local go = arg[1]
local n = sc:parallelize({1, 2, 3, 4, 5, 6, 7, 8}, 4):map(function(x)
  for _ = 1, 600 do
    local f = io.open(go)
    if f then f:close() break end
    os.execute("sleep 0.1")
  end
  return x * x
end):reduce(function(a, b) return a + b end)
print("answer " .. n)
sc:stop()
EOF
want=204 # 1 + 4 + ... + 64

umask 022
printf 'a long enough application secret\n' > "$T/secret"
chmod 600 "$T/secret"
printf 'another secret, also long enough\n' > "$T/other"
chmod 600 "$T/other"
mkdir -p "$T/local"

# executor_args PID: the --driver and --app-id of PID's first executor
exec_arg() {
    pid=$(pgrep -f -- "executor --driver.*$T" | head -1)
    [ -n "$pid" ] || return 1
    tr '\0' '\n' < "/proc/$pid/cmdline" | awk -v k="$1" 'p { print; exit } $0 == k { p = 1 }'
}

# 1-2: both sides derive their keys from one secret file
touch "$T/go"
timeout -k 5 120 "$EMBER" submit --master 'local-cluster[2,1,256]' \
    --conf authenticate.secret.file="$T/secret" --conf local.dir="$T/local" \
    "$T/job.lua" "$T/go" > "$T/out1" 2>&1
ok $? "a job with authenticate.secret.file runs" || sed 's/^/# /' "$T/out1"
grep -q "^answer $want\$" "$T/out1"
ok $? "and gives the exact answer"
rm -f "$T/go"

# 3-7: an executor with a wrong key joins a running job
timeout -k 5 120 "$EMBER" submit --master 'local-cluster[2,1,256]' \
    --conf local.dir="$T/local" "$T/job.lua" "$T/go" > "$T/out2" 2>&1 &
job=$!
wait_for exec_arg --driver > /dev/null
drv=$(exec_arg --driver)
app=$(exec_arg --app-id)
start=$(date +%s)
timeout -k 5 60 "$EMBER" executor --driver "$drv" --app-id "$app" \
    --executor-id 9 --cores 1 --conf authenticate.secret.file="$T/other" \
    --conf local.dir="$T/local" > "$T/rogue" 2>&1
rc=$?
took=$(($(date +%s) - start))
[ $rc -ne 0 ] && [ $rc -ne 124 ]
ok $? "an executor with another key exits with an error (status $rc)"
[ $took -le 20 ]
ok $? "within seconds, not after a timeout (${took} s)"
grep -q "did not admit this executor" "$T/rogue"
ok $? "saying the driver did not admit its key" || sed 's/^/# /' "$T/rogue"
touch "$T/go"
wait $job
ok $? "the job still completes" || sed 's/^/# /' "$T/out2"
grep -q "^answer $want\$" "$T/out2"
ok $? "on the other executors, with the exact answer"

# 8: a secret file others can read is refused before anything starts
chmod 644 "$T/other"
timeout -k 5 60 "$EMBER" submit --master 'local-cluster[1,1,256]' \
    --conf authenticate.secret.file="$T/other" "$T/job.lua" "$T/go" \
    > "$T/out3" 2>&1
[ $? -ne 0 ] && grep -q "chmod 600" "$T/out3"
ok $? "a secret file others can read is refused, saying what to do" ||
    sed 's/^/# /' "$T/out3"

# 9-10: the executors' directories are private and were made fresh
rm -f "$T/go"
timeout -k 5 120 "$EMBER" submit --master 'local-cluster[2,1,256]' \
    --conf local.dir="$T/local" "$T/job.lua" "$T/go" > "$T/out4" 2>&1 &
job=$!
wait_for sh -c "ls -d '$T'/local/ember-*-exec-* > /dev/null 2>&1"
dirs_ok=0
for d in "$T"/local/ember-*-exec-*; do
    [ "$(stat -c %a "$d")" = 700 ] || dirs_ok=1
done
ok $dirs_ok "every executor directory is mode 0700"
# plant a symlink where executor 1's task result for a made-up task would
# go, and one as a whole directory for a new executor id: neither may be
# followed or used
d1=$(ls -d "$T"/local/ember-*-exec-1 | head -1)
app=$(basename "$d1" | sed 's/^ember-//; s/-exec-1$//')
mkdir -p "$T/attacker"
ln -s "$T/attacker" "$T/local/ember-$app-exec-7"
timeout -k 5 30 "$EMBER" executor --driver "$(exec_arg --driver)" \
    --app-id "$app" --executor-id 7 --cores 1 --conf authenticate=false \
    --conf local.dir="$T/local" > "$T/planted" 2>&1
[ $? -ne 0 ] && grep -q "exists already" "$T/planted" &&
    [ -z "$(ls -A "$T/attacker")" ]
ok $? "a planted local directory is refused and nothing is written through it" ||
    sed 's/^/# /' "$T/planted"
touch "$T/go"
wait $job
ok $? "the job completes" || sed 's/^/# /' "$T/out4"
grep -q "^answer $want\$" "$T/out4"
ok $? "with the exact answer"
finish
