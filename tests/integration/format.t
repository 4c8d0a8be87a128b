#!/bin/sh
# The C sources follow .clang-format (STYLE.md: formatting is mechanical).
. "$top_srcdir/tests/integration/lib.sh"
plan 1
if ! command -v clang-format > /dev/null; then
    echo "ok 1 # skip clang-format is not installed"
    exit 0
fi
cd "$top_srcdir"
bad=""
for f in $(find include core lua cli plugins tests examples -name '*.[ch]' 2>/dev/null); do
    clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad="$bad $f"
done
[ -z "$bad" ]
ok $? "every C file is formatted (run clang-format -i on:$bad)"
finish
