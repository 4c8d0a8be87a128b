#!/bin/sh
# Dependencies point one way (STYLE.md: "dependencies one way"; issue 11):
#   1. no #include cycle between modules of different subsystems in core/
#      and lua/;
#   2. no call cycle between them either (nm over the built objects: a
#      function declared by hand instead of included still counts);
#   3. the core has no Lua in it: no core/ file includes a Lua or lua/
#      header, and core/libember_core.a references no Lua symbol.
# A module is a .c with its .h (core/exec/blockmgr.{c,h}).  A subsystem is
# the set of modules that include one private *_int.h (core/sched's
# driver_int.h, lua's rt_int.h); every other module is a subsystem of its
# own, so a cycle is allowed only inside one *_int.h family.
. "$top_srcdir/tests/integration/lib.sh"
plan 3

# cross_cycles < lines "E from to" and "G module group": print
# "a <-> b" for every two modules of different groups that reach each other
cross_cycles() {
    awk '
    $1 == "G" { grp[$2] = $3; next }
    $1 == "E" && $2 != $3 {
        for (k = 2; k <= 3; k++)
            if (!($k in id)) { id[$k] = ++n; name[n] = $k }
        r[id[$2], id[$3]] = 1
    }
    function g(m) { return (m in grp) ? grp[m] : m }
    END {
        for (k = 1; k <= n; k++)
            for (i = 1; i <= n; i++)
                if ((i, k) in r)
                    for (j = 1; j <= n; j++)
                        if ((k, j) in r)
                            r[i, j] = 1
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if ((i, j) in r && (j, i) in r && g(name[i]) != g(name[j]))
                    print name[i] " <-> " name[j]
    }'
}

cd "$top_srcdir" || exit 1
find core lua -name '*.[ch]' | sort > "$T/files"

# include edges, and each module's group (the *_int.h it includes)
awk '
function dir(p) { sub(/\/[^\/]*$/, "", p); return p }
function mod(p) { if (p !~ /_int\.h$/) sub(/\.[ch]$/, "", p); return p }
BEGIN {
    while ((getline f < ARGV[1]) > 0) { have[f] = 1; files[++nf] = f }
    for (k = 1; k <= nf; k++) {
        f = files[k]
        m = mod(f)
        if (f ~ /_int\.h$/) print "G", m, m
        while ((getline line < f) > 0) {
            if (line !~ /^#include "/) continue
            inc = line
            sub(/^#include "/, "", inc)
            sub(/".*/, "", inc)
            t = ""
            if ((dir(f) "/" inc) in have) t = dir(f) "/" inc
            else if (("core/" inc) in have) t = "core/" inc
            else if (("lua/" inc) in have) t = "lua/" inc
            if (t == "") continue
            print "E", m, mod(t)
            if (t ~ /_int\.h$/) print "G", m, t
        }
        close(f)
    }
}' "$T/files" > "$T/incl"
cross_cycles < "$T/incl" > "$T/c1"
[ ! -s "$T/c1" ]
ok $? "no include cycle between subsystems in core/ and lua/ ($(grep -c '^E' "$T/incl") include edges)" ||
    sed 's/^/# /' "$T/c1"

# call edges: who defines each global symbol, who references it
grep '^G' "$T/incl" > "$T/calls"
objs=$(cd "$top_builddir" && find core lua -name '*_a-*.o' | sort)
for o in $objs; do
    m=$(echo "$o" | sed 's|[^/]*_a-||; s|\.o$||')
    nm "$top_builddir/$o" | awk -v m="$m" '
        $1 == "U" { print "U", m, $2; next }
        NF == 3 && $2 ~ /^[TDBRCG]$/ { print "D", m, $3 }'
done | awk '
    $1 == "D" { def[$3] = $2; next }
    { use[++n] = $2 SUBSEP $3 }
    END {
        for (i = 1; i <= n; i++) {
            split(use[i], p, SUBSEP)
            if (p[2] in def) print "E", p[1], def[p[2]]
        }
    }' > "$T/calls.e"
cat "$T/calls" "$T/calls.e" | cross_cycles > "$T/c2"
[ -n "$objs" ] && [ ! -s "$T/c2" ]
ok $? "no call cycle between subsystems ($(echo "$objs" | wc -w) objects)" ||
    sed 's/^/# /' "$T/c2"

# the core without Lua
grep -lE '^#include ("lua/|"(lua_ember|task_runtime|rt_int|serialize|ser_null|lbatch|lcounter|lsort|lsplit|luaparams)\.h"|<(lua|lauxlib|lualib)\.h>)' \
    $(find core -name '*.[ch]') > "$T/luainc" 2>/dev/null
nm -u "$top_builddir/core/libember_core.a" | grep -E '^ *U (lua|luaL|luaopen)_' > "$T/luasym"
[ ! -s "$T/luainc" ] && [ ! -s "$T/luasym" ]
ok $? "core/ includes no Lua header and its library references no Lua symbol" ||
    cat "$T/luainc" "$T/luasym" | sort -u | head -20 | sed 's/^/# /'
finish
