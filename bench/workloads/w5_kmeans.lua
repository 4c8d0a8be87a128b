-- W5 (RDD, iterative): k-means, cached versus uncached.
--
--   ember submit w5_kmeans.lua POINTS_CSV cached|uncached [K [ITERS [PARTITIONS]]]
--
-- The points (bench/gen points: header "x,y", then "x,y" lines) are parsed
-- into {x, y} pairs; with "cached" that dataset is ds:cache()d, so the first
-- pass stores its partitions on the executors and later passes read them;
-- with "uncached" every pass reads and parses the file again.  The initial
-- centroids are the first K points (take).  Each of ITERS iterations (10)
-- is one job: every partition assigns its points to the nearest centroid
-- (squared distance dx*dx + dy*dy, the lowest index on ties) and returns K
-- partial sums {sx, sy, n}; the driver adds them in partition order and
-- moves each centroid to its cluster's mean (a centroid with no points
-- stays).  Prints the final centroids sorted by (x, y):
--   R X Y N     X, Y with %.3f, N the points assigned in the last iteration
local ember = require("ember")
local usage = "usage: w5_kmeans.lua POINTS_CSV cached|uncached [K [ITERS [PARTITIONS]]]"
local input = arg[1] or error(usage)
local mode = arg[2] or error(usage)
assert(mode == "cached" or mode == "uncached", usage)
local K = tonumber(arg[3] or 5)
local iters = tonumber(arg[4] or 10)
local parts = tonumber(arg[5] or 2)
local sc = ember.session{app = "bench-w5-kmeans-" .. mode}

local points = sc:text_file(input, {min_partitions = parts})
  :filter(function(l) return l ~= "x,y" end)
  :map(function(l)
    local x, y = l:match("^([^,]+),(.+)$")
    return {tonumber(x), tonumber(y)}
  end)
if mode == "cached" then points:cache() end

local cents = points:take(K)
local n = {}
for _ = 1, iters do
  local c = cents -- shipped to the tasks as an upvalue
  local partial = points:map_partitions(function(it)
    local k = #c
    local cx, cy, sx, sy, cnt = {}, {}, {}, {}, {}
    for j = 1, k do cx[j], cy[j], sx[j], sy[j], cnt[j] = c[j][1], c[j][2], 0.0, 0.0, 0 end
    for p in it do
      local x, y = p[1], p[2]
      local best, bd = 1, math.huge
      for j = 1, k do
        local dx, dy = x - cx[j], y - cy[j]
        local d = dx * dx + dy * dy
        if d < bd then best, bd = j, d end
      end
      sx[best] = sx[best] + x
      sy[best] = sy[best] + y
      cnt[best] = cnt[best] + 1
    end
    local out = {}
    for j = 1, k do out[j] = {j, sx[j], sy[j], cnt[j]} end
    return out
  end):collect()
  local sx, sy = {}, {}
  for j = 1, K do sx[j], sy[j], n[j] = 0.0, 0.0, 0 end
  for _, r in ipairs(partial) do
    local j = r[1]
    sx[j], sy[j], n[j] = sx[j] + r[2], sy[j] + r[3], n[j] + r[4]
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
