#!/bin/sh
# The command line: help, errors a person can act on, --verbose, plugins.
. "$top_srcdir/tests/integration/lib.sh"
plan 9
run_ember "$T/o" --help; ok $? "ember --help"
run_ember "$T/o" submit --help && grep -q -- "--properties-file" "$T/o"; ok $? "ember submit --help lists the options"
run_ember "$T/o" submit /nonexistent.lua; [ $? -ne 0 ] && grep -q "cannot open job script" "$T/o"; ok $? "missing script: clear error"
printf 'executor.memory 1g\nexecutor.cores\n' > "$T/bad.conf"
echo 'print("hi")' > "$T/hi.lua"
run_ember "$T/o" submit --properties-file "$T/bad.conf" "$T/hi.lua"
[ $? -ne 0 ] && grep -q "bad.conf:2" "$T/o"; ok $? "a malformed config line is reported with file and line" || sed 's/^/# /' "$T/o"
printf 'executor.memory 2g\n' > "$T/good.conf"
run_ember "$T/o" submit --verbose --properties-file "$T/good.conf" --conf task.maxFailures=2 "$T/hi.lua"
grep -q "executor.memory.*2g.*good.conf:1" "$T/o" && grep -q "task.maxFailures.*2.*--conf" "$T/o"
ok $? "--verbose shows values and where they came from" || sed 's/^/# /' "$T/o"
grep -q "^hi$" "$T/o"; ok $? "the script runs"
printf 'print(arg[1], arg[2], select("#", ...))\n' > "$T/args.lua"
run_ember "$T/o" submit "$T/args.lua" one two && grep -q "one	two	2" "$T/o"; ok $? "script arguments in arg and ..."
run_ember "$T/o" plugins && grep -q "op_text" "$T/o" && grep -q "text.scan" "$T/o" && grep -q "transport_zmq" "$T/o" && grep -q "ABI 1\.[0-9]" "$T/o"
ok $? "ember plugins lists plugins, ABI and operators" || sed 's/^/# /' "$T/o"
printf 'local ember = require("ember")\nember.session{master = "yarn"}\n' > "$T/m.lua"
run_ember "$T/o" submit "$T/m.lua"; [ $? -ne 0 ] && grep -q "no cluster manager accepts master URL 'yarn'" "$T/o"; ok $? "unknown master URL: clear error"
finish
