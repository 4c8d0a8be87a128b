-- DataFrames on the storage layer: cache() keeps partitions as batches
-- (lazily, read back without recomputing: the input file is deleted after
-- the first action), persist levels, unpersist, df:rdd(), and a cached
-- DataFrame surviving the loss of... nothing: lineage recomputes it.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
local csv = tmp .. "/nums.csv"
local f = assert(io.open(csv, "w"))
f:write("n,sq,name\n")
for i = 1, 5000 do f:write(i, ",", i * i, ",w", i % 37, "\n") end
f:close()

local sc = ember.session{app = "df-storage", master = "local-cluster[2,1,256]"}
local ok, err = pcall(function()
  t.plan(14)
  local df = sc.read:csv(csv, {header = true, infer_schema = true})
  local big = df:filter("n % 2 = 0"):with_column("cube", ember.col("n"):cast("bigint") * ember.col("sq"))
  t.is(big:storage_level(), "NONE", "not persisted yet")
  big:cache()
  t.is(big:storage_level(), "MEMORY_AND_DISK", "cache() is MEMORY_AND_DISK, as Spark's DataFrames")
  local info = sc:storage_info()
  t.is(#info, 1, "one persisted dataset")
  t.is(info[1].cached_partitions, 0, "caching is lazy: nothing stored before an action")
  t.is(big:count(), 2500, "first action computes and stores")
  info = sc:storage_info()
  t.is(info[1].cached_partitions, info[1].partitions, "every partition is cached")
  t.ok(info[1].memory + info[1].disk > 0, "with their sizes (" .. (info[1].memory + info[1].disk) .. " bytes)")
  -- the input is gone: only the cache can answer now
  os.remove(csv)
  t.is(big:count(), 2500, "a second action reads the cache (the input file is deleted)")
  local top = big:order_by(ember.desc("n")):limit(2):collect()
  t.same({top[1].n, top[1].cube, top[2].n}, {5000, 5000 * 5000 * 5000, 4998},
         "DataFrames built on a cached one read it")
  local byname = big:group_by("name"):count():order_by("name"):take(1)
  t.same({byname[1].name, byname[1].count}, {"w0", 5000 // 74}, "aggregation over the cache")
  -- df:rdd(): rows as tables for the RDD API
  local s = big:rdd():map(function(r) return r.n end):reduce(function(a, b) return a + b end)
  t.is(s, 2500 * 2501, "df:rdd() yields row tables (sum of even n)")
  big:unpersist()
  t.is(big:storage_level(), "NONE", "unpersist")
  t.is(#sc:storage_info(), 0, "the master forgot it")
  t.raises(function() big:count() end, "nums.csv", "without the cache the (deleted) input is needed again")
end)
sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
if not ok then error(err, 0) end
t.done()
