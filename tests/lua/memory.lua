-- Unified memory: shuffle write buffers come from execution memory and
-- spill to disk when refused; a job whose shuffle data is three times the
-- executors' memory completes exactly, within executor.memory plus the
-- documented fixed overhead (docs/configuration.md: 32 MiB).
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
local evdir = tmp .. "/events"
local MEM = 32 -- MiB per executor
local sc = ember.session{master = "local-cluster[2,1," .. MEM .. "]", conf = {
  ["eventLog.enabled"] = true, ["eventLog.dir"] = evdir,
  ["executor.heartbeatInterval"] = "100ms"}}

local function events() return t.events(evdir, sc.app_id) end

-- 2,000,000 records of 100 bytes: ~200 MiB of shuffle data, three times
-- the 2 x 32 MiB of the executors
local N = 2000000
local pad = string.rep("x", 90)
local sum = sc:range(N, 4):map(function(x) return string.format("%010d", x) .. pad end)
  :repartition(8)
  :map(function(r) return tonumber(r:sub(1, 10)) end)
  :reduce(function(a, b) return a + b end)
t.is(sum, N * (N - 1) // 2, "200 MiB through a shuffle on 2 x 32 MiB executors: exact answer")

local spilled, peak = 0, 0
for _, ev in ipairs(events()) do
  local s = ev["Task Metrics"] and ev["Task Metrics"]["Memory Bytes Spilled"]
  if s then spilled = spilled + s end
  local p = ev["Executor Metrics"] and ev["Executor Metrics"].PeakRSS
  if p and p > peak then peak = p end
end
t.ok(spilled > 0, string.format("map tasks spilled %.1f MiB to disk", spilled / 1048576))
if os.getenv("EMBER_SANITIZED") then
  -- AddressSanitizer's shadow memory and quarantine dwarf the heap
  t.skip(string.format("peak RSS %.1f MiB is not meaningful under sanitizers", peak / 1048576))
else
  t.ok(peak > 0 and peak <= (MEM + 32) * 1048576,
       string.format("executor peak RSS %.1f MiB <= executor.memory %d MiB + 32 MiB overhead",
                     peak / 1048576, MEM))
end

-- spilling keeps aggregations exact: many distinct keys, map-side combine
local K = 200000
local pairs_ = sc:range(2 * K, 4):map(function(x) return {x % K, 1} end)
local counts = pairs_:reduce_by_key(function(a, b) return a + b end, 4)
local distinct, total = 0, 0
for _, kv in ipairs(counts:collect()) do
  distinct = distinct + 1
  total = total + kv[2]
end
t.ok(distinct == K and total == 2 * K, "reduce_by_key with spilled map output: " .. distinct .. " keys, " .. total .. " values")
local groups = sc:range(K, 4):map(function(x) return {x % 1000, x} end):group_by_key(4)
  :map(function(kv) return #kv[2] end):collect()
local gsum = 0
for _, n in ipairs(groups) do gsum = gsum + n end
t.ok(#groups == 1000 and gsum == K, "group_by_key under memory pressure keeps every value")

sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
t.done()
