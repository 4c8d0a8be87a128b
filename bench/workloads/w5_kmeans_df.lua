-- W5 (DataFrame, iterative): k-means, cached versus uncached, with
-- vectorized operators instead of a Lua function per point.
--
--   ember submit w5_kmeans_df.lua POINTS_CSV cached|uncached [K [ITERS [PARTITIONS]]]
--
-- The same computation as w5_kmeans.lua: the points CSV read with the
-- schema "x double, y double" (cached: df:cache(), so the first pass keeps
-- the columnar batches on the executors); the first K points are the
-- initial centroids; each of ITERS iterations is one job that computes the
-- K squared distances as columns, assigns each point to the nearest
-- centroid (the lowest index on ties: a CASE chain, see below), and sums x,
-- y and the count per cluster with group_by/agg; the driver moves each
-- centroid to its cluster's mean (a centroid with no points stays).
-- Prints the final centroids sorted by (x, y):
--   R X Y N     X, Y with %.3f, N the points assigned in the last iteration
local ember = require("ember")
local col = ember.col
local usage = "usage: w5_kmeans_df.lua POINTS_CSV cached|uncached [K [ITERS [PARTITIONS]]]"
local input = arg[1] or error(usage)
local mode = arg[2] or error(usage)
assert(mode == "cached" or mode == "uncached", usage)
local K = tonumber(arg[3] or 5)
local iters = tonumber(arg[4] or 10)
local parts = tonumber(arg[5] or 2)
local sc = ember.session{app = "bench-w5-kmeans-df-" .. mode}

local f = assert(io.open(input, "rb"))
local size = f:seek("end")
f:close()
local points = sc.read:option("max_partition_bytes", math.max(1, (size + parts - 1) // parts))
  :csv(input, {header = true, schema = "x double, y double"})
if mode == "cached" then points:cache() end

local cents = {}
for j, r in ipairs(points:take(K)) do cents[j] = {r.x, r.y} end

-- d1..dK, then c = the first j with d_j <= d_i for every i > j: earlier
-- WHENs having failed, d_j is then also below every d_i with i < j
local function assign(c)
  local cols = {"x", "y"}
  for j = 1, K do
    local dx, dy = col("x") - c[j][1], col("y") - c[j][2]
    cols[#cols + 1] = (dx * dx + dy * dy):alias("d" .. j)
  end
  local case = ember.lit(K)
  for j = K - 1, 1, -1 do
    local cond
    for i = j + 1, K do
      local le = col("d" .. j):le(col("d" .. i))
      cond = cond and cond:and_(le) or le
    end
    case = ember.when(cond, j):otherwise(case)
  end
  return points:select(cols):select("x", "y", case:alias("c"))
end

local n = {}
for _ = 1, iters do
  local rows = assign(cents):group_by("c")
    :agg{sx = ember.sum("x"), sy = ember.sum("y"), cnt = ember.count("*")}
    :collect()
  local sx, sy = {}, {}
  for j = 1, K do sx[j], sy[j], n[j] = 0.0, 0.0, 0 end
  for _, r in ipairs(rows) do
    sx[r.c], sy[r.c], n[r.c] = r.sx, r.sy, r.cnt
  end
  local nxt = {}
  for j = 1, K do
    nxt[j] = n[j] > 0 and {sx[j] / n[j], sy[j] / n[j]} or cents[j]
  end
  cents = nxt
end

local out = {}
for j = 1, K do
  out[j] = {string.format("%.3f", cents[j][1]), string.format("%.3f", cents[j][2]), n[j],
            cents[j][1], cents[j][2]}
end
table.sort(out, function(a, b)
  if a[4] ~= b[4] then return a[4] < b[4] end
  return a[5] < b[5]
end)
for _, r in ipairs(out) do print(string.format("R %s %s %d", r[1], r[2], r[3])) end
sc:stop()
