-- persist/cache: storage levels, lazy caching without recomputation, LRU
-- eviction under a small executor.memory, PROCESS_LOCAL placement, and an
-- executor lost with its blocks.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
local evdir = tmp .. "/events"
-- one executor with 40 MiB: 24 MiB of storage (memory.fraction 0.6)
local sc = ember.session{master = "local-cluster[1,2,40]", conf = {
  ["eventLog.enabled"] = true, ["eventLog.dir"] = evdir,
  ["network.timeout"] = "5s", ["executor.heartbeatInterval"] = "500ms"}}

local function events() return t.events(evdir, sc.app_id) end

local function info(ds)
  for _, r in ipairs(sc:storage_info()) do
    if r.id == ds.node.id then return r end
  end
  return {cached_partitions = 0, memory = 0, disk = 0}
end

-- caching is lazy and the second action does not recompute
local computed = sc:accumulator(0)
local ds = sc:range(1000, 4):map(function(x) computed:add(1); return x * 2 end):cache()
t.is(ds:storage_level(), "MEMORY_ONLY", "cache() = MEMORY_ONLY")
t.is(computed.value, 0, "caching is lazy")
t.is(ds:count(), 1000, "first action")
t.is(computed.value, 1000, "computed once")
t.is(ds:reduce(function(a, b) return a + b end), 999000, "second action reads the cache")
t.is(computed.value, 1000, "nothing was recomputed")
local r = info(ds)
t.ok(r.cached_partitions == 4 and r.memory > 0 and r.disk == 0,
     "storage_info: 4 partitions in memory")

-- PROCESS_LOCAL: tasks on cached partitions run where the block is
local before = #events()
ds:count()
local pl, tasks = 0, 0
local evs = events()
for i = before + 1, #evs do
  local ev = evs[i]
  if ev.Event == "SparkListenerTaskStart" then
    tasks = tasks + 1
    if ev["Task Info"].Locality == "PROCESS_LOCAL" then pl = pl + 1 end
  end
end
t.ok(tasks == 4 and pl == 4, "tasks reading cached partitions run PROCESS_LOCAL (" .. pl .. "/" .. tasks .. ")")

ds:unpersist()
t.is(ds:count(), 1000, "after unpersist")
t.is(computed.value, 2000, "unpersist makes the next action recompute")

-- every storage level keeps the answer; memory vs disk as the level says
local words = {}
for i = 1, 2000 do words[i] = "word" .. (i % 50) end
for _, level in ipairs({"MEMORY_ONLY", "MEMORY_AND_DISK", "MEMORY_ONLY_SER",
                        "MEMORY_AND_DISK_SER", "DISK_ONLY"}) do
  local d = sc:parallelize(words, 2):persist(level)
  local n1, n2 = d:count(), d:count()
  local ri = info(d)
  local where_ok
  if level == "DISK_ONLY" then where_ok = ri.memory == 0 and ri.disk > 0
  else where_ok = ri.memory > 0 and ri.disk == 0 end
  t.ok(n1 == 2000 and n2 == 2000 and ri.cached_partitions == 2 and where_ok,
       string.format("%s: answer kept, %d partitions, %d B memory, %d B disk",
                     level, ri.cached_partitions, ri.memory, ri.disk))
  words.last = ri
  d:unpersist()
end
t.raises(function() sc:range(3):persist("MEMORY") end, "MEMORY_AND_DISK",
         "an unknown level raises, listing the valid ones")

-- LRU eviction: 3 datasets of ~10 MiB on one executor with 24 MiB storage
local function noise(seed, n)
  local parts, x = {}, seed
  for i = 1, n // 8 do
    x = x * 6364136223846793005 + 1442695040888963407
    parts[i] = string.pack("<i8", x)
  end
  return table.concat(parts)
end
local function big(level, seed)
  -- one partition of 10 MiB of incompressible bytes
  return sc:parallelize({seed}, 1):map(function(s) return noise(s, 10 * 1024 * 1024) end):persist(level)
end
local a = big("MEMORY_AND_DISK", 1)
local b = big("MEMORY_ONLY", 2)
local c = big("MEMORY_ONLY", 3)
a:count(); b:count()
-- touch a so that b is the least recently used
a:count()
c:count()
local ia, ib, ic = info(a), info(b), info(c)
t.diag(string.format("a mem %d disk %d, b mem %d, c mem %d", ia.memory, ia.disk, ib.memory, ic.memory))
local total_mem = ia.memory + ib.memory + ic.memory
t.ok(total_mem <= 24 * 1024 * 1024, "memory use stays within the storage budget")
t.ok(ib.cached_partitions == 0, "the least recently used block (b, MEMORY_ONLY) was dropped")
t.ok(ia.memory > 0 and ic.memory > 0, "the recently used blocks stay in memory")
local d = big("MEMORY_ONLY", 4)
d:count()
ia = info(a)
t.ok(ia.memory == 0 and ia.disk > 0 and ia.cached_partitions == 1,
     "a MEMORY_AND_DISK block evicted from memory moves to disk")
