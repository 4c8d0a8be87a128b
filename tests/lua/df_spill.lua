-- DataFrame operators under memory pressure: in executors of 32 MiB a
-- global sort and a wide aggregation spill to disk (the event log's
-- "Memory Bytes Spilled"), and give the same answers as with plenty of
-- memory.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "/events'")
local csv = tmp .. "/rows.csv"
do
  local f = assert(io.open(csv, "w"))
  local x = 12345
  f:write("id,k,pad\n")
  for i = 1, 300000 do
    x = (x * 1103515245 + 12345) % 2147483648
    f:write(i, ",", string.format("k%07d", x % 200000), ",", string.rep("p", 40 + x % 20), "\n")
  end
  f:close()
end

local function run(master, evlog)
  local conf = {["sql.shuffle.partitions"] = "2"}
  if evlog then
    conf["eventLog.enabled"] = true
    conf["eventLog.dir"] = tmp .. "/events"
  end
  local sc = ember.session{app = "df-spill", master = master, conf = conf}
  local ok, r = pcall(function()
    local df = sc.read:csv(csv, {header = true, schema = "id bigint, k string, pad string"})
    local sorted = df:order_by("k", "id"):select("id", "k")
    local s1, n, prev, inorder = 0, 0, nil, true
    -- fold the sorted output into an order-sensitive checksum
    for _, r in ipairs(sorted:collect()) do
      n = n + 1
      s1 = (s1 * 31 + r.id) % 1000000007
      if prev and prev > r.k then inorder = false end
      prev = r.k
    end
    local agg = df:group_by("k"):agg{n = ember.count("*"), m = ember.max("pad"),
                                    s = ember.sum("id")}
    local s2, groups = 0, 0
    for _, r in ipairs(agg:collect()) do
      groups = groups + 1
      s2 = (s2 + r.n * 7 + r.s + #r.m) % 1000000007
    end
    local spilled = 0
    if evlog then
      for _, ev in ipairs(t.events(tmp .. "/events", sc.app_id)) do
        spilled = spilled + (ev["Task Metrics"] and ev["Task Metrics"]["Memory Bytes Spilled"] or 0)
      end
    end
    return {sum = s1, n = n, inorder = inorder, agg = s2, groups = groups, spilled = spilled}
  end)
  sc:stop()
  if not ok then error(r, 0) end
  return r
end

local ok, err = pcall(function()
  t.plan(5)
  local big = run("local-cluster[2,1,1024]", false)
  local small = run("local-cluster[2,1,32]", true)
  t.ok(small.inorder and small.n == 300000, "the sort in 32 MiB executors is ordered and complete")
  t.is(small.sum, big.sum, "... and identical to the run with 1 GiB executors")
  t.is(small.groups, big.groups, "the aggregation finds the same groups (" .. big.groups .. ")")
  t.is(small.agg, big.agg, "... with the same counts, sums and maxima")
  t.ok(small.spilled > 0, string.format("the operators spilled %.1f MiB to disk", small.spilled / 1048576))
end)
os.execute("rm -rf '" .. tmp .. "'")
if not ok then error(err, 0) end
t.done()
