#!/bin/sh
# kill -9 of the driver makes every executor exit and remove its local
# directory; so does a normal end and a failed job.
. "$top_srcdir/tests/integration/lib.sh"
plan 7
cat > "$T/slow.lua" <<'LUA'
local ember = require("ember")
local sc = ember.session{}
local f = io.open(arg[1], "w") f:write(sc.app_id) f:close()
sc:range(4, 4):foreach(function(x) local t = os.time() while os.time() - t < 60 do end end)
LUA
"$EMBER" submit --master 'local-cluster[2,1,256]' --conf local.dir="$T" "$T/slow.lua" "$T/app" > "$T/out" 2>&1 &
drv=$!
wait_for test -s "$T/app"
app=$(cat "$T/app")
wait_for sh -c "[ \$(pgrep -f '[e]xecutor --driver .*--app-id $app' | wc -l) -eq 2 ]"
ok $? "two executor processes are running"
ls -d "$T"/ember-"$app"-exec-* > /dev/null 2>&1
ok $? "executors created their local directories"
kill -9 "$drv"
wait "$drv" 2>/dev/null
wait_for sh -c "! pgrep -f '[e]xecutor --driver .*--app-id $app' > /dev/null"
ok $? "executors exit after kill -9 of the driver"
wait_for sh -c "! ls -d '$T'/ember-$app-exec-* > /dev/null 2>&1"
ok $? "and remove their local directories"

cat > "$T/ok.lua" <<'LUA'
local ember = require("ember")
local sc = ember.session{}
assert(sc:range(100, 4):count() == 100)
LUA
run_ember "$T/out2" submit --master 'local-cluster[2,1,256]' --conf local.dir="$T" "$T/ok.lua"
ok $? "a normal job exits 0"
cat > "$T/fail.lua" <<'LUA'
local ember = require("ember")
local sc = ember.session{}
sc:range(10, 2):map(function(x) error("task failure " .. x) end):count()
LUA
run_ember "$T/out3" submit --master 'local-cluster[2,1,256]' --conf local.dir="$T" "$T/fail.lua"
[ $? -ne 0 ] && grep -q "fail.lua:3: task failure" "$T/out3" && grep -q "stack traceback" "$T/out3"
ok $? "a failing job exits non-zero with the user's message and traceback" || sed 's/^/# /' "$T/out3"
wait_for sh -c "! ls -d '$T'/ember-*-exec-* > /dev/null 2>&1 && ! pgrep -f '[e]xecutor --driver .*local.dir=$T' > /dev/null"
ok $? "no executor or local directory is left behind" || { ls -la "$T"; pgrep -af "[e]xecutor --driver"; } | sed "s/^/# /"
finish
