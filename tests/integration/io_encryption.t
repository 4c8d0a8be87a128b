#!/bin/sh
# io_encryption.t -- io.encryption.enabled (issue 12): with it on, what the
# executors keep on local disk -- shuffle files, a DISK_ONLY cached
# dataset, the spill files of a DataFrame aggregation and of a sort in
# executors short of memory -- holds none of the plaintext the data
# carries (a marker in every key), while the answers stay exact; the same
# job with it off finds the marker in each kind of file, so the check can
# fail.  Spill files are deleted as soon as an operator is done with them,
# so EMBER_TEST_KEEP_SPILLS (core/codec/spillfile.h) keeps them on disk
# until the job script inspects the executors' directories, before
# sc:stop().  Also: io.encryption.enabled without authenticate is refused
# at start.
. "$top_srcdir/tests/integration/lib.sh"
plan 23

# The data: every string holds the marker.  The answers are computed
# again here in plain Lua, independently of ember.
cat > "$T/job.lua" <<'EOF'
local ember = require("ember")
local localdir, csv = arg[1], arg[2]
local M = "ZQXMARKER"
local sc = ember.session{app = "io-encryption",
                         conf = {["sql.shuffle.partitions"] = "2"}}
local ok, err = pcall(function()
  -- a shuffle: sums by key
  local pairs_ = {}
  for i = 1, 20000 do pairs_[i] = {M .. (i % 50), i} end
  local got = {}
  for _, kv in ipairs(sc:parallelize(pairs_, 4):reduce_by_key(function(a, b) return a + b end):collect()) do
    got[kv[1]] = kv[2]
  end
  local want, same = {}, true
  for i = 1, 20000 do want[M .. (i % 50)] = (want[M .. (i % 50)] or 0) + i end
  for k, v in pairs(want) do if got[k] ~= v then same = false end end
  for k in pairs(got) do if want[k] == nil then same = false end end
  print("shuffle answer " .. (same and "exact" or "WRONG"))

  -- a dataset cached on disk only, read twice
  local words = {}
  for i = 1, 5000 do words[i] = M .. "-" .. i end
  local ds = sc:parallelize(words, 4):map(function(w) return w .. "!" end):persist("DISK_ONLY")
  local n1 = ds:count()
  local len = ds:map(function(w) return #w end):reduce(function(a, b) return a + b end)
  local wantlen = 0
  for i = 1, 5000 do wantlen = wantlen + #(M .. "-" .. i .. "!") end
  local disk = 0
  for _, r in ipairs(sc:storage_info()) do
    if r.id == ds.node.id then disk = r.disk end
  end
  print("cache answer " .. ((n1 == 5000 and len == wantlen and disk > 0) and "exact" or
        ("WRONG " .. n1 .. " " .. len .. " " .. disk)))

  -- what the executors keep on disk, while the session lives: kind of
  -- each file, and whether it holds the marker
  local seen = {}
  local function scan(spillkind)
    local p = assert(io.popen("find '" .. localdir .. "' -type f"))
    for path in p:lines() do
      local base = path:match("[^/]+$")
      local kind = base:match("^shuffle_.*%.data$") and "shuffle" or
                   path:match("/blocks/") and "blocks" or
                   base:match("^ember%-spill%-") and spillkind or nil
      if kind and not seen[path] then
        local fh = assert(io.open(path, "rb"))
        local data = fh:read("a")
        fh:close()
        seen[path] = {kind = kind, marked = data:find(M, 1, true) ~= nil}
      end
    end
    p:close()
  end

  -- a DataFrame aggregation and sort that spill in executors of 32 MiB
  -- with memory.fraction 0.1
  local rows = {}
  local sums, counts = {}, {}
  local f = assert(io.open(csv))
  f:read("l")
  for line in f:lines() do
    local id, k = line:match("^(%d+),([^,]+),")
    id = tonumber(id)
    rows[#rows + 1] = {id = id, k = k}
    sums[k] = (sums[k] or 0) + id
    counts[k] = (counts[k] or 0) + 1
  end
  f:close()
  local df = sc.read:csv(csv, {header = true, schema = "id bigint, k string, pad string"})
  scan("aggspills") -- nothing yet: the RDD jobs above do not use spill files
  local agg = df:group_by("k"):agg{n = ember.count("*"), s = ember.sum("id")}:collect()
  local groups, aggok = 0, true
  for _, r in ipairs(agg) do
    groups = groups + 1
    if counts[r.k] ~= r.n or sums[r.k] ~= r.s then aggok = false end
  end
  local ngroups = 0
  for _ in pairs(counts) do ngroups = ngroups + 1 end
  print("agg answer " .. ((aggok and groups == ngroups) and "exact" or "WRONG"))
  scan("aggspills")
  table.sort(rows, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.id < b.id end)
  local sorted = df:order_by("k", "id"):select("id", "k"):collect()
  local sortok = #sorted == #rows
  for i = 1, #rows do
    if not sortok then break end
    sortok = sorted[i].id == rows[i].id and sorted[i].k == rows[i].k
  end
  print("sort answer " .. (sortok and "exact" or "WRONG"))
  scan("sortspills")

  local files, marked = {}, {}
  for _, v in pairs(seen) do
    files[v.kind] = (files[v.kind] or 0) + 1
    marked[v.kind] = (marked[v.kind] or 0) + (v.marked and 1 or 0)
  end
  for _, kind in ipairs({"shuffle", "blocks", "aggspills", "sortspills"}) do
    print(string.format("%s files %d marked %d", kind, files[kind] or 0, marked[kind] or 0))
  end
end)
sc:stop()
if not ok then error(err, 0) end
EOF

# 300000 rows, 200000 distinct keys, each key carrying the marker
python3 - "$T/rows.csv" <<'EOF'
import sys
x = 12345
with open(sys.argv[1], "w") as f:
    f.write("id,k,pad\n")
    for i in range(1, 300001):
        x = (x * 1103515245 + 12345) % 2147483648
        f.write("%d,ZQXMARKER%07d,%s\n" % (i, x % 200000, "p" * (40 + x % 20)))
EOF

# run_job NAME IO: the job in 32 MiB executors with io.encryption.enabled=IO
run_job() {
    mkdir -p "$T/local-$1"
    EMBER_TEST_KEEP_SPILLS=1 timeout -k 5 300 "$EMBER" submit \
        --master 'local-cluster[2,1,32]' --conf memory.fraction=0.1 \
        --conf log.level=warn \
        --conf io.encryption.enabled="$2" --conf local.dir="$T/local-$1" \
        "$T/job.lua" "$T/local-$1" "$T/rows.csv" > "$T/out-$1" 2>&1
}

# field OUT KIND COLUMN: "files" or "marked" count of KIND in OUT
field() {
    awk -v k="$2" -v c="$3" '$1 == k && $2 == "files" { print (c == "files" ? $3 : $5) }' "$1"
}

# 1-13: encrypted
run_job on true
ok $? "the job runs with io.encryption.enabled=true" || sed 's/^/# /' "$T/out-on"
for what in shuffle cache agg sort; do
    grep -q "^$what answer exact\$" "$T/out-on"
    ok $? "encrypted: the $what answer is exact"
done
for kind in shuffle blocks aggspills sortspills; do
    cnt=$(field "$T/out-on" $kind files)
    m=$(field "$T/out-on" $kind marked)
    [ "${cnt:-0}" -gt 0 ]
    ok $? "encrypted: $kind files on disk (${cnt:-none})"
    [ "${m:-1}" -eq 0 ]
    ok $? "encrypted: none of them holds the marker (${m:-?} do)"
done
[ $failed -eq 0 ] || sed 's/^/# /' "$T/out-on"

# 14-22: the same job in the clear shows the marker in every kind of file
run_job off false
ok $? "the job runs with io.encryption.enabled=false" || sed 's/^/# /' "$T/out-off"
for what in shuffle cache agg sort; do
    grep -q "^$what answer exact\$" "$T/out-off"
    ok $? "in the clear: the $what answer is exact"
done
for kind in shuffle blocks aggspills sortspills; do
    m=$(field "$T/out-off" $kind marked)
    [ "${m:-0}" -gt 0 ]
    ok $? "in the clear: the marker is in ${m:-no} $kind files"
done

# 23: without authenticate the io key could not reach the executors
timeout -k 5 60 "$EMBER" submit --conf authenticate=false \
    --conf io.encryption.enabled=true --conf local.dir="$T/local-noauth" \
    "$T/job.lua" "$T/local-noauth" "$T/rows.csv" > "$T/out-noauth" 2>&1
st=$?
[ $st -ne 0 ] && grep -q "io.encryption.enabled needs authenticate" "$T/out-noauth"
ok $? "io.encryption.enabled without authenticate is refused at start, naming both" ||
    sed 's/^/# /' "$T/out-noauth"
exit 0