t.is(#a:collect()[1], 10 * 1024 * 1024, "an evicted or spilled block still gives the right answer")
a:unpersist(); b:unpersist(); c:unpersist(); d:unpersist()

-- an executor that dies with its cached blocks: results stay right
local lost = sc:range(400, 4):map(function(x) return x + 1 end):cache()
t.is(lost:count(), 400, "cached")
local pid
for _, ev in ipairs(events()) do
  if ev.Event == "SparkListenerExecutorAdded" then pid = ev["Executor Info"]["Process ID"] end
end
os.execute("kill -9 " .. pid)
-- wait until the driver notices (the cluster manager reports the exit)
local deadline = os.time() + 10
repeat
  local gone = false
  for _, ev in ipairs(events()) do
    if ev.Event == "SparkListenerExecutorRemoved" then gone = true end
  end
until gone or os.time() > deadline
t.is(lost:reduce(function(x, y) return x + y end), 80200, "blocks lost with an executor are recomputed from lineage")
local rl = info(lost)
t.ok(rl.cached_partitions <= 4, "the master forgot the lost blocks (" .. rl.cached_partitions .. " known)")

-- broadcast variables: fetched at most once per executor (one executor
-- with two task threads here), unpersist drops the copies, destroy forbids
local lookup = {}
for i = 1, 5000 do lookup[i] = "v" .. i end
local bv = sc:broadcast(lookup)
local got = sc:range(1, 41, 1, 20):map(function(x) return bv.value[x * 100] end):collect()
t.is(got[40], "v4000", "tasks read b.value")
t.is(bv:fetch_count(), 1, "20 tasks on one executor fetched the value once")
sc:range(1, 11, 1, 10):foreach(function(x) assert(bv.value[x] == "v" .. x) end)
t.is(bv:fetch_count(), 1, "a later job does not fetch it again")
bv:unpersist()
sc:range(1, 5, 1, 4):foreach(function(x) assert(bv.value[x] == "v" .. x) end)
t.is(bv:fetch_count(), 2, "after unpersist the executor fetches it again")
bv:destroy()
t.raises(function() return bv.value end, "destroyed", "b.value after destroy raises")
local okd, errd = pcall(function()
  return sc:range(1, 3, 1, 2):map(function(x) return bv.value[x] end):collect()
end)
t.ok(not okd and tostring(errd):find("broadcast " .. bv.id .. " was destroyed", 1, true),
     "a task using a destroyed broadcast fails with that reason")

-- checkpoints: the next action writes the partitions and truncates the
-- lineage; after that, losing every executor does not recompute from input
t.raises(function() sc:range(3):checkpoint() end, "set_checkpoint_dir",
         "checkpoint without a directory raises")
sc:set_checkpoint_dir(tmp .. "/ckpt")
local ccount = sc:accumulator(0)
local cds = sc:range(200, 4):map(function(x) ccount:add(1); return {x % 7, x} end)
              :reduce_by_key(function(x, y) return x + y end, 3)
cds:checkpoint()
local before_lineage = cds:to_debug_string()
t.ok(before_lineage:find("range") ~= nil, "lineage before: back to the range source")
local first = t.sorted(cds:collect())
t.ok(cds:is_checkpointed(), "the action wrote the checkpoint")
local after_lineage = cds:to_debug_string()
t.ok(after_lineage:find("checkpoint") and not after_lineage:find("range"),
     "lineage after: the checkpoint only")
t.diag("before:\n" .. before_lineage .. "\nafter:\n" .. after_lineage)
t.is(ccount.value, 200, "input computed once (for the checkpoint)")
local pid2
for _, ev in ipairs(events()) do
  if ev.Event == "SparkListenerExecutorAdded" then pid2 = ev["Executor Info"]["Process ID"] end
end
os.execute("kill -9 " .. pid2)
t.same(t.sorted(cds:collect()), first, "after losing every executor the answer is the same")
t.is(ccount.value, 200, "and nothing was recomputed from the original input")

sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
t.done()
