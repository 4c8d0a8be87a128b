-- Every RDD API function against values computed independently here.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local sc = ember.session{app = "rdd_api", master = "local[2]"}

local data = {}
for i = 1, 1000 do data[i] = i end
local ds = sc:parallelize(data, 4)
t.is(ds:num_partitions(), 4, "parallelize: num_slices")
t.is(ds:count(), 1000, "count")
t.same(ds:collect(), data, "collect keeps order across partitions")

local sq = {}
for i = 1, 1000 do sq[i] = i * i end
t.same(ds:map(function(x) return x * x end):collect(), sq, "map")

local k = 990
local big = {}
for i = 991, 1000 do big[#big + 1] = i end
t.same(ds:filter(function(x) return x > k end):collect(), big, "filter with an upvalue")

local lines = {"a b c", "b c", "c"}
t.same(t.sorted(sc:parallelize(lines, 2):flat_map(function(l) return l:gmatch("%S+") end):collect()),
       {"a", "b", "b", "c", "c", "c"}, "flat_map with an iterator")
t.same(sc:parallelize({1, 2}, 1):flat_map(function(x) return {x, x} end):collect(),
       {1, 1, 2, 2}, "flat_map with an array")

local sums = ds:map_partitions(function(it)
  local s = 0
  for x in it do s = s + x end
  return {s}
end):collect()
local total = 0
for _, s in ipairs(sums) do total = total + s end
t.is(#sums, 4, "map_partitions: one result per partition")
t.is(total, 500500, "map_partitions: sums add up")

t.same(sc:parallelize({"aa", "b"}, 1):key_by(function(s) return #s end):collect(),
       {{2, "aa"}, {1, "b"}}, "key_by")
t.same(sc:parallelize({{1, 2}, {3, 4}}, 1):map_values(function(v) return v * 10 end):collect(),
       {{1, 20}, {3, 40}}, "map_values")

local expect = {}
for i = 1, 1000 do expect[i % 7] = (expect[i % 7] or 0) + i end
local got = {}
for _, p in ipairs(ds:map(function(x) return {x % 7, x} end)
                     :reduce_by_key(function(a, b) return a + b end, 3):collect()) do
  got[p[1]] = p[2]
end
t.same(got, expect, "reduce_by_key")

local groups = {}
for _, p in ipairs(ds:map(function(x) return {x % 3, x} end):group_by_key(2):collect()) do
  table.sort(p[2])
  groups[p[1]] = #p[2]
end
t.same(groups, {[0] = 333, [1] = 334, [2] = 333}, "group_by_key")

local tk = {}
for _, p in ipairs(sc:parallelize({{{1, "a"}, 1}, {{1, "a"}, 2}, {{2, "b"}, 5}}, 2)
                     :reduce_by_key(function(a, b) return a + b end):collect()) do
  tk[p[1][1] .. p[1][2]] = p[2]
end
t.same(tk, {["1a"] = 3, ["2b"] = 5}, "reduce_by_key groups table keys by value")

t.same(t.sorted(sc:parallelize({3, 1, 3, 2, 1, 3}, 3):distinct():collect()), {1, 2, 3}, "distinct")
t.is(sc:parallelize({1, 1.0, 2}, 2):distinct():count(), 2, "distinct: 1 and 1.0 are equal")

local u = sc:parallelize({1, 2}, 1):union(sc:parallelize({3}, 2))
t.is(u:num_partitions(), 3, "union: partitions add up")
t.same(t.sorted(u:collect()), {1, 2, 3}, "union")

local r = ds:repartition(7)
t.is(r:num_partitions(), 7, "repartition: partitions")
t.same(t.sorted(r:collect()), data, "repartition keeps every element")

t.same(sc:range(5):collect(), {0, 1, 2, 3, 4}, "range(n)")
t.same(sc:range(10, 0, -3, 2):collect(), {10, 7, 4, 1}, "range(start, stop, step)")
t.same(ds:take(3), {1, 2, 3}, "take")
t.same(ds:take(0), {}, "take(0)")
t.is(#sc:range(50, 10):take(1000), 50, "take more than there is")
t.is(ds:first(), 1, "first")
t.is(ds:reduce(function(a, b) return a + b end), 500500, "reduce")
t.raises(function() sc:parallelize({}, 2):reduce(function(a, b) return a + b end) end,
         "empty", "reduce of an empty dataset raises")

local cbk = sc:parallelize({{"a", 1}, {"b", 2}, {"a", 3}}, 2):count_by_key()
t.same(cbk, {a = 2, b = 1}, "count_by_key")

ds:foreach(function(x) assert(x > 0) end)
t.ok(true, "foreach runs")

local dir = os.tmpname()
os.remove(dir)
sc:parallelize({"x", "y", "z"}, 2):save_as_text_file(dir)
local lines_out = {}
for p = 0, 1 do
  local f = assert(io.open(string.format("%s/part-%05d", dir, p)))
  for l in f:lines() do lines_out[#lines_out + 1] = l end
  f:close()
end
t.same(lines_out, {"x", "y", "z"}, "save_as_text_file writes part files")
t.ok(io.open(dir .. "/_SUCCESS") ~= nil, "save_as_text_file writes _SUCCESS")
t.raises(function() sc:parallelize({1}):save_as_text_file(dir) end, "already exists",
         "saving into an existing directory raises")
os.execute("rm -rf '" .. dir .. "'")

-- text_file, split by byte range on line boundaries
local path = os.tmpname()
local f = assert(io.open(path, "w"))
local want = {}
for i = 1, 5000 do
  want[i] = "line " .. i .. string.rep("x", i % 13)
  f:write(want[i], "\n")
end
f:close()
local tf = sc:text_file(path, {min_partitions = 7})
t.ok(tf:num_partitions() >= 7, "text_file: min_partitions")
t.same(tf:collect(), want, "text_file: every line once, in order")
os.remove(path)
t.raises(function() sc:text_file("/nonexistent/input/*.txt") end, "does not exist",
         "missing input fails before any task runs")

-- closures: upvalues, nested tables, other functions; what cannot ship
local cfg = {mult = 3, names = {"a", "b"}}
local function helper(x) return x * cfg.mult end
t.same(sc:parallelize({1, 2}, 1):map(function(x) return helper(x) + #cfg.names end):collect(),
       {5, 8}, "closures capture tables and functions")
t.same(sc:parallelize({1.5}, 1):map(function(x) return math.floor(x) .. string.format("%s", "!") end):collect(),
       {"1!"}, "_ENV is rebound: string and math work on executors")
local fh = io.stdout
t.raises(function() ds:map(function(x) return fh end) end, "fh",
         "an upvalue that cannot ship raises, naming the variable")
local co = coroutine.create(function() end)
t.raises(function() ds:map(function(x) return co end) end, "coroutine",
         "a coroutine upvalue raises")
t.raises(function() ds:map(42) end, "expects a function", "misuse raises with a clear message")

-- a failing task fails the job with the user's message and location
local ok, err = pcall(function()
  ds:map(function(x) if x == 500 then error("bad element " .. x) end return x end):count()
end)
t.ok(not ok, "a failing task fails the job")
t.ok(tostring(err):find("bad element 500", 1, true) ~= nil, "the user's message reaches the driver")
t.ok(tostring(err):find("rdd_api.lua:%d+") ~= nil, "with the user's file:line")
t.ok(tostring(err):find("stage %d+") and tostring(err):find("executor") and
     tostring(err):find("TID", 1, true), "naming stage, task and executor")
t.diag(err)

sc:stop()
t.raises(function() sc:count() end, nil, "a stopped session raises")
t.done()
