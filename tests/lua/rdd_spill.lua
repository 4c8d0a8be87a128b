-- RDD aggregations within execution memory: reduce_by_key, group_by_key
-- and distinct over a key space several times an executor's memory keep
-- their hash tables within the executors' pools, spill them to local run
-- files when memory is refused, and still give exact answers.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "/local'")
local evdir = tmp .. "/events"
local MEM = 32 -- MiB per executor: a pool of 19.2 MiB
local sc = ember.session{master = "local-cluster[2,1," .. MEM .. "]", conf = {
  ["eventLog.enabled"] = true, ["eventLog.dir"] = evdir,
  ["local.dir"] = tmp .. "/local", ["task.maxFailures"] = 1,
  ["executor.heartbeatInterval"] = "100ms"}}

local function events() return t.events(evdir, sc.app_id) end

-- bytes the result tasks (the reduce side) of the jobs run by f spilled
local function reduce_spill(f)
  local before = #events()
  local r = f()
  local ev, spilled, tasks = events(), 0, 0
  for i = before + 1, #ev do
    local e = ev[i]
    if e.Event == "SparkListenerTaskEnd" and e["Task Type"] == "ResultTask" then
      tasks = tasks + 1
      spilled = spilled + (e["Task Metrics"] and e["Task Metrics"]["Memory Bytes Spilled"] or 0)
    end
  end
  return r, spilled, tasks
end

-- run files in the executors' local directories, once no task runs (a
-- task of an aborted job may still be finishing: wait up to 10 s)
local function leftover_spill_files()
  local n, deadline = nil, os.time() + 10
  repeat
    if n then os.execute("sleep 0.2") end
    local p = io.popen("find '" .. tmp .. "/local' -name 'aggspill_*' | wc -l")
    n = tonumber(p:read("a"))
    p:close()
  until n == 0 or os.time() > deadline
  return n
end

-- 2,000,000 records over 1,000,000 keys (x % K), two values per key; two
-- reduce partitions: 500,000 keys per task, about 40 MiB of Lua tables
-- against a 19.2 MiB pool
local K = 1000000
local R = 2
local function add3(a, b) return {a[1] + b[1], a[2] + b[2], a[3] + b[3]} end
-- {count, sum of keys, sum of squares of keys} for keys 0 .. K-1, computed
-- here
local want = {K, K * (K - 1) // 2, (K - 1) * K * (2 * K - 1) // 6}
local src = sc:range(2 * K, 4):map(function(x) return {x % K, x} end)

local res, sp, nt = reduce_spill(function()
  local wrong = sc:accumulator(0)
  local r = src:reduce_by_key(function(a, b) return a + b end, R)
    :map(function(kv)
      local k, v = kv[1], kv[2]
      if v ~= 2 * k + K then wrong:add(1) end
      return {1, k, k * k}
    end):reduce(add3)
  return {r, wrong.value}
end)
t.same(res[1], want, "reduce_by_key: every key once (count, sum, sum of squares)")
t.is(res[2], 0, "reduce_by_key: every sum exact")
t.ok(sp > 0, string.format("reduce_by_key: %d reduce tasks spilled %.1f MiB", nt, sp / 1048576))

res, sp, nt = reduce_spill(function()
  local wrong = sc:accumulator(0)
  local r = src:group_by_key(R)
    :map(function(kv)
      local k, vs = kv[1], kv[2]
      local lo, hi = math.min(vs[1], vs[2] or -1), math.max(vs[1], vs[2] or -1)
      if #vs ~= 2 or lo ~= k or hi ~= k + K then wrong:add(1) end
      return {1, k, k * k}
    end):reduce(add3)
  return {r, wrong.value}
end)
t.same(res[1], want, "group_by_key: every key once")
t.is(res[2], 0, "group_by_key: every group holds exactly its two values")
t.ok(sp > 0, string.format("group_by_key: %d reduce tasks spilled %.1f MiB", nt, sp / 1048576))

res, sp, nt = reduce_spill(function()
  return sc:range(2 * K, 4):map(function(x) return x % K end):distinct(R)
    :map(function(k) return {1, k, k * k} end):reduce(add3)
end)
t.same(res, want, "distinct: every element once")
t.ok(sp > 0, string.format("distinct: %d reduce tasks spilled %.1f MiB", nt, sp / 1048576))

-- keys that are tables (with strings) go through the run files too:
-- (x % 100000, "k" .. x % 7) is one to one for x below 700,000
local K2 = 200000
res, sp = reduce_spill(function()
  return sc:range(K2, 4):map(function(x) return {{x % 100000, "k" .. x % 7}, 1} end)
    :reduce_by_key(function(a, b) return a + b end, 1)
    :map(function(kv) return {1, kv[2], kv[1][1]} end):reduce(add3)
end)
t.same(res, {K2, K2, 2 * (100000 * 99999 // 2)},
       string.format("reduce_by_key with table keys: exact (spilled %.1f MiB)", sp / 1048576))

t.is(leftover_spill_files(), 0, "no spill file is left behind")

-- a task that fails after spilling removes its run files and gives its
-- memory back: the next job still runs and still fits
local ok, err = pcall(function()
  return src:reduce_by_key(function(a, b)
    if a + b == 2999998 then error("boom") end -- key 999999, late in its task
    return a + b
  end, R):count()
end)
t.ok(not ok and tostring(err):find("boom", 1, true), "a failing reduce function fails the job")
t.is(leftover_spill_files(), 0, "the failed tasks left no spill file")
t.is(sc:range(K, 4):map(function(x) return x % (K // 2) end):distinct(R):count(), K // 2,
     "the executors still work")

local peak = 0
for _, ev in ipairs(events()) do
  local p = ev["Executor Metrics"] and ev["Executor Metrics"].PeakRSS
  if p and p > peak then peak = p end
end
if os.getenv("EMBER_SANITIZED") then
  t.skip(string.format("peak RSS %.1f MiB is not meaningful under sanitizers", peak / 1048576))
else
  t.ok(peak > 0 and peak <= (MEM + 32) * 1048576,
       string.format("executor peak RSS %.1f MiB <= executor.memory %d MiB + 32 MiB overhead",
                     peak / 1048576, MEM))
end

sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
t.done()
