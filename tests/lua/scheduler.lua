-- Scheduler behaviour seen from a job: accumulators counted exactly once,
-- the two result paths, driver.maxResultSize with bounded driver memory,
-- locality levels and stage reuse in the event log.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
local evdir = tmp .. "/events"

local sc = ember.session{master = "local-cluster[2,1,256]", conf = {
  ["eventLog.enabled"] = true, ["eventLog.dir"] = evdir,
  ["driver.maxResultSize"] = "48m", ["executor.heartbeatInterval"] = "200ms",
  ["scheduler.minRegisteredResourcesRatio"] = 1.0,
  ["task.binaryBroadcastThreshold"] = "64k"}}

local function events() return t.events(evdir, sc.app_id) end

-- how many events are `name` and satisfy pred(ev) (if given)
local function count(name, pred)
  return t.count(events(), function(ev)
    return ev.Event == name and (not pred or pred(ev))
  end)
end

-- registration: with minRegisteredResourcesRatio 1.0 no task starts before
-- both executors registered
sc:range(2, 2):count()
do
  local added, early = 0, false
  for _, ev in ipairs(events()) do
    if ev.Event == "SparkListenerExecutorAdded" then added = added + 1 end
    if ev.Event == "SparkListenerTaskStart" and added < 2 then early = true end
  end
  t.ok(added == 2 and not early,
       "scheduler.minRegisteredResourcesRatio=1: tasks wait for every executor")
end

-- heartbeats carry the progress of running tasks, with accumulator partials
local progress = sc:accumulator(0)
sc:range(2, 2):foreach(function()
  local stop = os.clock() + 0.8
  while os.clock() < stop do progress:add(1) end
end)
local function running_tasks(ev)
  local n = 0
  for _, task in ipairs(ev["Metrics Updated"]) do
    if math.type(task["Task ID"]) == "integer" then n = n + 1 end
  end
  return n > 0
end
t.ok(count("SparkListenerExecutorMetricsUpdate", running_tasks) >= 1,
     "heartbeats report running tasks (event log: ExecutorMetricsUpdate)")
t.ok(count("SparkListenerExecutorMetricsUpdate", function(ev)
       return ev["Executor Metrics"].ProcessTreeRSS >= 1
     end) >= 1, "and the executor's memory")
-- a running task whose first accumulator update is progress's, at >= 1
local function partial(ev)
  for _, task in ipairs(ev["Metrics Updated"]) do
    local up = task["Accumulator Updates"] and task["Accumulator Updates"][1]
    if up and up.ID == progress.id and type(up.Value) == "number" and up.Value >= 1 then
      return true
    end
  end
  return false
end
t.ok(count("SparkListenerExecutorMetricsUpdate", partial) >= 1,
     "and partial accumulator values")

-- accumulators ---------------------------------------------------------
local acc = sc:accumulator(0)
sc:range(1000, 4):foreach(function(x) acc:add(x) end)
t.is(acc.value, 499500, "numeric accumulator sums on executors")

