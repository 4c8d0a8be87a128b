#!/bin/sh
# Faults with real processes (local-cluster): an executor killed with -9
# while a two-stage job runs, an executor stopped with SIGSTOP, and a task
# that always fails.  Answers must stay exact; the event log shows what the
# scheduler did.
. "$top_srcdir/tests/integration/lib.sh"
plan 12

cat > "$T/job.lua" <<'LUA'
-- two stages: 12 map tasks, then 6 slow reduce tasks
local ember = require("ember")
local sc = ember.session{}
local function spin(ms)
  local t = os.clock() + ms / 1000
  while os.clock() < t do end
end
local pairs_ = sc:range(12000, 12):map(function(x) if x % 10 == 0 then spin(1) end return {x % 97, x} end)
local sums = pairs_:reduce_by_key(function(a, b) return a + b end, 6)
  :map_partitions(function(it)
    spin(tonumber(arg and arg[1]) or 800)
    local out = {}
    for kv in it do out[#out + 1] = kv end
    return out
  end)
  :collect()
local total, keys = 0, 0
for _, kv in ipairs(sums) do total = total + kv[2]; keys = keys + 1 end
print("keys", keys, "total", total)
LUA
expect="keys	97	total	71994000"
# the process id of the first executor the running application's event
# log names
first_executor_pid() {
    ev_eval '[e["Executor Info"]["Process ID"] for e in evs if e["Event"] == "SparkListenerExecutorAdded"][0]' "$T/ev/*.inprogress"
}
conf="--conf eventLog.enabled=true --conf eventLog.dir=$T/ev --conf network.timeout=4s --conf executor.heartbeatInterval=500ms --conf local.dir=$T"

# --- kill -9 one of three executors during the reduce stage
"$EMBER" submit --master 'local-cluster[3,1,256]' $conf "$T/job.lua" > "$T/out1" 2>&1 &
drv=$!
wait_for ev_any 'e.get("Stage Info", {}).get("Stage Type") == "ResultStage"' "$T/ev/*.inprogress"
victim=$(first_executor_pid)
kill -9 "$victim"
wait "$drv"
ok $? "the job survives kill -9 of an executor"
grep -q "^$expect\$" "$T/out1"
ok $? "and its answer is exact" || sed 's/^/# /' "$T/out1"
ev=$(ls "$T"/ev/app-* | head -1)
[ "$(ev_count 'e["Event"] == "SparkListenerExecutorAdded"' "$ev")" -ge 4 ]
ok $? "a replacement executor registered"
ev_any 'e["Event"] == "SparkListenerExecutorRemoved" and "killed by signal 9" in e["Removed Reason"]' "$ev"
ok $? "the event log says the executor was lost, and why"
# lost map outputs are recomputed: the map stage runs again (a second
# submission of stage 0, or a second attempt of it)
[ "$(ev_count 'e["Event"] == "SparkListenerStageSubmitted" and e["Stage Info"]["Stage ID"] == 0' "$ev")" -ge 2 ]
ok $? "the lost map outputs were recomputed (map stage resubmitted)" || grep -E 'StageSubmitted|Removed' "$ev" | cut -c1-160 | sed 's/^/# /'
rm -rf "$T/ev"

# --- SIGSTOP: declared lost after network.timeout, job completes
"$EMBER" submit --master 'local-cluster[2,1,256]' $conf "$T/job.lua" 300 > "$T/out2" 2>&1 &
drv=$!
wait_for ev_any 'e["Event"] == "SparkListenerTaskStart"' "$T/ev/*.inprogress"
victim=$(first_executor_pid)
kill -STOP "$victim"
wait "$drv"
rc=$?
kill -CONT "$victim" 2>/dev/null
ok $rc "the job completes with one executor stopped (SIGSTOP)"
grep -q "^$expect\$" "$T/out2"
ok $? "with the exact answer" || sed 's/^/# /' "$T/out2"
ev=$(ls "$T"/ev/app-* | head -1)
ev_any 'e["Event"] == "SparkListenerExecutorRemoved" and "heartbeat timed out" in e["Removed Reason"]' "$ev"
ok $? "the stopped executor was declared lost after network.timeout"
wait_for sh -c "! kill -0 $victim 2>/dev/null"
ok $? "the stopped executor is gone after the driver ends"

# --- a driver that stops answering (SIGSTOP): executors leave by themselves
rm -rf "$T/ev"
"$EMBER" submit --master 'local-cluster[2,1,256]' $conf "$T/job.lua" 5000 > "$T/out4" 2>&1 &
drv=$!
wait_for ev_any 'e["Event"] == "SparkListenerTaskStart"' "$T/ev/*.inprogress"
kill -STOP "$drv"
wait_for sh -c "! pgrep -f '[e]xecutor --driver .*local.dir=$T' > /dev/null"
ok $? "executors exit when the driver stops answering for network.timeout"
! ls -d "$T"/ember-*-exec-* > /dev/null 2>&1
ok $? "and remove their local directories"
kill -9 "$drv"
kill -CONT "$drv" 2>/dev/null
wait "$drv" 2>/dev/null

# --- a task that always raises: 4 attempts, then the job fails
cat > "$T/fail.lua" <<'LUA'
local ember = require("ember")
local sc = ember.session{}
sc:range(4, 2):map(function(x) if x == 3 then error("always " .. x) end return x end):count()
LUA
"$EMBER" submit --master 'local-cluster[2,1,256]' $conf "$T/fail.lua" > "$T/out3" 2>&1
[ $? -ne 0 ] && grep -q "failed 4 times" "$T/out3" && grep -q "fail.lua:3: always 3" "$T/out3"
ok $? "a task that always fails ends the job after 4 attempts with the user's error" || sed 's/^/# /' "$T/out3"
finish
