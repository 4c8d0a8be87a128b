#!/bin/sh
# The plugin SDK: after `make install`, `pkg-config --cflags ember` works and
# the out-of-tree example plugin (examples/plugins/op_upper) builds against
# the installed headers only, loads, and runs from Lua.
. "$top_srcdir/tests/integration/lib.sh"
plan 6
dest="$T/dest"
make -s -C "$top_builddir" install DESTDIR="$dest" > "$T/install.log" 2>&1
ok $? "make install into a staging directory" || sed 's/^/# /' "$T/install.log"
pc=$(find "$dest" -name ember.pc | head -1)
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
cflags=$(pkg-config --cflags ember)
[ -f "$(echo "$cflags" | sed 's/^-I//; s/ *$//')/ember/plugin.h" ]
ok $? "pkg-config --cflags ember points at the installed plugin.h ($cflags)"
cp -r "$top_srcdir/examples/plugins/op_upper" "$T/op_upper"
chmod -R u+w "$T/op_upper"
make -s -C "$T/op_upper" > "$T/build.log" 2>&1
ok $? "the example plugin builds out of tree against the installed headers" || sed 's/^/# /' "$T/build.log"
nm -D --defined-only "$T/op_upper/op_upper.so" | grep -v ' ember_plugin_entry$' | grep -q ' T '
[ $? -ne 0 ]
ok $? "it exports only ember_plugin_entry"
cat > "$T/job.lua" <<'LUA'
local ember = require("ember")
local sc = ember.session{master = "local[2]"}
local out = sc:parallelize({"hello", "world"}, 2):apply("upper.apply", {suffix = "!"}):collect()
print(table.concat(out, " "))
local ok, err = pcall(function() sc:parallelize({"x"}):apply("upper.apply", {sufix = "?"}) end)
print(err)
LUA
run_ember "$T/out" submit --conf plugins.path="$T/op_upper" --conf plugins.load=op_upper "$T/job.lua"
grep -q "^HELLO! WORLD!$" "$T/out"
ok $? "a job uses the plugin's operator on two executors' data" || sed 's/^/# /' "$T/out"
grep -q "no option 'sufix' (valid: suffix)" "$T/out"
ok $? "a misspelt operator option raises with the valid options" || sed 's/^/# /' "$T/out"
finish