local longest = sc:accumulator("", function(a, b) return #b > #a and b or a end)
sc:parallelize({"a", "ccc", "bb"}, 3):foreach(function(s) longest:add(s) end)
t.is(longest.value, "ccc", "accumulator with a merge function")

-- a task that fails once after adding: its update must not count
local marker = tmp .. "/failed-once"
local once = sc:accumulator(0)
sc:range(10, 2):foreach(function(x)
  once:add(1)
  if x == 7 then
    local f = io.open(marker)
    if not f then
      f = io.open(marker, "w"); f:write("x"); f:close()
      error("fail the first attempt")
    end
    f:close()
  end
end)
t.is(once.value, 10, "updates of a failed attempt are dropped (exactly once)")

-- inside a transformation whose shuffle output is reused, nothing is
-- counted twice
local inmap = sc:accumulator(0)
local red = sc:range(100, 4):map(function(x) inmap:add(1); return {x % 3, x} end)
              :reduce_by_key(function(a, b) return a + b end)
red:collect()
red:collect()
t.is(inmap.value, 100, "a skipped map stage does not count again")
t.ok(count("SparkListenerJobStart", function(ev)
       for _, st in ipairs(ev["Stage Infos"]) do if st.Skipped == true then return true end end
       return false
     end) >= 1, "the event log says the map stage was skipped")

-- two result paths -----------------------------------------------------
-- incompressible bytes (results are LZ4 blocks; compressed size decides)
local function noise(seed, n)
  local parts, x = {}, seed
  for i = 1, n // 8 do
    x = (x * 6364136223846793005 + 1442695040888963407)
    parts[i] = string.pack("<i8", x)
  end
  return table.concat(parts)
end
local big = sc:range(2, 2):map(function(x) return noise(x + 1, 3 * 1024 * 1024) end):collect()
t.ok(#big == 2 and big[1] == noise(1, 3 * 1024 * 1024) and big[2] == noise(2, 3 * 1024 * 1024),
     "a 3 MiB result per task arrives intact")
local function result_path(path)
  return count("SparkListenerTaskEnd", function(ev)
    return ev["Task Metrics"] ~= nil and ev["Task Metrics"]["Result Path"] == path
  end)
end
t.ok(result_path("indirect") >= 2, "results above task.maxDirectResultSize take the block path")
t.ok(result_path("direct") >= 1, "small results travel inline")

-- driver.maxResultSize: the job fails cleanly, the driver stays small ---
local function vmhwm()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) * 1024 end
  end
end
local before = vmhwm()
local ok, err = pcall(function()
  return sc:range(40, 40):map(function(x) return string.rep("x", 4 * 1024 * 1024) end):collect()
end)
t.ok(not ok, "collect of 160 MiB with driver.maxResultSize=48m fails")
t.ok(tostring(err):find("driver.maxResultSize", 1, true) and tostring(err):find("save_as_text_file", 1, true),
     "the error names the limit and suggests writing to storage")
local grew = vmhwm() - before
t.ok(grew < 48 * 1024 * 1024, string.format("the driver's peak RSS grew by %.1f MiB (< 48 MiB limit)", grew / 1048576))
t.diag(err)

-- a large stage binary travels as a broadcast ----------------------------
local rows = {}
for i = 1, 50000 do rows[i] = "row-" .. i end
local n = sc:parallelize(rows, 4):filter(function(s) return s:sub(-1) == "7" end):count()
t.is(n, 5000, "a 1 MB parallelize (stage binary over the 64k threshold) runs right")
t.ok(t.count(events(), function(ev)
       return ev["Stage Info"] ~= nil and ev["Stage Info"]["Binary Broadcast"] == true
     end) >= 1, "its stage binary went out as a broadcast")

-- locality ---------------------------------------------------------------
local path = tmp .. "/in.txt"
local f = io.open(path, "w")
for i = 1, 2000 do f:write("line ", i, "\n") end
f:close()
local words = sc:text_file(path, {min_partitions = 4}):map(function(l) return {#l % 4, 1} end)
                :reduce_by_key(function(a, b) return a + b end, 4):collect()
t.is(#words, 4, "text_file + reduce_by_key runs")
-- task events (start and end) at a locality level
local function at_level(level)
  return t.count(events(), function(ev)
    return ev["Task Info"] ~= nil and ev["Task Info"].Locality == level
  end)
end
t.ok(at_level("NODE_LOCAL") >= 4, "text splits on this host run NODE_LOCAL")
t.ok(at_level("PROCESS_LOCAL") >= 1, "reduce tasks run where their input is (PROCESS_LOCAL)")

sc:stop()
local final = io.open(evdir .. "/" .. sc.app_id)
t.ok(final ~= nil, "the event log is renamed from .inprogress when the application ends")
if final then final:close() end
os.execute("rm -rf '" .. tmp .. "'")
t.done()
